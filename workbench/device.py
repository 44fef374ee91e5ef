"""Where models run: device names resolved to a ``torch.device``, the CPU's features read at run
time, and the reduced precision a device runs a network in.

- :func:`resolve_device` turns ``"auto" | "cpu" | "cuda" | "mps"`` (or ``"cuda:1"``) into a
  ``torch.device``; ``auto`` picks CUDA, else Apple's MPS, else the CPU.
- :func:`cpu_features` says what this CPU does natively (bfloat16, float16, int8 dot products)
  from ``torch.backends.cpu.get_cpu_capability()``, ``/proc/cpuinfo`` flags (Linux) and
  ``sysctl hw.optional`` (macOS).
- :func:`resolve_precision` turns ``"auto" | "fp32" | "bf16" | "fp16"`` into the dtype a network
  runs under autocast on a device (``None`` for fp32). ``auto``: bf16 on a CPU with native bf16
  (AVX-512 BF16, AMX, or Arm BF16), else fp32; bf16 on a CUDA GPU that supports it, else fp16;
  fp16 on MPS.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.errors import ParameterError

if TYPE_CHECKING:
    import torch

DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# /proc/cpuinfo flags (x86 and Arm) and macOS sysctl keys that say a CPU computes in bf16 / fp16 natively
_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
_FP16_FLAGS = ("avx512_fp16", "amx_fp16", "fphp", "asimdhp")
_INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")
_FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", *_BF16_FLAGS, *_FP16_FLAGS, *_INT8_FLAGS)


@dataclass(frozen=True)
class CpuFeatures:
    """What the CPU does natively, read at run time.

    Attributes
    ----------
    capability : str
        torch's dispatch level for this CPU (``torch.backends.cpu.get_cpu_capability()``:
        ``"DEFAULT"``, ``"AVX2"``, ``"AVX512"``, ``"NEON"``, ``"SVE256"``, ...).
    flags : frozenset of str
        The flags of interest found (``avx2``, ``avx512f``, ``avx512_bf16``, ``amx_bf16``,
        ``avx512_fp16``, ``avx512_vnni``, Arm's ``bf16``, ``asimdhp``, ...); empty when the OS does
        not say.
    bf16 : bool
        Native bfloat16 arithmetic (AVX-512 BF16, AMX-BF16 or Arm BF16), so bf16 autocast is
        faster than fp32 rather than emulated.
    fp16 : bool
        Native float16 arithmetic (AVX-512 FP16, AMX-FP16, Arm FP16).
    int8 : bool
        Native int8 dot products (VNNI, AMX-INT8, Arm dot product).
    cores : int
        CPU cores this process may run on (``os.sched_getaffinity`` where it exists).
    source : str
        Where the flags came from (``"/proc/cpuinfo"``, ``"sysctl"`` or ``"none"``).
    """

    capability: str
    flags: frozenset[str]
    bf16: bool
    fp16: bool
    int8: bool
    cores: int
    source: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (flags sorted)."""
        return {"capability": self.capability, "flags": sorted(self.flags), "bf16": self.bf16, "fp16": self.fp16,
                "int8": self.int8, "cores": self.cores, "source": self.source}


def _read_flags() -> tuple[frozenset[str], str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):  # x86: flags; Arm: Features
                    return frozenset(value.split()) & frozenset(_FLAGS_OF_INTEREST), "/proc/cpuinfo"
    except OSError:
        pass
    if platform.system() == "Darwin":
        found = set()
        for key, flag in (("hw.optional.arm.FEAT_BF16", "bf16"), ("hw.optional.arm.FEAT_FP16", "fphp"),
                          ("hw.optional.arm.FEAT_DotProd", "asimddp"), ("hw.optional.arm.FEAT_I8MM", "i8mm")):
            try:
                out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=5)
            except (OSError, subprocess.SubprocessError):
                continue
            if out.returncode == 0 and out.stdout.strip() == "1":
                found.add(flag)
        return frozenset(found), "sysctl"
    return frozenset(), "none"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@functools.cache
