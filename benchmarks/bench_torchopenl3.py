"""torchopenl3's OpenL3 network, timed on command: the other side of ``bench_openl3.py``.

Not run by hand: ``bench_openl3.py`` starts it with the Python of a separate virtual environment
that has torchopenl3 (it cannot be installed beside the project; see benchmarks/README.md). It
imports only torch, numpy and torchopenl3, never ``workbench``.

Protocol (JSON lines): after start-up it prints ``{"ready": true, ...}``; then for each line
``{"what": "module"|"network"|"frontend", "seconds": s, "min_batches": k}`` read from stdin it
times that part on the whole batch and prints ``{"wps": windows_per_s, "wpcs": windows_per_cpu_s}``
(per second of wall time and of this process's CPU time); ``{"what": "quit"}``
ends it.

- ``module``: ``PytorchOpenl3.forward`` on the audio windows (its conv-DFT mel frontend + network).
- ``network``: the same forward with the frontend (``speclayer``) replaced by one that returns a
  precomputed spectrogram, so only its network runs.
- ``frontend``: ``speclayer`` alone.

Weights: the network is built with ``PytorchOpenl3(...)`` directly (its ``__init__`` downloads
nothing; ``torchopenl3.core.load_audio_embedding_model`` is what downloads), then the state dict
given with ``--weights`` (Keras layer names, written by ``bench_openl3.py`` from the same weights
as our port) is loaded, so both sides run identical weights.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch


class _FixedSpec(torch.nn.Module):
    """Stands in for ``speclayer``: returns the precomputed spectrogram, ignoring its input."""

    def __init__(self, spec: torch.Tensor) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spec


def windows_per_s(fn, x: torch.Tensor, seconds: float, min_batches: int) -> tuple[float, float]:
    """Windows per second of wall time and of this process's CPU time."""
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    with torch.inference_mode():
        while n < min_batches or time.perf_counter() - t0 < seconds:
            fn(x)
            n += 1
    return n * x.shape[0] / (time.perf_counter() - t0), n * x.shape[0] / max(time.process_time() - c0, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", required=True, help=".npy (batch, 48000) float32 audio windows at 48 kHz")
    parser.add_argument("--weights", required=True, help="torch state dict with torchopenl3's key names")
    parser.add_argument("--spec", help=".npy (batch, 1, 128, 199): a spectrogram to run the network on once")
    parser.add_argument("--out", help=".npy: where to write the network's embedding of --spec")
    parser.add_argument("--out-module", help=".npy: where to write the whole model's embedding of --windows")
    parser.add_argument("--input-repr", default="mel128")
    parser.add_argument("--embedding-size", type=int, default=6144)
    args = parser.parse_args()

    import torchopenl3
    from torchopenl3.models import PytorchOpenl3

    model = PytorchOpenl3(content_type="music", input_repr=args.input_repr, embedding_size=args.embedding_size)
    state = torch.load(args.weights, map_location="cpu", weights_only=True)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("speclayer.") and not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"weights do not match torchopenl3's network: missing {missing}, unexpected {unexpected}")
    model.eval()
    x = torch.from_numpy(np.load(args.windows)).float().unsqueeze(1)  # (batch, 1, 48000), as torchopenl3 frames
    frontend = model.speclayer
    with torch.inference_mode():
        spec = frontend(x)  # (batch, freq, time, 1)
        model(x)  # warm-up (allocations, kernel selection)
        if args.out_module:  # the whole model (its own frontend) on the audio windows
            np.save(args.out_module, model(x).numpy())
        if args.spec and args.out:
            model.speclayer = _FixedSpec(torch.from_numpy(np.load(args.spec)).squeeze(1).unsqueeze(-1))
            np.save(args.out, model(x).numpy())
        network_only = _FixedSpec(spec)
        model.speclayer = network_only
        model(x)
        model.speclayer = frontend
    parts = {
        "frontend": frontend,
        "module": model,
        "network": lambda x: (setattr(model, "speclayer", network_only), model(x), setattr(model, "speclayer", frontend)),
    }
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "torchopenl3": getattr(torchopenl3, "__version__", "?")}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req["what"] == "quit":
            break
        wps, wpcs = windows_per_s(parts[req["what"]], x, float(req["seconds"]), int(req.get("min_batches", 2)))
        print(json.dumps({"wps": wps, "wpcs": wpcs}), flush=True)


if __name__ == "__main__":
    main()
