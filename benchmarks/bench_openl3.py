"""OpenL3 (mel128, music, 6144) throughput on this CPU in fp32 and bf16, against the machine's fp32
matmul rate and torchopenl3's network, all measured in the same run, on 1 and 2 threads; library
throughput as processes x threads; a GPU line; peak memory of a 10-minute track.

Run: ``.venv/bin/python benchmarks/bench_openl3.py [--batch 16] [--rounds 5] [--seconds 4] [--threads 1 2]
[--torchopenl3-python /work/venvs/torchopenl3/bin/python] [--skip-speed] [--skip-workers] [--workers-seconds 20]
[--skip-memory | --memory-only] [--memory-hops 0.5 0.1]``

- The CPU's features (``workbench.device.cpu_features``) head the output; "ours bf16" is the same
  model with its network under bf16 autocast (what ``precision="auto"`` picks on a CPU with native
  bf16), run as it runs by default: each convolution fused with its ReLU in one oneDNN call
  (``workbench.embed.openl3_fast``); "bf16 with eager conv + ReLU" is the same model with
  ``network.fused_cpu = False`` (the path before that), in the same rounds; parity is the
  lowest per-window cosine against ours in fp32 and against torchopenl3 (whole model, each with
  its own frontend; and the networks alone on the same spectrogram).
- Processes x threads: 1 process x 1 thread, 1 x N threads and N processes x 1 thread (N = CPUs)
  embed the same batches at the same time for ``--workers-seconds``; windows/s summed. This is
  what ``workbench embed`` chooses its workers by (``embed.distributed.default_workers``).
- GPU: seconds per 5-minute track at hop 0.1 s in fp32 and in the GPU's half precision, with
  parity, when CUDA or MPS is present; otherwise the line says "no GPU present: not measured".

The machines are shared and noisy, so every figure is measured in rounds that interleave our
network, torchopenl3's and a 2048 x 2048 fp32 matmul (the ceiling: the higher of the matmuls
timed at the start and end of each round); the table gives the median
and the [min, max] over rounds, and ratios are taken within each round. On one thread the table
also counts windows per CPU-second (``time.process_time`` of each side's process): on a loaded
machine wall time measures the share of a core each side got, CPU time the work it took.

- Work per window is counted from the layers: the 8 convolutions (10.20 GFLOP for mel128), plus
  the 2048-point DFT done as a convolution over 199 frames (1.67 GFLOP), as torchopenl3 does it:
  11.87 GFLOP, the issue's "about 11.9". That count is the work of the model, whatever does it;
  our frontend uses an FFT and does almost none of the DFT's share, so the table also gives the
  fraction counting the convolutions only.
- torchopenl3 (``torchopenl3.models.PytorchOpenl3``) runs in its own virtual environment (it
  cannot be installed beside torch 2.13's setuptools; see benchmarks/README.md), in a subprocess
  (``bench_torchopenl3.py``) fed the same windows through a .npy file and the same weights.
  Without that environment the table has our side only and says how to make it.
- Peak memory: ``embed()`` of a 10-minute 48 kHz track (seeded noise) at each ``--memory-hops``
  in a fresh process, ``ru_maxrss``; hop 0.1 s (6,000 windows) takes many CPU minutes.

Targets (issue 4): whole model >= 0.8 of the matmul rate and >= 1.1 x torchopenl3's network on
the same variant, audio, hop and batch; 10-minute track at hop 0.1 s under 2 GB peak memory.
Issue 17: at least 3 x torchopenl3 on this CPU in one run, at parity (cosine >= 0.9999 per window
against fp32); under 5 s per track on a GPU.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from workbench.embed import openl3
from workbench.embed.openl3 import OpenL3

HERE = Path(__file__).resolve().parent
REF = HERE.parents[1] / "shared" / "data" / "openl3-ref"
DEFAULT_VENV_PYTHON = Path("/work/venvs/torchopenl3/bin/python")
DFT_GFLOP = 199 * 2048 * 1025 * 2 * 2 / 1e9  # real + imaginary 2048-tap DFT as a convolution, per window


def conv_flops(model: OpenL3) -> float:
    """2 x multiply-accumulates of every convolution for one window (BN, ReLU and pooling are noise)."""
    flops = 0.0
    h, w = 128, 199
    for i, conv in enumerate(model.network.convs):
        flops += 2.0 * h * w * conv.in_channels * conv.out_channels * 9
        if i in (1, 3, 5):
            h, w = h // 2, w // 2
    return flops


def matmul_gflops(seconds: float) -> float:
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    a @ b
    n, t0 = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    return n * 2 * 2048**3 / (time.perf_counter() - t0) / 1e9


def windows_per_s(fn, x: torch.Tensor, seconds: float, min_batches: int = 2) -> tuple[float, float]:
    """Batches of ``x`` through ``fn`` for at least ``seconds`` and ``min_batches``; windows per second
    of wall time and per second of this process's CPU time."""
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    with torch.inference_mode():
        while n < min_batches or time.perf_counter() - t0 < seconds:
            fn(x)
            n += 1
    return n * x.shape[0] / (time.perf_counter() - t0), n * x.shape[0] / max(time.process_time() - c0, 1e-9)