def cpu_features() -> CpuFeatures:
    """The CPU's features, read once per process.

    Returns
    -------
    CpuFeatures
        See its attributes; ``bf16`` decides whether ``precision="auto"`` runs in bfloat16 on the CPU.
    """
    import torch

    flags, source = _read_flags()
    capability = str(torch.backends.cpu.get_cpu_capability())
    return CpuFeatures(capability=capability, flags=flags, bf16=bool(flags & set(_BF16_FLAGS)),
                       fp16=bool(flags & set(_FP16_FLAGS)), int8=bool(flags & set(_INT8_FLAGS)),
                       cores=_cores(), source=source)


def _mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> tuple[str, ...]:
    """Device names usable in this process, ``"auto"`` and ``"cpu"`` always among them.

    Returns
    -------
    tuple of str
        A subset of ``("auto", "cpu", "cuda", "mps")``, in that order.
    """
    import torch

    names = ["auto", "cpu"]
    if torch.cuda.is_available():
        names.append("cuda")
    if _mps_available():
        names.append("mps")
    return tuple(names)


def resolve_device(name: str = "auto") -> torch.device:
    """The ``torch.device`` a device name means here.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda", "mps"} or "cuda:<index>"
        ``"auto"``: CUDA if available, else MPS if available, else the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    ParameterError
        An unknown name, or a device that is not available in this process (the message names the
        value and the choices that are).
    """
    import torch

    available = available_devices()
    if not isinstance(name, str):
        raise ParameterError(f"device must be one of {', '.join(available)}; got {name!r}")
    base, _, index = name.strip().lower().partition(":")
    if base not in DEVICE_NAMES or (index and (base != "cuda" or not index.isdigit())):
        raise ParameterError(f"device must be one of {', '.join(DEVICE_NAMES)} (or cuda:<index>); got {name!r}")
    if base == "auto":
        base = "cuda" if "cuda" in available else "mps" if "mps" in available else "cpu"
    if base not in available:
        raise ParameterError(f"device {name!r} is not available here; available: {', '.join(available)}")
    if index and int(index) >= torch.cuda.device_count():
        raise ParameterError(f"device {name!r} is not available here: {torch.cuda.device_count()} CUDA device(s); "
                             f"available: {', '.join(available)}")
    return torch.device(f"{base}:{index}" if index else base)


def resolve_precision(precision: str = "auto", device: torch.device | str = "cpu") -> torch.dtype | None:
    """The dtype a network runs in under autocast on ``device``; ``None`` means fp32 (no autocast).

    Parameters
    ----------
    precision : {"auto", "fp32", "bf16", "fp16"}
        ``"auto"``: bf16 on a CPU with native bf16 (:func:`cpu_features`), else fp32; on CUDA bf16
        where the GPU supports it, else fp16; fp16 on MPS.
    device : torch.device or str
        A resolved device (see :func:`resolve_device`).

    Returns
    -------
    torch.dtype or None

    Raises
    ------
    ParameterError
        An unknown precision; fp16 on the CPU (use bf16 or fp32 there); bf16 on MPS.
    """
    import torch

    if precision not in PRECISIONS:
        raise ParameterError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    kind = torch.device(device).type
    if precision == "fp32":
        return None
    if precision == "auto":
        if kind == "cpu":
            return torch.bfloat16 if cpu_features().bf16 else None
        if kind == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float16
    if kind == "cpu" and precision == "fp16":
        raise ParameterError("precision 'fp16' runs on cuda or mps; on the cpu choose one of auto, fp32, bf16; "
                             "got 'fp16'")
    if kind == "mps" and precision == "bf16":
        raise ParameterError("precision 'bf16' is not supported on mps; choose one of auto, fp32, fp16; got 'bf16'")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def precision_name(dtype: torch.dtype | None) -> str:
    """``"fp32"``, ``"bf16"`` or ``"fp16"`` for a :func:`resolve_precision` result.

    Parameters
    ----------
    dtype : torch.dtype or None
        None means fp32.
    """
    import torch

    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, str(dtype))
