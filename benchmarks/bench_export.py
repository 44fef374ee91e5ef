"""Core ML export: time, size and parity of each weight-compression variant.

Run: ``.venv/bin/python benchmarks/bench_export.py [--windows 48] [--openl3]``

Models: the embedding head over the feature frontend (202 -> 512 -> 256), the same head over
OpenL3's 6144-d embedding (the 2.6 M-parameter head of the guide), and the section classifier;
with ``--openl3`` (and the shared random-weights OpenL3 file present) also the OpenL3 window
embedding model with log-mel and with raw-sample input. The heads are trained for a few steps
on real demo windows (two synthesized 30-s tracks, feature frontend), and parity is measured
on those windows (OpenL3: the first windows of the shared reference excerpt) with the NumPy
evaluator of the saved program against PyTorch (fp32).

Targets (issue 8): uncompressed fp16 PSNR >= 60 dB and the same label on >= 99 % of windows;
no fp16 overflow; zero lint errors. Compressed variants: size and PSNR reported (no target;
expect roughly fp16 / 2 for int8, x0.38 for 6-bit and x0.25 for 4-bit palettization).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("NUMBA_CPU_NAME", "generic")

import numpy as np  # noqa: E402

OPENL3_REF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "openl3-ref"


def demo_windows(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    from workbench.audio import load
    from workbench.demo import synthesize_library
    from workbench.embed.features import FeatureFrontend
    from workbench.models.heads import SECTION_LABELS

    xs, ys = [], []
    for t in synthesize_library(folder, n_tracks=2, duration_s=30, progress=False):
        y, sr = load(t.audio_path)
        emb, ts = FeatureFrontend().embed(y, sr=sr)
        sections = json.loads(Path(t.truth_path).read_text())["sections"]
        for e, s in zip(emb, ts, strict=True):
            lab = next((x["label"] for x in sections if x["start_s"] <= s + 0.5 < x["end_s"]), "intro")
            xs.append(e)
            ys.append(SECTION_LABELS.index(lab) if lab in SECTION_LABELS else 0)
    return np.stack(xs).astype(np.float32), np.array(ys)


def train(model, x, y, steps=60):
    import torch

    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        opt.zero_grad()
        out = model(xt)
        loss = (torch.nn.functional.cross_entropy(out, yt) if model.kind == "section_classifier"
                else -(out[:-1] * out[1:]).sum(1).mean())
        loss.backward()
        opt.step()
    return model.eval()


def row(name, variant, r) -> str:
    p = r.parity
    agree = f"{100 * p.label_agreement:6.1f}" if p and p.label_agreement is not None else "     -"
    psnr = f"{p.psnr_db:6.1f}" if p else "     -"
    return (f"{name:26} {variant:11} {r.seconds:7.1f} {r.size_bytes / 1e6:8.2f} {psnr} {agree} "
            f"{(p.fp16_max_abs if p else 0):9.4g} {len(r.lint.errors):4d} {len(r.lint.warnings):4d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=48, help="parity windows per model (default 48)")
    ap.add_argument("--openl3", action="store_true", help="also the OpenL3 window models (minutes)")
    args = ap.parse_args()
    import torch

    from workbench.export import coreml
    from workbench.models.heads import EmbeddingHead, SectionClassifier

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        x, y = demo_windows(d / "demo")
        x, y = x[: args.windows], y[: args.windows]
        head = train(EmbeddingHead(202), x, y)
        clf = train(SectionClassifier(202), x, y)
        torch.manual_seed(0)
        big = EmbeddingHead(6144).eval()
        xb = np.random.default_rng(0).normal(0, 10, size=(args.windows, 6144)).astype(np.float32)
        print(f"{'model':26} {'variant':11} {'time s':>7} {'size MB':>8} {'PSNR':>6} {'agree%':>6} "
              f"{'fp16 max':>9} {'err':>4} {'warn':>4}")
        for variant in ("fp32-io", "fp16-io", "int8", "palettize6", "palettize4"):
            kw = {"io_dtype": "fp16" if variant == "fp16-io" else "fp32",
                  "compress": None if variant.endswith("-io") else variant}
            print(row("head 202->256 (features)", variant,
                      coreml.export_head(head, d / f"h{variant}.mlpackage", windows=x, **kw)), flush=True)
            print(row("head 6144->256 (N(0,10) in)", variant,
                      coreml.export_head(big, d / f"b{variant}.mlpackage", windows=xb, **kw)), flush=True)
            print(row("dj_section 202->7", variant,
                      coreml.export_classifier(clf, d / f"c{variant}.mlpackage", windows=x, **kw)), flush=True)
        h5 = OPENL3_REF / "openl3_audio_mel128_music.h5"
        if args.openl3 and h5.is_file():
            from workbench.embed.openl3 import OpenL3, frame

            model = OpenL3.from_weights(h5, embedding_size=6144)
            ref = np.load(OPENL3_REF / "openl3ref_mel128_music_b_egypt30s.npz")
            w, _ = frame(ref["audio_48k_mono"], sr=48000, hop_s=0.5)
            w = np.ascontiguousarray(w[:6])
            with torch.no_grad():
                lm = model.frontend(torch.from_numpy(w)).numpy()
            for inp, win in (("logmel", lm), ("samples", w)):
                for variant in ("fp32-io", "int8"):
                    r = coreml.export_embedding_model(big, d / f"o{inp}{variant}.mlpackage", backbone=model, input=inp,
                                                      windows=win, compress=None if variant == "fp32-io" else variant)
                    print(row(f"openl3 {inp} -> 256", variant, r), flush=True)
        elif args.openl3:
            print(f"(OpenL3 models skipped: no weights at {h5})")
        print("\ntargets: uncompressed PSNR >= 60 dB, agree >= 99 %, 0 lint errors, fp16 max < 65504")


if __name__ == "__main__":
    main()
