"""The rejection loop, simulated: does rejecting the model's wrong suggestions make the next model better?

A simulated user on the development set's dev tracks (``bench_sections_devset.py --rejection-loop``):
the styles are split in two halves; the user has labelled every dev track of one half (A) and
opens a new crate of the other half's styles. On two of each new style's three dev tracks (B) the
labeler shows the model's suggestions (:func:`~workbench.train.sections.suggest_sections`); a
suggestion whose label is the truth at ``accept_at`` (default half) of its windows or more is accepted (``Labels.accept``), every
other one rejected (``Labels.reject``), through the labels API of a copy of the devset library.
The next model trains on A plus what the review stored (``section_dataset(..., rejections=
labels.rejections())``: a rejected label is never a positive in its span, its windows train as
"not this label"). Scored on the third track of each new style (C, never reviewed), smoothed
frame accuracy next to the majority and logistic-regression baselines; then the halves swap and
both folds pool (by window).

Conditions: ``before`` (A only), ``accepted only`` (A + the accepted suggestions; the rejections
left out), ``accepted + rejected`` (what the labeler stores), ``B fully labelled`` (the user
relabels every wrong span: the most the review could give).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

CONDITIONS = ("before", "accepted only", "accepted + rejected", "B fully labelled")


def _fit(train, *, cfg: dict[str, Any]):
    """The final model as :func:`train_sections` fits it (grammar, novelty bonus), without a temperature."""
    from workbench.train.sections import SectionTrainer
    from workbench.train.sections.grammar import learn_grammar, track_sequences
    from workbench.train.sections.training import _TRAINER_KEYS
    from workbench.train.sections.transfer import validation_groups

    trainer = SectionTrainer(seed=cfg["seed"], **{k: cfg[k] for k in _TRAINER_KEYS}).fit(
        train.X, train.y, validation_groups(train, by_group=cfg["validate_on_groups"]),
        not_X=train.X_not, not_y=train.y_not)
    trainer.grammar_ = learn_grammar(track_sequences(train.tracks), trainer.classes_, weight=cfg["grammar_weight"],
                                     position_weight=cfg["position_weight"], alpha=cfg.get("grammar_alpha", 1.0),
                                     duration_alpha=cfg.get("duration_alpha", 1.0),
                                     tie_weight=cfg.get("tie_weight", 0.0), order_weight=cfg.get("order_weight", 1.0),
                                     ends_weight=cfg.get("ends_weight", 1.0))
    trainer.novelty_weight_ = float(cfg["novelty_weight"])
    trainer.uncertain_below_ = float(cfg["uncertain_below"])
    trainer.temperature_ = 1.0
    return trainer


def _review(lib, labels, trainer, tracks, *, features, offset: int, accept_at: float) -> dict[str, int]:
    """Show each track's suggestions; accept the right ones, reject the wrong ones (labels API)."""
    from workbench.train.sections import SMOOTHING_DEFAULTS, suggest_sections

    counts = {"suggestions": 0, "accepted": 0, "rejected": 0}
    for tr in tracks:
        lab = tr.window_labels()
        for s in suggest_sections(lib, tr.track_id - offset, model=trainer, features=features, **SMOOTHING_DEFAULTS):
            inside = (tr.times_s >= s.start_s) & (tr.times_s < s.end_s) & (lab != "")
            counts["suggestions"] += 1
            if inside.any() and np.mean(lab[inside] == s.label) >= accept_at:
                labels.accept(s)
                counts["accepted"] += 1
            else:
                labels.reject(s)
                counts["rejected"] += 1
    return counts


def _reviewed_data(lib, labels, tracks, *, features, offset: int, with_rejections: bool):
    """Section data of the reviewed tracks from the label store (ids and groups as the benchmark's)."""
    from workbench.train.sections import SectionData, section_dataset

    ids = {t.track_id - offset: t for t in tracks}
    stored = [x for x in labels.all() if x.track_id in ids]
    rej = [r for r in labels.rejections() if r.track_id in ids] if with_rejections else None
    data = section_dataset(lib, stored, features=features, progress=False, rejections=rej)
    out = [replace(t, track_id=t.track_id + offset, group=ids[t.track_id].group) for t in data.tracks]
    return SectionData(out, data.features, data.backbone)


def _score(trainer, train, test, *, cfg) -> dict[str, Any]:
    from workbench.train.sections.external import external_scores

    e = external_scores(trainer, train, test, cfg=cfg, backbone=train.backbone)
    n = int(sum(v["support"] for v in e["model_smoothed"]["per_class"].values()))
    return {"accuracy": e["model_smoothed"]["accuracy"], "macro_f1": e["model_smoothed"]["macro_f1"],
            "majority": e["baselines"]["majority"]["accuracy"], "logreg": e["baselines"]["logreg"]["accuracy"],
            "f3": e["segments"]["smoothed"]["boundary_f_3s"], "windows": n,
            "not_windows_trained": int(getattr(trainer, "n_not_windows_", 0))}


