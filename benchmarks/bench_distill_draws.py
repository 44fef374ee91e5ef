"""Distilled CNN vs features + head over draws, and how the student's epoch is kept (issue 19).

Each seed draws a split as :mod:`bench_distill_ablation` does (36 x 40 s demo, 2 held-out tracks per
style, one validation track per style among the rest, 18 fit tracks), trains the teacher and builds
the student rows (cached in ``--cache``: the teacher's held-out MAP@R and the rows), then trains ONE
student (the job's settings, initial weights from the seed) for all ``--epochs`` epochs and records
after each epoch:

- ``val_cosine``: mean cosine to the teacher on the validation tracks' windows (the old rule);
- ``val_retrieval``: MAP@R of the validation tracks' 3-s patches (every 3 s, at most
  :data:`~workbench.train.cnn_distill.SELECT_WINDOWS` per track) among the fit tracks' ones, classes =
  style (:func:`workbench.train.cnn_distill.retrieval_select`, the job's rule with ``SELECT_BY="retrieval"``);
- ``held_out``: the held-out MAP@R of that epoch's network (8-s windows, the CNN's 3-s embeddings every
  1 s mean-pooled inside each, same-track exclusion; as :mod:`bench_backbones` scores). Diagnostic
  only: no rule reads it.

``--summary`` replays each rule on the recorded epochs (the epoch the rule keeps with early stopping
after ``--patience`` stale epochs, as :func:`~workbench.train.cnn_distill.fit_student` does; ties on the
retrieval score go to the higher cosine) and prints, per draw, features + head, the CNN under each
rule and the gaps, then mean ± sample std and min. The student's training does not depend on the rule
(only where it stops), so one trajectory per draw serves both rules.

    python benchmarks/bench_distill_draws.py --seeds 0,1,2,3,4 --out draws.jsonl [--cache DIR] [--summary]

Since session 12 the options default to the job's with ``distill="features"`` (:mod:`workbench.train.cnn_student`), so the
session 8 job below is ``--class-weight 0 --average-epochs 0 --rhythm-lags 0 --keep-tempo false``.

Session 8 (2026-12-06, shared 2-core CPU, load 3-21, one torch thread, 20-50 min wall per student):
seed 0 (session 7's collapsing draw) reproduces 0.730 at epoch 12 under the cosine rule (features + head
0.917). Its held-out MAP@R is 0.695 / 0.691 / 0.713 / 0.700 / 0.718 / 0.693 / 0.728 / 0.721 / 0.730 over
epochs 4-12 while validation cosine rises 0.849 -> 0.924 and validation retrieval 0.817 -> 0.969 (seed 1:
held-out 0.757 -> 0.93 over the same epochs, validation figures alike), so the retrieval rule keeps epoch 8
(0.718): neither rule sees the draw's failure. Another initialisation on the same draw (``--init 100``):
0.814 at epoch 12 (0.810 by retrieval), validation figures alike; its misses are the held-out techno pair
(015, 021: precision@1 0.44, R-precision 0.25; every other style >= 0.84), also the raw frontend's
hardest class there. Seeds 2-4 run afterwards by the lead (load ~1-2, ~10 min per student), so the five
draws (``--seeds 0,1,2,3,4``, then ``--summary`` over the concatenated outputs):

    draw   features + head   CNN, cosine rule (epoch)   CNN, retrieval rule (epoch)   gap (cosine)
    0      0.917             0.730 (12)                 0.718 (8)                     -0.187
    0/100  0.917             0.814 (12)                 0.810 (10)                    -0.103   (another init)
    1      0.906             0.963 (12)                 0.960 (11)                    +0.056
    2      0.909             0.981 (10)                 0.984 (9)                     +0.072
    3      0.798             0.708 (11)                 0.708 (11)                    -0.090
    4      0.941             0.970 (12)                 0.970 (12)                    +0.029

Draws 0-4: features + head 0.894 +- 0.056, CNN 0.870 +- 0.139, mean gap -0.024, worst -0.187; the CNN is
ahead on 3 draws and far behind on 2 (draw 3's teacher is itself weak, 0.798). Target (within 0.02 at
every draw) missed; the default backbone stays the feature frontend.

Session 9 (2026-12-06, shared 2-core CPU, load 7.8-11.4 from 07:15 to 08:10 then ~4.5, one torch thread,
three students at once, 46-54 min wall each): the student options of :mod:`workbench.train.cnn_student`
(off by default; the job's ``--set distill_class_weight=0.5 --set distill_average_epochs=4``), same cached
rows and initial weights as session 8's runs, so only the options differ:

    python benchmarks/bench_distill_draws.py --seeds S --cache C --out X.jsonl --class-weight 0.5 --average-epochs 4

``kept`` is the network fit_student returns (the mean of epochs 9-12's weights); the cosine-rule column
replays the per-epoch (not averaged) networks as above:

    draw   features + head   session 8 job   class 0.5 + average 4: kept   cosine rule (epoch)
    0      0.917             0.730           0.731                         0.736 (10)
    2      0.909             0.981           1.000                         1.000 (12)
    3      0.798             0.708           0.804                         0.789 (9)
    4      0.941             0.970           0.935                         0.944 (12)
    mean   0.891             0.847           0.868

Draw 4 ran last (load ~5, 16 min). The class term (a triplet loss on style, positives on other tracks, beside
the distillation loss) lifts draw 3 (weak teacher) to the teacher's level from epoch 9 on (0.79-0.81 per epoch vs 0.70-0.71) and draw 2 to
1.000; it leaves draw 0 where it was (0.69-0.74 per epoch: its held-out techno pair stays confused) and costs
draw 4 0.026-0.035 (0.93-0.95 per epoch vs session 8's 0.970, still within 0.01 of the teacher). Weight averaging
over the last 4 epochs is within 0.01 of the last epochs' figures on every draw (no gain; -0.009 on draw 4).
Also measured on draw 0: the normalised mean of two students' embeddings (this one and session 8's init 100,
0.731 and 0.810 alone) gives 0.788, between its members (draw 3, this one + session 8's: 0.795 vs 0.804 and
0.708), so a 2-init average is not kept. Masked patches instead of the class term on draw 0 (``--mask-bins 16
--average-epochs 4``, load ~5, 14 min): kept 0.741, per epoch 0.70-0.75 over epochs 6-12: within the draw's noise.
Draw 1 with the same options (lead, session 10, load 2-14, ``nice -n 15``, ~70 min): kept 0.982 (cosine rule 0.986,
epoch 12; retrieval rule 0.938, epoch 10), features + head 0.906. So over the five draws with class 0.5 + average 4:
0.731 / 0.982 / 1.000 / 0.804 / 0.935, mean 0.890 vs features + head 0.894 (mean gap -0.004, within 0.02; worst
-0.186 at draw 0). Draw 0 is still 0.18 behind: target missed; the options stay off (not better on every draw; the lead decides on
the class term, which closes draw 3 and keeps draws 2 and 4 within 0.01 of the teacher or above).

Session 10 (2026-12-06, shared 2-core CPU, load 8-14 from 10:04 to 11:10, three students at once, one torch
thread, 80-360 s per epoch, 55-65 min wall each): does the student miss the tempo the teacher's 8-s tempogram
sees? Draw 0's held-out techno (131 and 132.5 BPM) sits between progressive (126-130) and trance (136-140); the
session-9 student's nearest windows of 015 are trance and progressive, of 021 progressive. Two options, off by
default (the job's ``--set distill_rhythm_lags=96``, ``--set distill_keep_tempo=true``):
``--rhythm-lags 96`` gives the CNN a rhythm branch computed inside it from its own log-mel patch (the onset
envelope's autocorrelation at lags 1-96 frames, up to 2.2 s, beside the convolutions: it exports whole);
``--keep-tempo`` builds the student's views without time stretch (a stretched view, rate 0.9-1.1 with
probability 0.8, keeps the original's target and so teaches tempo invariance), its rows cached apart
(``seed0_keeptempo.npz``: the teacher retrained reproduces 0.917 exactly). Same draw, initial weights from
the seed (the dense layer's differ with the rhythm's 96 extra inputs):

    python benchmarks/bench_distill_draws.py --seeds 0 --cache C --out X.jsonl [--rhythm-lags 96] [--keep-tempo]

    draw 0 student                    kept    cosine rule (epoch)   held-out per epoch, epochs 5/6-12
    session 8 (job settings)          0.730   0.730 (12)            0.69-0.73
    rhythm 96                         0.762   0.762 (12)            0.72-0.76
    keep tempo                        0.722   0.736 (10)            0.70-0.745
    keep tempo + rhythm 96            0.801   0.807 (11)            0.79-0.82
    features + head                   0.917

Neither option fixes draw 0 (>= 0.90 asked). Together they lift it by 0.07, about what another initialisation gave in
session 8 (0.814), so not clearly beyond the draw's noise; alone each is within it. With both, 021's nearest windows
become 015's (4 of 5), while 015's stay trance (3) and progressive (1): the pair is half resolved. Defaults unchanged.

Do they cost a draw where the CNN is ahead? Draw 4 afterwards (load 1-5, two students at once, 25-75 s per
epoch): rhythm 96 on the cached rows 0.995 (cosine rule 0.995, epoch 11; session 8: 0.970, teacher 0.941);
keep tempo + rhythm 96 0.994 (epoch 10), but its retrained teacher gives 0.921, not the cache's 0.941 (draw
4's teacher does not reproduce; draw 0's does), so that row's students had other targets. Neither costs draw 4.
Draw 3, rhythm 96 on the cached rows (load ~1, one student, 25-35 s per epoch): 0.782 (cosine rule 0.780,
epoch 11; per epoch 0.75-0.79 over epochs 4-12) vs session 8's 0.708 and the teacher's 0.798 (class 0.5 +
average 4: 0.804). So the rhythm branch alone: draw 0 +0.032, draw 3 +0.074, draw 4 +0.025 over the job's
settings, with only draw 0 still short of the teacher by more than 0.02. One initialisation per draw.

Session 11 (2026-12-06, shared 2-core CPU, load 3-15 (10-15 from 13:00 to 13:40), two students at once, one
torch thread, 40-520 s per epoch, ~60 min wall each): every option together (class 0.5 + average 4 + rhythm 96
+ keep tempo; draw 3's keep-tempo rows built here, its retrained teacher reproduces 0.798), initial weights from
the seed:

    python benchmarks/bench_distill_draws.py --seeds S --cache C --out X.jsonl --class-weight 0.5 --average-epochs 4 \
        --rhythm-lags 96 --keep-tempo

    draw   features + head   session 8 job   best earlier (options)           all options: kept   cosine rule (epoch)   held-out, epochs 5-12
    0      0.917             0.730           0.801 (keep tempo + rhythm 96)   0.847               0.847 (12)            0.71-0.86
    3      0.798             0.708           0.804 (class 0.5 + average 4)    0.805               0.795 (12)            0.74-0.82

Draw 0 +0.046 over its best earlier student, still 0.070 short of features + head: target missed there; draw 3 within
0.01 of the teacher (as class 0.5 + average 4 alone). Draw 0's per-epoch figures swing (0.861 at epoch 5, 0.709 at 6).

Then draws 1, 2, 4 with all options (the lead; three students at once beside fresh-clone CI, load 4-8, 50-150 s per
epoch; keep-tempo rows built for draws 1 and 2, session 10's for draw 4, whose retrained teacher gives 0.921 here,
0.941 in session 8's rows):

    draw   features + head   session 8 job   all options: kept   cosine rule (epoch)   retrieval rule (epoch)
    1      0.906             0.963           1.000               1.000 (12)            1.000 (9)
    2      0.909             0.981           0.985               0.981 (12)            0.978 (11)
    4      0.921             0.970           0.981               1.000 (9)             1.000 (9)

Every option together, draws 0-4 (kept): 0.847 / 1.000 / 0.985 / 0.805 / 0.981, mean **0.924** against features + head
0.890 (0.917 / 0.906 / 0.909 / 0.798 / 0.921) and the session 8 job 0.870: above the job on every draw (+0.117 /
+0.037 / +0.004 / +0.097 / +0.011), above or within 0.01 of features + head on four draws, 0.070 behind on draw 0. One
initialisation per draw (another init moved draw 0 by 0.08 in session 8). Session 12 made them the job's defaults
with ``distill`` (``bench_distill_job.py`` runs a draw through the job).

The two failing draws are one failure: draws 0 and 3 both hold out techno 015 (131 BPM) and 021 (132.5 BPM) (draws 1,
2: 009 + 027, draw 4: 021 + 027). Does a 3-s patch miss the tempo the teacher's 8.9-s tempogram sees? No
(``--tempo-probe``, no training, tempo descriptions alone, held-out MAP@R among the held-out tracks; load ~10, 3 min
for five draws):

    python benchmarks/bench_distill_draws.py --tempo-probe --seeds 0,3,1,2,4

    draw   features 202-d   its tempo bands (8.9 s)   CNN tempo bands (3 s, pooled)   CNN autocorrelation 1-96 (3 s, pooled)
    0      0.298            0.406                     0.552                           0.744 (techno P@1 1.00)
    3      0.307            0.399                     0.525                           0.696 (techno P@1 0.56)
    1/2/4  0.33/0.33/0.31   0.46/0.45/0.41            0.59/0.73/0.53                  0.80/0.90/0.83

The rhythm branch's input (the untrained autocorrelation of 3-s patches, mean-pooled in 8-s windows) retrieves
styles far better than the teacher's tempo bands on every draw, and as queries among the fit tracks it finds
techno for 015/021 (draw 0: precision@1 0.89, R-precision 0.88; draw 3: 1.00 / 0.89). Trained students use the
branch (fc1's rhythm columns cut: session 10's draw 0 keep tempo + rhythm 0.801 -> 0.707, draw 3 rhythm 0.782 ->
0.735, draw 4 0.995 -> 0.963; all options above: draw 0 0.847 -> 0.806, draw 3 0.805 -> 0.715), yet draw 0's
held-out techno precision@1 is 0.44 (session 10) and 0.33 (all options: its gain is in other styles). So what
the student sees is enough; what it learns from the teacher's targets of 3 fit techno tracks does not carry
to the pair.

``--tempo-bands 12`` (``MelCNN(tempo_bands=12)``, the job's ``--set distill_tempo_bands=12``, off by default;
exports whole, tests/test_cnn_rhythm.py): the autocorrelation's maximum in the feature frontend's 12 tempo bands,
the teacher's own tempo description, beside the lags. With all options on draw 0 (load ~4, one student, 30-37 s
per epoch): kept 0.828 (cosine rule 0.843, epoch 12; held-out 0.73-0.84 over epochs 5-12) vs 0.847 without: no
gain, as the probe above (the bands rank below the lags they pool) suggests. Stays off.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _prepare(library, seed: int, cache: Path, *, keep_tempo: bool = False) -> tuple:
    """(fit, val, held, rows, val_rows, info): the split, cached student rows, the teacher's held-out MAP@R.

    ``keep_tempo``: the fit rows' views are not time-stretched (cached apart, ``seed<S>_keeptempo.npz``).
    """
    from bench_backbones import _hold_out
    from bench_distill_ablation import _split_val, teacher_rows

    from workbench.train.cnn_distill import StudentRows

    train, held = _hold_out(library.tracks(), per_style=2, seed=seed)
    fit, val = _split_val(train, seed=seed)
    f = cache / f"seed{seed}{'_keeptempo' if keep_tempo else ''}.npz"
    if f.exists():
        d = np.load(f, allow_pickle=False)
        return (fit, val, held, StudentRows(d["p"], d["t"], d["tid"]), StudentRows(d["vp"], d["vt"], d["vtid"]),
                json.loads(str(d["info"])))
    t0 = time.perf_counter()
    rows, vrows, teacher_score = teacher_rows(library, fit, val, held, seed=seed, views=3, stretch=not keep_tempo)
    info = {"features_head": teacher_score}
    info["prepare_s"] = round(time.perf_counter() - t0, 1)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(f, p=rows.patches, t=rows.targets, tid=rows.track_ids, vp=vrows.patches, vt=vrows.targets,
             vtid=vrows.track_ids, info=json.dumps(info))
    return fit, val, held, rows, vrows, info


class _Patches:
    """Log-mel patches of tracks every ``hop_s`` s, and which patches each scored row pools."""

    def __init__(self, tracks, *, hop_s: float, pool_s: float | None, most: int | None = None) -> None:
        import torch

        from workbench import audio
        from workbench.models.cnn import SAMPLE_RATE_HZ, LogMel
        from workbench.models.cnn_backbone import audio_windows
        from workbench.train.classes import track_style

        logmel, patches, self.owner, self.track_ids, self.labels, k = LogMel(), [], [], [], [], 0
        for t in tracks:
            y, sr = audio.load(t.path, sr=SAMPLE_RATE_HZ, mono=True)
            w, starts = audio_windows(y, sr=sr, hop_s=hop_s)
            if most is not None and len(w) > most:
                keep = np.unique(np.linspace(0, len(w) - 1, most).round().astype(int))
                w, starts = w[keep], starts[keep]
            with torch.no_grad():
                p = torch.cat([logmel(torch.from_numpy(w[i:i + 32])) for i in range(0, len(w), 32)])
            patches.append(p.reshape(len(w), -1).numpy().astype(np.float16))
            if pool_s is None:
                groups = [np.array([j]) for j in range(len(w))]
            else:  # section_windows' whole-track windows: [a, a + pool_s) every pool_s seconds
                dur = len(y) / sr
                n = 1 if dur <= pool_s else 1 + int(math.floor((dur - pool_s) / pool_s + 1e-9))
                groups = [np.flatnonzero((starts >= j * pool_s) & (starts < min((j + 1) * pool_s, dur)))
                          for j in range(n)]
            for g in groups:
                self.owner.append(k + g)
                self.track_ids.append(t.id)
                self.labels.append(track_style(t))
            k += len(w)
        self.patches = np.concatenate(patches)
        self.track_ids, self.labels = np.asarray(self.track_ids), np.asarray(self.labels)

    def vectors(self, net) -> np.ndarray:
        from workbench.train.cnn_distill import _student_embed

        e = _student_embed(net, self.patches)
        return np.stack([e[o].mean(axis=0) for o in self.owner])


def run_seed(library, *, seed: int, epochs: int, cache: Path, out: Path, init: int | None = None,
             options: dict | None = None, rhythm_lags: int = 0, keep_tempo: bool = False,
             tempo_bands: int = 0) -> None:
    """One draw: teacher (cached), one student over all epochs, per-epoch criteria and held-out MAP@R.

    ``options``: :func:`~workbench.train.cnn_distill.fit_student`'s ``average_epochs``, ``class_weight``,
    ``mask_bins`` (the class term's classes: each fit track's style). ``rhythm_lags``: the student's rhythm
    branch (:class:`~workbench.models.cnn.MelCNN`; 0: off). ``keep_tempo``: rows of unstretched views.
    ``tempo_bands``: the student's tempo bands (:class:`~workbench.models.cnn.MelCNN`; 0: off).
    """
    import torch
    from bench_backbones import _score, _vectors

    from workbench.evaluate.retrieval import retrieval_metrics
    from workbench.models.cnn import build_cnn
    from workbench.models.cnn_backbone import CNNBackbone
    from workbench.train.classes import track_style
    from workbench.train.cnn_distill import DISTILL_DEFAULTS, SELECT_WINDOWS, fit_student, retrieval_select
    from workbench.train.triplet import TripletConfig

    fit, val, held, rows, vrows, info = _prepare(library, seed, cache, keep_tempo=keep_tempo)
    options = {k: v for k, v in (options or {}).items() if v}
    if options.get("class_weight"):
        style = {t.id: track_style(t) for t in fit}
        rows.classes = np.array([style[int(t)] for t in rows.track_ids])
    sel = _Patches(fit + val, hop_s=3.0, pool_s=None, most=SELECT_WINDOWS)
    select = retrieval_select(sel.patches, sel.labels, sel.track_ids, np.isin(sel.track_ids, [t.id for t in val]))
    held_p = _Patches(held, hop_s=1.0, pool_s=8.0)
    settings = {**DISTILL_DEFAULTS, "max_epochs": epochs, "patience": epochs}
    init = seed if init is None else init
    model = build_cnn(seed=init, stats=True, dropout=settings.pop("dropout"), rhythm_lags=rhythm_lags,
                      tempo_bands=tempo_bands)
    log: list[dict] = []

    def on_epoch(epoch: int, total: int, rec: dict) -> None:
        m = retrieval_metrics(held_p.vectors(model.net), held_p.labels, groups=held_p.track_ids)
        log.append({**{k: rec[k] for k in ("epoch", "train_loss", "val_cosine", "embedding_spread", "seconds")},
                    "val_retrieval": rec["val_select"], "held_out": float(m["map_at_r"])})
        print(json.dumps({"seed": seed, "init": init, **log[-1]}), flush=True)

    t0 = time.perf_counter()
    _, _, stopped = fit_student(model.net, rows, vrows, cfg=TripletConfig(seed=seed, num_threads=1, **settings),
                                select=select, on_epoch=on_epoch, **options)
    secs = time.perf_counter() - t0
    extra = {"rhythm_lags": rhythm_lags, "keep_tempo": int(keep_tempo), "tempo_bands": tempo_bands}
    tag = "".join(f"_{k}{v}" for k, v in sorted({**options, **extra}.items()) if v)
    torch.save(model.net.state_dict(), cache / f"student_seed{seed}_init{init}{tag}.pt")  # the kept epoch, for analysis
    # the epoch fit_student kept (retrieval rule, no early stop), scored the bench_backbones way: a check of
    # the per-epoch scorer above (same figure as that epoch's "held_out")
    data = _vectors(library, held, CNNBackbone(model.eval(), hop_s=1.0), classes="style")
    record = {"seed": seed, "init": init, "features_head": info["features_head"], "kept": _score(data.X, data),
              "fit_tracks": len(fit), "val_tracks": len(val), "held_out_tracks": len(held), "epochs": log,
              "train_s": round(secs, 1), "options": {**options, **{k: v for k, v in extra.items() if v}},
              "stopped": stopped}
    with out.open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def tempo_probe(library, *, seed: int) -> str:
    """How well tempo descriptions alone retrieve a draw's held-out tracks' style (no training, no student).

    Rows (held-out MAP@R among the held-out tracks, same-track exclusion; each representation standardised
    over the held-out rows): the feature frontend's 202-d vector and its 12 tempo bands (8-s windows, the
    tempogram's 8.9-s context: what the teacher reads); the CNN's tempo bands and its autocorrelation at lags
    1-96 frames (:class:`~workbench.models.cnn.MelCNN`, untrained: both are fixed) of 3-s patches every 1 s,
    mean-pooled in each 8-s window (as the student's embeddings are scored). Per representation, the techno
    tracks' precision@1 and each held-out techno window's nearest track on another track. Last line: the
    autocorrelation's held-out windows as queries among the fit tracks' (standardised over the fit rows).

    Parameters
    ----------
    library : Library
        The demo library.
    seed : int >= 0
        The draw.
    """
    import torch
    from bench_backbones import _hold_out
    from bench_distill_ablation import _split_val

    from workbench import audio
    from workbench.embed.features import FeatureFrontend
    from workbench.evaluate.retrieval import retrieval_metrics
    from workbench.models.cnn import SAMPLE_RATE_HZ, build_cnn
    from workbench.train.classes import track_style

    train, held = _hold_out(library.tracks(), per_style=2, seed=seed)
    net = build_cnn(seed=0, rhythm_lags=96, tempo_bands=12).net
    held_p = _Patches(held, hop_s=1.0, pool_s=8.0)
    with torch.no_grad():
        p = torch.from_numpy(held_p.patches.astype(np.float32))
        ac, bands = net.rhythm(p).numpy(), net.tempo(p).numpy()
    frontend, f8, tid8, lab8 = FeatureFrontend(window_s=8.0, hop_s=8.0), [], [], []
    for t in held:
        y, sr = audio.load(t.path, sr=SAMPLE_RATE_HZ, mono=True)
        f8.append(frontend.embed(y, sr=sr)[0])
        tid8 += [t.id] * len(f8[-1])
        lab8 += [track_style(t)] * len(f8[-1])
    f8 = np.concatenate(f8)
    names = {t.id: t.path.rsplit("/", 1)[-1].split(".")[0] for t in held}
    reps = {"features (202-d, 8 s)": (f8, tid8, lab8), "features' tempo bands (12, 8.9 s)": (f8[:, -12:], tid8, lab8),
            "CNN tempo bands (12, 3 s, pooled)": (np.stack([bands[o].mean(0) for o in held_p.owner]),
                                                  held_p.track_ids, held_p.labels),
            "CNN autocorrelation (96, 3 s, pooled)": (np.stack([ac[o].mean(0) for o in held_p.owner]),
                                                      held_p.track_ids, held_p.labels)}
    lines = [f"draw {seed}: held-out {', '.join(names[i] for i in sorted(names))}"]
    for name, (x, tid, lab) in reps.items():
        x, tid, lab = np.asarray(x, np.float64), np.asarray(tid), np.asarray(lab)
        x = (x - x.mean(0)) / (x.std(0) + 1e-9)
        m = retrieval_metrics(x.astype(np.float32), lab, groups=tid, per_class=True)
        u = x / np.linalg.norm(x, axis=1, keepdims=True)
        near = []
        for q in sorted({int(i) for i in tid[lab == "techno"]}):
            sim = u[tid == q] @ u[tid != q].T
            hits = [names[int(i)] for i in tid[tid != q][np.argmax(sim, axis=1)]]
            near.append(f"{names[q]} -> " + ", ".join(f"{h} x{hits.count(h)}" for h in sorted(set(hits))))
        lines.append(f"  {name:<38} MAP@R {m['map_at_r']:.3f}  techno P@1 {m['per_class']['techno']['precision_at_1']:.2f}"
                     f"  ({'; '.join(near)})")
    both = _Patches(_split_val(train, seed=seed)[0] + held, hop_s=1.0, pool_s=8.0)
    with torch.no_grad():
        ac = net.rhythm(torch.from_numpy(both.patches.astype(np.float32))).numpy()
    x, q = np.stack([ac[o].mean(0) for o in both.owner]), np.isin(both.track_ids, list(names))
    x = (x - x[~q].mean(0)) / (x[~q].std(0) + 1e-9)
    m = retrieval_metrics(x.astype(np.float32), both.labels, groups=both.track_ids, queries=q, per_class=True)
    lines.append(f"  {'CNN autocorrelation, among fit tracks':<38} MAP@R {m['map_at_r']:.3f}  techno P@1 "
                 f"{m['per_class']['techno']['precision_at_1']:.2f}, R-precision {m['per_class']['techno']['r_precision']:.2f}")
    return "\n".join(lines)


def kept_epoch(log: list[dict], rule: str, *, patience: int) -> int:
    """The epoch ``rule`` keeps over ``log`` with early stopping after ``patience`` stale epochs.

    Parameters
    ----------
    log : list of dict
        Per-epoch records (``val_cosine``, ``val_retrieval``).
    rule : {"cosine", "retrieval"}
        The selection rule.
    patience : int >= 1
        Stale epochs before stopping.
    """
    from workbench.train.cnn_distill import _better

    best, kept, stale = (-math.inf, -math.inf), 0, 0
    for r in log:
        first = r["val_retrieval"] if rule == "retrieval" and math.isfinite(r["val_retrieval"]) else -math.inf
        key = (first, r["val_cosine"])
        if _better(key, best):
            best, kept, stale = key, r["epoch"], 0
        else:
            stale += 1
        if stale >= patience:
            break
    return kept


def summary(lines: list[dict], *, patience: int) -> str:
    """Per draw and over draws: features + head, the CNN kept by each rule, the gaps.

    Parameters
    ----------
    lines : list of dict
        The JSON records (one per seed).
    patience : int >= 1
        Early stopping's patience in the replay.
    """
    rows, table = [], [f"{'seed':>4}{'':<4} {'features+head':>14} {'cnn cosine (ep)':>16} {'cnn retrieval (ep)':>19} "
                       f"{'gap cos':>8} {'gap ret':>8} {'kept':>6}  options"]
    for r in sorted(lines, key=lambda r: (r["seed"], r.get("init", r["seed"]), json.dumps(r.get("options", {})))):
        fh = r["features_head"]["map_at_r"]
        ec = kept_epoch(r["epochs"], "cosine", patience=patience)
        er = kept_epoch(r["epochs"], "retrieval", patience=patience)
        hc, hr = r["epochs"][ec - 1]["held_out"], r["epochs"][er - 1]["held_out"]
        rows.append((fh, hc, hr))
        init = "" if r.get("init", r["seed"]) == r["seed"] else f"/{r['init']}"
        table.append(f"{r['seed']:>4}{init:<4} {fh:>14.3f} {hc:>11.3f} ({ec:>2}) {hr:>14.3f} ({er:>2}) "
                     f"{hc - fh:>+8.3f} {hr - fh:>+8.3f} {r.get('kept', {}).get('map_at_r', math.nan):>6.3f}  "
                     f"{','.join(f'{k}={v}' for k, v in sorted(r.get('options', {}).items())) or 'job'}")
    a = np.array(rows)
    sd = a.std(axis=0, ddof=1) if len(a) > 1 else np.zeros(3)
    table.append("mean ± std  " + "  ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(a.mean(axis=0), sd, strict=True)))
    table.append("min         " + "  ".join(f"{m:.3f}" for m in a.min(axis=0)))
    table.append(f"gap (cnn - features+head) mean: cosine {np.mean(a[:, 1] - a[:, 0]):+.3f}, retrieval "
                 f"{np.mean(a[:, 2] - a[:, 0]):+.3f}; worst: cosine {np.min(a[:, 1] - a[:, 0]):+.3f}, retrieval "
                 f"{np.min(a[:, 2] - a[:, 0]):+.3f}")
    return "\n".join(table)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--init", type=int, default=None, help="the student's initial-weight seed (default: each draw's seed)")
    p.add_argument("--epochs", type=int, default=12, help="the student's epochs (the job's max_epochs)")
    p.add_argument("--patience", type=int, default=4, help="early stopping's patience in the replay (the job's)")
    p.add_argument("--workdir", default="/tmp/bench_distill_ablation", help="demo library (reused when present)")
    p.add_argument("--cache", default="/tmp/bench_distill_draws", help="teacher figures and student rows per seed")
    p.add_argument("--out", default="distill_draws.jsonl")
    p.add_argument("--summary", action="store_true", help="only print the summary of --out")
    from workbench.train import cnn_student as cs
    job = {k[len("distill_"):]: v for k, v in {**cs.DISTILL_STUDENT_DEFAULTS, **cs.DISTILL_TEMPO_DEFAULTS}.items()}
    for name, kind in (("average_epochs", int), ("class_weight", float), ("mask_bins", int), ("rhythm_lags", int),
                       ("tempo_bands", int)):
        p.add_argument(f"--{name.replace('_', '-')}", type=kind, default=job[name], help=f"default {job[name]} (0: off)")
    p.add_argument("--keep-tempo", nargs="?", const="true", default=str(job["keep_tempo"]).lower(),
                   choices=("true", "false"), help="the student's views are not time-stretched")
    p.add_argument("--prepare-only", action="store_true", help="build the cached rows, train no student")
    p.add_argument("--tempo-probe", action="store_true", help="only the tempo descriptions' held-out MAP@R")
    args = p.parse_args(argv)
    out = Path(args.out)
    if not args.summary:
        import torch

        torch.set_num_threads(1)
        from bench_distill_ablation import demo_library

        library = demo_library(Path(args.workdir), n_tracks=36, duration_s=40.0)
        try:
            for seed in (int(s) for s in args.seeds.split(",")):
                if args.tempo_probe:
                    print(tempo_probe(library, seed=seed), flush=True)
                    continue
                if args.prepare_only:
                    info = _prepare(library, seed, Path(args.cache), keep_tempo=args.keep_tempo == "true")[-1]
                    print(json.dumps({"seed": seed, **info}), flush=True)
                    continue
                run_seed(library, seed=seed, epochs=args.epochs, cache=Path(args.cache), out=out, init=args.init,
                         options={"average_epochs": args.average_epochs, "class_weight": args.class_weight,
                                  "mask_bins": args.mask_bins}, rhythm_lags=args.rhythm_lags,
                         keep_tempo=args.keep_tempo == "true", tempo_bands=args.tempo_bands)
        finally:
            library.close()
        if args.prepare_only or args.tempo_probe:
            return 0
    print(summary([json.loads(line) for line in out.read_text().splitlines() if line.strip()], patience=args.patience))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
