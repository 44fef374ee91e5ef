"""The distilled student's epoch, old path vs fast path, side by side on the same rows (issue 19).

:func:`workbench.train.cnn_distill.fit_student` on one draw's cached student rows
(``bench_distill_draws.py``'s ``seed<S>_keeptempo.npz``: draw 2 has 2,720 training and 223 validation rows,
as the job builds them), the job's student (``build_cnn(seed=S, stats=True, rhythm_lags=96)``, dropout 0.1,
class term 0.5), one thread, in three ways, interleaved round by round so that they share the machine's load:

- ``default float32``: the old path (NCHW layout, float32);
- ``channels_last float32``: :func:`workbench.models.cnn_fast.student_layout` (``cnn_fast.CHANNELS_LAST``; off in the job);
- ``channels_last bfloat16``: also bfloat16 autocast (the job's ``--set distill_precision=bfloat16``).

Each way trains ``--epochs`` epochs of ``--rows-per-epoch`` rows (batches of 32) and embeds the validation rows
after each, from the same initial weights; the table prints the median seconds per training step and per
validation pass, the speed-up over the old path, and the first epoch's training loss (the three ways' numbers
differ by rounding only; what that does to held-out MAP@R is ``bench_distill_job.py``'s to measure).

    python benchmarks/bench_distill_speed.py --rows CACHE/seed2_keeptempo.npz --workdir W

Session 13 (2026-12-06, shared 2-core AMD EPYC with AVX-512 BF16, load ~13, one torch thread, ``--rounds 1``,
draw 2's rows cached by session 12)::

    way                       s / step (32 rows)  s / validation  speed-up  epoch-1 loss
    default float32                        16.09           49.89     1.00x      0.840666
    channels_last float32                  10.81           26.67     1.49x      0.840671
    channels_last bfloat16                  4.06           11.74     3.97x      0.840912

Again at load ~3.5 (19:54 UTC, beside a test run)::

    default float32                         2.90            9.08     1.00x      0.840666
    channels_last float32                   1.65            4.17     1.76x      0.840671
    channels_last bfloat16                  0.94            2.20     3.08x      0.840912

A job's student epoch is 24 steps and one validation pass (223 rows on draw 2): at load ~3.5, 79 s in the old
path, 25 s in bfloat16 (12 epochs: 944 s -> 298 s).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

WAYS = (("default", "float32"), ("channels_last", "float32"), ("channels_last", "bfloat16"))


def load_rows(path: Path, styles: dict[int, str]):
    """(training, validation) :class:`~workbench.train.cnn_distill.StudentRows` of a cached draw, classes = style.

    Parameters
    ----------
    path : Path
        ``bench_distill_draws.py``'s cached rows (``p``, ``t``, ``tid``, ``vp``, ``vt``, ``vtid``).
    styles : dict
        Track id -> style.
    """
    from workbench.train.cnn_distill import StudentRows

    d = np.load(path, allow_pickle=False)
    train = StudentRows(d["p"], d["t"], d["tid"], classes=np.array([styles[int(t)] for t in d["tid"]]))
    return train, StudentRows(d["vp"], d["vt"], d["vtid"])


def time_way(train, val, *, layout: str, precision: str, seed: int, epochs: int, rows_per_epoch: int) -> dict:
    """Seconds per step and per validation pass of one way (``fit_student`` with a timed validation).

    Parameters
    ----------
    train, val : StudentRows
        The rows.
    layout : str
        ``"default"`` or ``"channels_last"``.
    precision : str
        ``"float32"`` or ``"bfloat16"``.
    seed : int
        Initial weights and the epochs' draws.
    epochs : int >= 2
        Epochs trained.
    rows_per_epoch : int
        Rows per epoch.
    """
    import workbench.models.cnn_fast as fast
    from workbench.models.cnn import build_cnn
    from workbench.train.cnn_distill import fit_student
    from workbench.train.triplet import TripletConfig

    net = build_cnn(seed=seed, stats=True, rhythm_lags=96, dropout=0.1).net
    saved_layout, fast.CHANNELS_LAST = fast.CHANNELS_LAST, layout == "channels_last"
    embed, val_s = fast.embed_patches, []

    def timed_embed(*args, **kwargs):
        """``embed_patches``, timed."""
        t0 = time.perf_counter()
        out = embed(*args, **kwargs)
        val_s.append(time.perf_counter() - t0)
        return out

    fast.embed_patches = timed_embed
    try:
        cfg = TripletConfig(seed=seed, num_threads=1, lr=1e-3, weight_decay=1e-4, max_epochs=epochs)
        history, _, _ = fit_student(net, train, val, cfg=cfg, rows_per_epoch=rows_per_epoch, class_weight=0.5,
                                    precision=precision)
    finally:
        fast.embed_patches, fast.CHANNELS_LAST = embed, saved_layout
    steps = max(1, min(len(train.patches), rows_per_epoch) // 32)
    return {"step_s": [(h["seconds"] - v) / steps for h, v in zip(history, val_s, strict=True)], "val_s": val_s,
            "loss": history[0]["train_loss"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", required=True, help="bench_distill_draws.py's cached rows (seed<S>_keeptempo.npz)")
    p.add_argument("--workdir", default="/tmp/bench_distill_ablation", help="the demo library (for the styles)")
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rows-per-epoch", type=int, default=256)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from bench_distill_ablation import demo_library

    from workbench.train.classes import track_style

    library = demo_library(Path(args.workdir), n_tracks=36, duration_s=40.0)
    try:
        styles = {t.id: track_style(t) for t in library.tracks()}
    finally:
        library.close()
    train, val = load_rows(Path(args.rows), styles)
    runs: dict[tuple[str, str], list[dict]] = {way: [] for way in WAYS}
    for _ in range(args.rounds):
        for layout, precision in WAYS:
            runs[(layout, precision)].append(time_way(train, val, layout=layout, precision=precision, seed=args.seed,
                                                      epochs=args.epochs, rows_per_epoch=args.rows_per_epoch))
    base = None
    print(f"{'way':<24}{'s / step (32 rows)':>20}{'s / validation':>16}{'speed-up':>10}{'epoch-1 loss':>14}")
    for way, rs in runs.items():
        step = float(np.median([s for r in rs for s in r["step_s"]]))
        val_s = float(np.median([s for r in rs for s in r["val_s"]]))
        base = base or (step, val_s)
        print(f"{' '.join(way):<24}{step:>20.2f}{val_s:>16.2f}{base[0] / step:>9.2f}x{rs[0]['loss']:>14.6f}")
    print(f"({len(val.patches)} validation rows; {args.rounds} rounds x {args.epochs} epochs of {args.rows_per_epoch} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