def rejection_loop(data, split: dict[int, str], *, library_dir: Path, seed: int = 0, offset: int,
                   accept_at: float = 0.5) -> dict[str, Any]:
    """Run the simulation (module doc) on the dev tracks of ``data``; return per-fold and pooled figures.

    Parameters
    ----------
    data : SectionData
        The devset's section data (track ids offset by ``offset``, groups ``style:<name>``).
    split : dict of int to str
        ``dev`` or ``held_out`` per (offset) track id; only dev tracks are used.
    library_dir : Path
        The devset library; copied to a temporary folder, so the review's labels stay out of it.
    seed : int
        Seed of every model.
    offset : int
        What was added to the library's track ids.
    accept_at : float in (0, 1]
        The simulated user accepts a suggestion whose label is the truth at this share of its windows or more.
    """
    from workbench.labels import Labels
    from workbench.library import Library
    from workbench.train.sections import CONFIG_DEFAULTS, SectionData

    cfg = {**CONFIG_DEFAULTS, "seed": seed}
    dev = data.subset([t for t, s in split.items() if s == "dev"])
    styles = sorted({t.group for t in dev.tracks})
    halves = (styles[0::2], styles[1::2])
    folds: list[dict[str, Any]] = []
    for a_styles, new_styles in (halves, halves[::-1]):
        a = dev.subset(t.track_id for t in dev.tracks if t.group in a_styles)
        by_style = {g: sorted(t.track_id for t in dev.tracks if t.group == g) for g in new_styles}
        b_ids = [i for ids in by_style.values() for i in ids[:-1]]
        c = dev.subset(ids[-1] for ids in by_style.values())
        b = dev.subset(b_ids)
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(library_dir, Path(tmp) / "lib")
            lib = Library(Path(tmp) / "lib" / "workbench.db")
            labels = Labels(lib)
            before = _fit(a, cfg=cfg)
            review = _review(lib, labels, before, b.tracks, features=dev.features, offset=offset,
                             accept_at=accept_at)
            fold: dict[str, Any] = {"labelled styles": a_styles, "new styles": new_styles, "review": review,
                                    "before": _score(before, a, c, cfg=cfg)}
            for name, rej in (("accepted only", False), ("accepted + rejected", True)):
                reviewed = _reviewed_data(lib, labels, b.tracks, features=dev.features, offset=offset,
                                          with_rejections=rej)
                train = SectionData(a.tracks + reviewed.tracks, dev.features, dev.backbone)
                fold[name] = {**_score(_fit(train, cfg=cfg), train, c, cfg=cfg), **train.rejection_counts()}
            lib.close()
        full = SectionData(a.tracks + b.tracks, dev.features, dev.backbone)
        fold["B fully labelled"] = _score(_fit(full, cfg=cfg), full, c, cfg=cfg)
        folds.append(fold)
    pooled = {}
    for name in CONDITIONS:
        w = np.array([f[name]["windows"] for f in folds], dtype=np.float64)
        pooled[name] = {k: float(np.dot(w, [f[name][k] for f in folds]) / w.sum())
                        for k in ("accuracy", "macro_f1", "majority", "logreg", "f3")}
        pooled[name]["not_windows_trained"] = int(sum(f[name]["not_windows_trained"] for f in folds))
    return {"folds": folds, "pooled": pooled, "accept_at": accept_at}


def print_loop(out: dict[str, Any]) -> None:
    """The pooled table, one line per condition, and each fold's review counts.

    Parameters
    ----------
    out : dict
        :func:`rejection_loop`'s result.
    """
    print(f"the simulated user accepts a suggestion right at >= {out['accept_at']:.0%} of its windows")
    for f in out["folds"]:
        r = f["review"]
        print(f"fold: labelled {', '.join(f['labelled styles'])}; new {', '.join(f['new styles'])}: "
              f"{r['suggestions']} suggestions reviewed, {r['accepted']} accepted, {r['rejected']} rejected; "
              + "; ".join(f"{n} {f[n]['accuracy']:.3f}" for n in CONDITIONS))
    print(f"{'condition (scored on the unreviewed tracks)':<44} {'accuracy':>9} {'macro F1':>9} {'F @3 s':>7} "
          f"{'majority':>9} {'logreg':>7} {'not-windows':>12}")
    for name, r in out["pooled"].items():
        print(f"{name:<44} {r['accuracy']:>9.3f} {r['macro_f1']:>9.3f} {r['f3']:>7.3f} {r['majority']:>9.3f} "
              f"{r['logreg']:>7.3f} {r['not_windows_trained']:>12d}")