def bench_windows(batch: int) -> tuple[np.ndarray, str]:
    """``batch`` 1-s windows at 48 kHz, hop 0.1 s: real music from the shared reference data, else noise."""
    ref = REF / "openl3ref_mel128_music_b_egypt30s.npz"
    if ref.is_file():
        y = np.load(ref)["audio_48k_mono"]
        w, _ = openl3.frame(y, sr=48000, hop_s=0.1)
        if w.shape[0] >= batch:
            return np.ascontiguousarray(w[:batch]), f"{ref.name} (audio_48k_mono), hop 0.1 s"
    y = (0.1 * np.random.default_rng(0).standard_normal(48000 * 4)).astype(np.float32)
    w, _ = openl3.frame(y, sr=48000, hop_s=0.1)
    return np.ascontiguousarray(w[:batch]), "seeded noise, hop 0.1 s"


def build_model(weights: str | None) -> tuple[OpenL3, dict[str, torch.Tensor], str]:
    """Our model (BN folded, as ``from_weights`` leaves it) and the same weights keyed as torchopenl3 keys them."""
    model = OpenL3("mel128", "music", 6144)
    path = Path(weights) if weights else REF / "openl3_audio_mel128_music.h5"
    if path.is_file():
        openl3.load_keras_h5(model, path)
        source = str(path)
    else:
        torch.manual_seed(0)
        model = OpenL3("mel128", "music", 6144)
        source = "random (torch.manual_seed(0))"
    net = model.network
    state: dict[str, torch.Tensor] = {}
    for layer, bn in zip(openl3._KERAS_BNS, [net.bn0, *net.bns], strict=True):
        for name in ("weight", "bias", "running_mean", "running_var"):
            state[f"{layer}.{name}"] = getattr(bn, name).detach().clone()
    for layer, conv in zip(openl3._KERAS_CONVS, net.convs, strict=True):
        state[f"{layer}.weight"] = conv.weight.detach().clone()
        state[f"{layer}.bias"] = conv.bias.detach().clone()
    net.fold_batch_norm()
    return model, state, source


class Theirs:
    """The torchopenl3 worker subprocess (``bench_torchopenl3.py`` in the other environment), on ``threads`` threads."""

    def __init__(self, python: Path, tmp: Path, windows: np.ndarray, state: dict, spec: np.ndarray,
                 threads: int) -> None:
        np.save(tmp / "windows.npy", windows)
        np.save(tmp / "spec.npy", spec)
        torch.save(state, tmp / "weights.pt")
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        self.proc = subprocess.Popen(
            [str(python), str(HERE / "bench_torchopenl3.py"), "--windows", str(tmp / "windows.npy"),
             "--weights", str(tmp / "weights.pt"), "--spec", str(tmp / "spec.npy"), "--out", str(tmp / "emb.npy"),
             "--out-module", str(tmp / "emb_module.npy")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the torchopenl3 worker failed to start (exit {self.proc.wait()}); run it by hand to see why")
        self.info = json.loads(line)
        self.embedding = np.load(tmp / "emb.npy")
        self.module_embedding = np.load(tmp / "emb_module.npy")

    def wps(self, what: str, seconds: float) -> tuple[float, float]:
        """Windows per second of wall time and of the worker's CPU time."""
        self.proc.stdin.write(json.dumps({"what": what, "seconds": seconds}) + "\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        return out["wps"], out["wpcs"]

    def close(self) -> None:
        self.proc.stdin.write(json.dumps({"what": "quit"}) + "\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


PEAK_SCRIPT = """
import resource, sys, time, numpy as np, torch
from workbench.embed.openl3 import OpenL3, embed
hop_s, minutes = float(sys.argv[1]), float(sys.argv[2])
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
torch.manual_seed(0)
m = OpenL3('mel128', 'music', 6144)
m.network.fold_batch_norm()
y = np.random.default_rng(0).standard_normal(int(48000 * 60 * minutes), dtype=np.float32)
y *= 0.1
try:  # resident now (Linux), not the peak so far
    before = int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize() / 2**20
except OSError:
    before = rss()
t0, c0 = time.perf_counter(), time.process_time()
e, ts = embed(y, sr=48000, model=m, hop_s=hop_s, batch_size=16)
print(e.shape[0], before, rss(), time.perf_counter() - t0, time.process_time() - c0)
"""


def n_windows(duration_s: float, hop_s: float) -> int:
    """Windows ``openl3.frame`` makes of a track (center=True)."""
    hop = int(hop_s * 48000)
    return 1 + math.ceil(max(0, int(duration_s * 48000) + 24000 - 48000) / hop)


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}, {fmt.format(max(values))}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="minimum time per measurement (>= 2 batches)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads, one table each")
    parser.add_argument("--weights", help="Keras .h5 weights for both sides (default: the shared reference file, "
                                          "else random)")
    parser.add_argument("--torchopenl3-python", default=os.environ.get("TORCHOPENL3_PYTHON", str(DEFAULT_VENV_PYTHON)),
                        help="Python of the torchopenl3 environment (env TORCHOPENL3_PYTHON)")
    parser.add_argument("--skip-speed", action="store_true", help="skip the speed rounds")
    parser.add_argument("--skip-workers", action="store_true", help="skip processes x threads")
    parser.add_argument("--workers-seconds", type=float, default=20.0, help="time per processes x threads run")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-only", action="store_true", help="skip speed and processes x threads")
    parser.add_argument("--memory-hops", type=float, nargs="+", default=[0.5, 0.1])
    parser.add_argument("--memory-minutes", type=float, default=10.0)
    args = parser.parse_args()

    from workbench.device import cpu_features

    print(f"CPU: {json.dumps(cpu_features().as_dict())}")
    gpu()
    if not (args.memory_only or args.skip_speed):
        for threads in args.threads:
            torch.set_num_threads(threads)
            speed(args, threads)
    if not (args.memory_only or args.skip_workers):
        processes_vs_threads(args)
    if not args.skip_memory:
        memory(args)


def gpu() -> None:
    """A GPU line: seconds per 5-minute track (hop 0.5 s and 0.1 s) in fp32 and fp16/bf16, or that none is present."""
    from workbench.device import available_devices

    devices = [d for d in available_devices() if d in ("cuda", "mps")]
    if not devices:
        print("GPU: no GPU present: not measured")
        return
    model, _, _ = build_model(None)
    windows, _ = bench_windows(64)
    x = torch.from_numpy(windows)
    for dev in devices:
        for precision in ("fp32", "auto"):
            model.run_on(dev, precision=precision)
            xd = x.to(model.device)
            sync = torch.cuda.synchronize if dev == "cuda" else torch.mps.synchronize
            with torch.inference_mode():
                model(xd)
                sync()
                t0, n = time.perf_counter(), 0
                while n < 5 or time.perf_counter() - t0 < 3:
                    model(xd)
                    n += 1
                sync()
            wps = n * x.shape[0] / (time.perf_counter() - t0)
            cos = model.parity_min_cosine(windows, model.autocast_dtype) if model.autocast_dtype else 1.0
            print(f"GPU {dev} ({torch.cuda.get_device_name() if dev == 'cuda' else 'mps'}), {model.precision}: "
                  f"{wps:.0f} windows/s; s per 5-min track {n_windows(300, 0.5) / wps:.1f} at hop 0.5 s (the "
                  f"default), {n_windows(300, 0.1) / wps:.1f} at hop 0.1 s (target < 5 s); min cosine vs fp32 {cos:.6f}")
    model.run_on("cpu", precision="fp32")


def speed(args: argparse.Namespace, threads: int) -> None:
    load0 = os.getloadavg()
    model, state, source = build_model(args.weights)
    low = copy.deepcopy(model)  # the same weights, network in bf16 (autocast)
    low.autocast_dtype = torch.bfloat16
    eager = copy.deepcopy(low)  # bf16 without the fused oneDNN conv + ReLU path (the eager path before it)
    eager.network.fused_cpu = False
    gflop_conv = conv_flops(model) / 1e9
    gflop = gflop_conv + DFT_GFLOP
    windows, audio_source = bench_windows(args.batch)
    x = torch.from_numpy(windows)
    with torch.inference_mode():
        spec = model.frontend(x)
        ours_emb = model.network(spec).numpy()
        fp32_emb, bf16_emb = model(x), low(x)
        bf16_net_emb = _autocast_net(low, spec)
    python = Path(args.torchopenl3_python)
    theirs = None
    tmp = tempfile.TemporaryDirectory(prefix="bench_openl3_")
    if python.is_file():
        theirs = Theirs(python, Path(tmp.name), windows, state, spec.numpy(), threads)
    else:
        print(f"torchopenl3 comparison skipped: no Python at {python}. Make its environment "
              "(benchmarks/README.md, 'torchopenl3 comparison'):\n"
              "  python3 -m venv /work/venvs/torchopenl3\n"
              "  /work/venvs/torchopenl3/bin/pip install 'torch==2.13.0' torchopenl3\n"
              "  /work/venvs/torchopenl3/bin/pip install 'setuptools<70'\n")

    bf16_net = functools.partial(_autocast_net, low)
    parts = {"module": model, "module bf16": low, "module bf16-eager": eager, "network": model.network,
             "network bf16": bf16_net,
             "frontend": model.frontend}
    inputs = {"module": x, "module bf16": x, "module bf16-eager": x, "network": spec, "network bf16": spec, "frontend": x}
    their_part = {"module": "module", "network": "network", "frontend": "frontend"}
    ours: dict[str, list[float]] = {k: [] for k in parts}
    their: dict[str, list[float]] = {k: [] for k in their_part}
    ours_cpu: dict[str, list[float]] = {k: [] for k in parts}  # windows per CPU-second
    their_cpu: dict[str, list[float]] = {k: [] for k in their_part}
    matmul: list[float] = []
    t_start = time.perf_counter()
    for r in range(args.rounds):
        matmul.append(matmul_gflops(args.seconds / 2))
        for what in their_part:
            secs = args.seconds if what != "frontend" else args.seconds / 4
            mine = [w for w in parts if w.split()[0] == what]
            order = [*mine, "theirs"] if r % 2 == 0 else ["theirs", *reversed(mine)]  # ABBA: drift cancels
            for side in order:
                if side != "theirs":
                    wall, cpu = windows_per_s(parts[side], inputs[side], secs)
                    ours[side].append(wall)
                    ours_cpu[side].append(cpu)
                elif theirs is not None:
                    wall, cpu = theirs.wps(what, secs)
                    their[what].append(wall)
                    their_cpu[what].append(cpu)
        matmul.append(matmul_gflops(args.seconds / 2))
        print(f"[{threads} thr] round {r + 1}/{args.rounds}: ours fp32 {ours['module'][-1]:.2f} w/s, "
              f"bf16 {ours['module bf16'][-1]:.2f} w/s (eager conv + ReLU {ours['module bf16-eager'][-1]:.2f})"
              + (f", torchopenl3 {their['module'][-1]:.2f} w/s" if theirs else "")
              + f", matmul {matmul[-2]:.0f}/{matmul[-1]:.0f} GFLOP/s", flush=True)
    elapsed = time.perf_counter() - t_start
    if theirs is not None:
        theirs.close()
    load1 = os.getloadavg()
    ceil = [max(matmul[2 * r], matmul[2 * r + 1]) for r in range(args.rounds)]  # the ceiling of each round

    print()
    print(f"OpenL3 mel128 music 6144, batch {args.batch}, CPU, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {args.rounds} rounds in {elapsed:.0f} s")
    print(f"audio: {audio_source}; weights: {source}")
    print(f"load average (1/5/15 min) before {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, "
          f"after {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}; {os.cpu_count()} CPUs")
    cos = lambda a, b: float(torch.nn.functional.cosine_similarity(torch.as_tensor(a), torch.as_tensor(b)).min())  # noqa: E731
    print(f"parity, min cosine per window: ours bf16 vs ours fp32 {cos(bf16_emb, fp32_emb):.6f}")
    if theirs is not None:
        d = np.abs(ours_emb - theirs.embedding).max() / np.abs(theirs.embedding).max()
        print(f"torchopenl3 {theirs.info['torchopenl3']}, torch {theirs.info['torch']}, "
              f"{theirs.info['threads']} threads; same spectrogram through both networks: "
              f"max|d|/max|ref| = {d:.1e}")
        print(f"parity, min cosine per window vs torchopenl3 (each with its own frontend): ours fp32 "
              f"{cos(fp32_emb, theirs.module_embedding):.6f}, ours bf16 {cos(bf16_emb, theirs.module_embedding):.6f}; "
              f"networks on the same spectrogram: ours fp32 {cos(ours_emb, theirs.embedding):.6f}, "
              f"ours bf16 {cos(bf16_net_emb, theirs.embedding):.6f}")
    print(f"work per window: convolutions {gflop_conv:.2f} GFLOP + conv-DFT {DFT_GFLOP:.2f} = {gflop:.2f} GFLOP")
    print("figures: median [min, max] over rounds; ratios paired within each round\n")

    w = 48
    print(f"{'':{w}} {'ours fp32':>22} {'ours bf16':>22} {'torchopenl3':>22}")
    print(f"{'matmul fp32 2048^2, GFLOP/s (ceiling)':{w}} {spread(ceil, '{:.0f}'):>22}")

    def row(label: str, a: list[float], b: list[float], c: list[float], fmt: str = "{:.2f}") -> None:
        cells = [spread(v, fmt) if v else "-" for v in (a, b, c)]
        print(f"{label:{w}} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22}")

    def frac(v: list[float], k: float) -> list[float]:
        return [a * k / c for a, c in zip(v, ceil, strict=True)]

    row("whole model (audio -> embedding), windows/s", ours["module"], ours["module bf16"], their["module"])
    row(f"  fraction of fp32 matmul at {gflop:.2f} GFLOP", frac(ours["module"], gflop),
        frac(ours["module bf16"], gflop), frac(their["module"], gflop))
    row("  bf16 with eager conv + ReLU (the path before)", [], ours["module bf16-eager"], [])
    row("network only (spectrogram -> emb.), windows/s", ours["network"], ours["network bf16"], their["network"])
    row("frontend only (fp32 on every side), windows/s", ours["frontend"], [], their["frontend"], "{:.0f}")
    pairs = [("ours bf16 / ours fp32, whole model", ours["module bf16"], ours["module"]),
             ("ours bf16 fused / bf16 eager conv + ReLU", ours["module bf16"], ours["module bf16-eager"])]
    if theirs is not None:
        pairs += [("ours fp32 / torchopenl3, whole model", ours["module"], their["module"]),
                  ("ours bf16 / torchopenl3, whole model (target >= 3)", ours["module bf16"], their["module"]),
                  ("  the same with eager conv + ReLU (before)", ours["module bf16-eager"], their["module"]),
                  ("ours bf16 / torchopenl3, network only", ours["network bf16"], their["network"])]
    for label, a, b in pairs:
        print(f"{label:{w}} {spread([p / q for p, q in zip(a, b, strict=True)]):>22}")
    if threads == 1:  # one thread: CPU time counts the work done, whatever share of a core the load left
        print("per CPU-second (1 thread: CPU time, not wall time, so the machine's load cancels out):")
        row("  whole model, windows per CPU-second", ours_cpu["module"], ours_cpu["module bf16"], their_cpu["module"])
        row("  bf16 with eager conv + ReLU (the path before)", [], ours_cpu["module bf16-eager"], [])
        cpu_pairs = [("  ours bf16 fused / bf16 eager conv + ReLU", "module bf16", "module bf16-eager", ours_cpu)]
        if theirs is not None:
            cpu_pairs += [("  ours bf16 / torchopenl3, whole model", "module bf16", "module", their_cpu),
                          ("  the same with eager conv + ReLU (before)", "module bf16-eager", "module", their_cpu),
                          ("  ours fp32 / torchopenl3, whole model", "module", "module", their_cpu)]
        for label, a, b, other in cpu_pairs:
            ratios = [p / q for p, q in zip(ours_cpu[a], other[b], strict=True)]
            print(f"{label:{w}} {spread(ratios):>22}")
    for hop in (0.5, 0.1):
        n = n_windows(300, hop)
        cells = [f"{n / statistics.median(v):.0f}" if v else "-" for v in (ours["module"], ours["module bf16"],
                                                                         their["module"])]
        print(f"{f's per 5-min track, hop {hop} s ({n} windows)':{w}} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22}")
    print("  (derived: windows / median whole-model windows/s)\n")
    tmp.cleanup()


def _autocast_net(model: OpenL3, spec: torch.Tensor) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return model.network(spec).float()


WORKER_SCRIPT = """
import json, sys, time, numpy as np, torch
from workbench.embed.openl3 import OpenL3, probe_windows
threads, precision, seconds, batch = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
m = OpenL3('mel128', 'music', 6144)
m.network.fold_batch_norm()
m.run_on('cpu', precision=precision)
x = torch.from_numpy(probe_windows(batch))
with torch.inference_mode():
    m(x)
    print('ready', flush=True)
    sys.stdin.readline()  # every process starts timing together
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        m(x)
        n += 1
print(json.dumps({"windows": n * batch, "s": time.perf_counter() - t0}))
"""


def processes_vs_threads(args: argparse.Namespace) -> None:
    """Library throughput: one process on 2 threads against 2 processes on 1 thread each (started together)."""
    cores = os.cpu_count() or 1
    configs = [(1, 1), (1, cores), (cores, 1)] if cores > 1 else [(1, 1)]
    print(f"library throughput, processes x threads (embed 16-window batches for {args.workers_seconds:g} s, "
          f"all processes at once; {cores} CPUs), windows/s summed over processes, median [min, max] of "
          f"{args.rounds} rounds:")
    load0 = os.getloadavg()
    results: dict[tuple[int, int, str], list[float]] = {}
    for r in range(args.rounds):
        order = configs if r % 2 == 0 else configs[::-1]
        for precision in ("fp32", "bf16"):
            for procs, threads in order:
                ps = [subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, str(threads), precision,
                                        str(args.workers_seconds), str(args.batch)], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True) for _ in range(procs)]
                for p in ps:  # built and warmed up
                    p.stdout.readline()
                for p in ps:  # go, all at once
                    p.stdin.write("go\n")
                    p.stdin.flush()
                outs = [json.loads(p.communicate(timeout=600)[0]) for p in ps]
                results.setdefault((procs, threads, precision), []).append(sum(o["windows"] / o["s"] for o in outs))
                print(f"  round {r + 1}: {procs} x {threads}, {precision}: {results[procs, threads, precision][-1]:.2f} "
                      "windows/s", flush=True)
    load1 = os.getloadavg()
    for (procs, threads, precision), v in sorted(results.items()):
        print(f"  {procs} process(es) x {threads} thread(s), {precision}: {spread(v)}")
    print(f"  load average before {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, "
          f"after {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}\n")


def memory(args: argparse.Namespace) -> None:
    """Peak RSS of ``embed()`` on a long track at each hop, each in a fresh process."""
    print()
    print(f"embed() of a {args.memory_minutes:g}-min 48 kHz track, embedding 6144, batch 16, fresh process:")
    for hop in args.memory_hops:
        out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(hop), str(args.memory_minutes)],
                             capture_output=True, text=True, timeout=7200)
        if out.returncode:
            print(f"  hop {hop} s: failed: {out.stderr.strip()[-500:]}")
            continue
        n, before, peak, wall, cpu = out.stdout.split()
        print(f"  hop {hop} s: {n} windows, peak RSS {float(peak):.0f} MB (resident before embed {float(before):.0f} MB; "
              f"target < 2048), {float(wall):.0f} s wall, {float(cpu):.0f} s CPU, "
              f"{int(n) / float(wall):.2f} windows/s", flush=True)


if __name__ == "__main__":
    main()
