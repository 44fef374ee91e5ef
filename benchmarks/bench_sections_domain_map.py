"""Domain-aware confidence maps compared offline: each seed's two section models trained once, maps re-fitted on captured folds.

Session 19 (issue 18's ECE target across generators). ``capture`` trains, as
``bench_sections_devset.py`` does, the devset's dev tracks as a user's library (scored on the devset's
held-out tracks and on the demo) and the demo library (scored on the devset's dev and held-out
tracks), with the default config and ``confidence_map_domain`` off, and keeps each model's
leave-one-style-out suggestions, the stated confidence of its suggestions on every scored set and
each track's descriptor (:func:`~workbench.train.sections.domain_map.track_descriptor`). ``compare``
re-fits candidate maps on the folds only and prints the ECE per scored window / per suggestion
(right when half its windows are) of each: ``stated``; ``platt`` (the Platt map, what was served);
``logistic`` (a logistic regression of right on ``[logit c, log d]``, ``d`` the track's distance to
the fold's training tracks: the idea as first put, not taken); ``domain`` (the default since
session 19, :func:`~workbench.train.sections.domain_fit.fold_check`: beyond 1.25 x the farthest
held-out track, the folds' share right) and ``domain@1.0`` (margin 1); ``served``: what the default
serves after the calibration guard (the Platt map alone where ``domain`` raised the own-LOSO window ECE).
Own LOSO: each fold served by maps fitted on the other folds. Held-out columns only with ``--held-out`` (read once, after choosing)::

    NUMBA_CPU_NAME=generic nice -n 10 .venv/bin/python benchmarks/bench_sections_domain_map.py capture \\
        --devset /work/wt/devdata/sections-s19 --library-dir /tmp/h19-calib/lib0 --demo-dir /tmp/h19-calib/demo0 \\
        --seed 0 --out /tmp/h19-calib/cap0.pkl
    .venv/bin/python benchmarks/bench_sections_domain_map.py compare /tmp/h19-calib/cap{0,1,2}.pkl [--held-out]

Session 20 (issue 18, ``make demo``'s ECE across generators): ``candidates`` scores other shapes of the
Platt map on the same captures, each fitted on the folds only (own LOSO: on the other folds): per window
(``platt_w``, the default), per suggestion, per span, isotonic (scikit-learn) per window / suggestion / span,
position-aware (logistic on ``[logit c, first, last]``, per window and per suggestion) and fold-balanced
(each style weighing the same: ``balanced`` at the unweighted fit's total weight, ``balanced_unit`` at one per
fold, where Platt's C=1 prior flattens the map); prints ECE per scored window / per suggestion, seeds and mean::

    .venv/bin/python benchmarks/bench_sections_domain_map.py candidates /tmp/h19-calib/bcap{0,1,2}.pkl

Cells: ``bench_sections_devset_history.md``, "Session 19 (calibration)" and "Session 20 (served)".
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def capture(args: argparse.Namespace) -> None:
    """Train both models once for ``args.seed``; pickle their out-of-fold and scored suggestion arrays."""
    from bench_sections import demo_data
    from bench_sections_devset import devset_data

    import workbench.train.sections.external as external
    import workbench.train.sections.training as training
    from workbench.train.sections.domain_map import track_descriptor

    t0 = time.perf_counter()
    dev_data, split = devset_data(args.devset, library_dir=args.library_dir)
    demo = demo_data(24, seed=args.seed, folder=args.demo_dir)
    dev_ids = [t for t, s in split.items() if s == "dev"]
    held_ids = [t for t, s in split.items() if s == "held_out"]
    cap: dict = {}
    logo, ece = training.leave_one_group_out, external.suggestion_ece

    def keep_oof(*a, **k):
        """The library's leave_one_group_out, its out-of-fold arrays kept."""
        out, oof = logo(*a, **k)
        cap["oof"] = {key: v for key, v in oof.items() if key != "sections"}
        return out, oof

    def keep_scored(conf, right, cmap, **k):
        """The library's suggestion_ece, its stated confidences kept (external sets, then the in-domain held-out)."""
        cap.setdefault("scored", []).append({"conf": np.asarray(conf), "right": np.asarray(right),
                                             "tids": k.get("track_ids"), "sids": k.get("suggestion_index")})
        return ece(conf, right, cmap, **k)

    training.leave_one_group_out, external.suggestion_ece = keep_oof, keep_scored
    result = {"seed": args.seed, "split": split,
              "desc": {t.track_id: track_descriptor(t.frames) for t in (*dev_data.tracks, *demo.tracks)}}
    for name, train, ext in (("devset", dev_data.subset(dev_ids), {"devset held-out": dev_data.subset(held_ids),
                                                                    "demo": demo}),
                             ("demo", demo, {"devset dev": dev_data.subset(dev_ids),
                                             "devset held-out": dev_data.subset(held_ids)})):
        cap.clear()
        res = training.train_sections(train, config={"seed": args.seed, "confidence_map_domain": False},
                                      progress=False, external=ext)
        result[name] = {"oof": cap["oof"], "scored": cap["scored"], "names": [*ext, "in-domain held-out"],
                        "train_tracks": res.metrics["train_tracks"],
                        "groups": {t.track_id: t.group for t in train.tracks}}
        print(f"{name} model trained and scored ({time.perf_counter() - t0:.0f} s)", flush=True)
    args.out.write_bytes(pickle.dumps(result))


def _logistic(c_fit, r_fit, d_fit, c, d):
    """The candidate not taken: logistic regression of right on [logit c, log d] (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression

    def x(conf, dist):
        conf = np.clip(conf, 1e-4, 1 - 1e-4)
        return np.column_stack([np.log(conf / (1 - conf)), np.log(dist)])

    if r_fit.all() or not r_fit.any():
        return np.full(len(c), float(r_fit.all()))
    return LogisticRegression(C=1.0).fit(x(c_fit, d_fit), r_fit).predict_proba(x(c, d))[:, 1]


def compare_model(cap: dict, name: str, *, held_out: bool) -> dict[str, dict[str, tuple[float, float]]]:
    """ECE per window / per suggestion of every candidate map, own LOSO and each scored set of one model."""
    from workbench.evaluate.calibration import apply_confidence_map, confidence_ece, fit_platt
    from workbench.evaluate.span_calibration import span_ece
    from workbench.train.sections.domain_fit import fit_domain_map, fold_check
    from workbench.train.sections.domain_map import TrackDistance

    m, desc = cap[name], cap["desc"]
    oof = m["oof"]
    c, r = np.clip(oof["suggestion_confidence"], 0, 1), np.asarray(oof["suggestion_right"], dtype=bool)
    tids, sids, folds = oof["suggestion_track_ids"], oof["suggestion_index"], oof["suggestion_folds"]
    d = np.empty(len(c))
    for f in np.unique(folds):  # as fold_distances does, on the captured descriptors
        held = set(str(f).split(" + "))
        ref = TrackDistance.fit(np.array([desc[t] for t, g in m["groups"].items() if g not in held]))
        rows = folds == f
        d[rows] = ref.distance(np.array([desc[int(t)] for t in tids[rows]]))

    def ece(served, right, t, s):
        served = np.clip(served, 0, 1)
        return confidence_ece(served, right), span_ece(t, s, served, right)["ece"]

    platt, domain = fold_check(c, r, d, folds)
    _, domain1 = fold_check(c, r, d, folds, margin=1.0)
    logistic = c.copy()
    for f in np.unique(folds):
        o = folds != f
        logistic[~o] = _logistic(c[o], r[o], d[o], c[~o], d[~o])
    out = {"own LOSO": {"stated": ece(c, r, tids, sids), "platt": ece(platt, r, tids, sids),
                        "logistic": ece(logistic, r, tids, sids), "domain": ece(domain, r, tids, sids),
                        "domain@1.0": ece(domain1, r, tids, sids)}}
    dropped = out["own LOSO"]["domain"][0] > out["own LOSO"]["platt"][0]  # the guard: it raised the folds' ECE
    out["own LOSO"]["served"] = out["own LOSO"]["platt" if dropped else "domain"]
    train = {int(t) for t in m["train_tracks"]}
    mine = np.isin(tids, list(train))
    knots = fit_platt(c[mine], r[mine])
    reference = TrackDistance.fit(np.array([desc[t] for t in sorted(train)]))
    dm = fit_domain_map(r[mine], d[mine], reference=reference)
    dm1 = fit_domain_map(r[mine], d[mine], reference=reference, margin=1.0)
    for set_name, s in zip(m["names"], m["scored"], strict=True):
        if ("held-out" in set_name) != held_out:
            continue
        sc, sr = np.clip(s["conf"], 0, 1), np.asarray(s["right"], dtype=bool)
        ids = sorted({int(t) for t in s["tids"]})
        dist = dict(zip(ids, reference.distance(np.array([desc[t] for t in ids])), strict=True))
        sd = np.array([dist[int(t)] for t in s["tids"]])
        pl = apply_confidence_map(sc, knots)
        out[set_name] = {"stated": ece(sc, sr, s["tids"], s["sids"]), "platt": ece(pl, sr, s["tids"], s["sids"]),
                         "logistic": ece(_logistic(c[mine], r[mine], d[mine], sc, sd), sr, s["tids"], s["sids"]),
                         **{key: ece(np.where(sd > x.limit, x.share_right, pl), sr, s["tids"], s["sids"])
                            for key, x in (("domain", dm), ("domain@1.0", dm1))},
                         "served": None,
                         "unlike": (float(np.mean(sd > dm.limit)), float(np.median(sd)), dm.limit)}
        out[set_name]["served"] = out[set_name]["platt" if dropped else "domain"]
    return out


def _candidate_fits() -> dict:
    """Candidate maps: name -> fit(c, r, tids, sids, folds) -> serve(c, tids, sids) (session 20)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    from workbench.evaluate.calibration import apply_confidence_map, fit_platt
    from workbench.evaluate.span_calibration import fit_suggestion_map, per_suggestion_weights, span_outcomes

    def platt(per):
        def fit(c, r, t, s, f):
            k = fit_suggestion_map(c, r, per=per, track_ids=t, suggestion_index=s)
            return lambda x, tt, ss: apply_confidence_map(x, k)
        return fit

    def iso(per):
        def fit(c, r, t, s, f):
            w = None if per == "window" else per_suggestion_weights(t, s)
            if per == "span":
                sp = span_outcomes(t, s, c, r)
                c, r, w = sp["confidence"], sp["right"], None
            m = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(c, r.astype(float), sample_weight=w)
            return lambda x, tt, ss: m.predict(x)
        return fit

    def ends(t, s):
        last: dict = {}
        for tt, ss in zip(t, s, strict=True):
            last[tt] = max(last.get(tt, -1), ss)
        return np.column_stack([s == 0, [ss == last[tt] for tt, ss in zip(t, s, strict=True)]]).astype(float)

    def position(per):
        def x_of(c, t, s):
            c = np.clip(c, 1e-4, 1 - 1e-4)
            return np.column_stack([np.log(c / (1 - c)), ends(np.asarray(t), np.asarray(s))])

        def fit(c, r, t, s, f):
            w = None if per == "window" else per_suggestion_weights(t, s)
            m = LogisticRegression(C=1.0).fit(x_of(c, t, s), r, sample_weight=w)
            return lambda x, tt, ss: m.predict_proba(x_of(x, tt, ss))[:, 1]
        return fit

    def balanced(c, r, t, s, f):  # each fold weighs the mean fold's windows (the unweighted fit's total)
        _, inv, cnt = np.unique(f, return_inverse=True, return_counts=True)
        k = fit_platt(c, r, sample_weight=len(c) / len(cnt) / cnt[np.ravel(inv)])
        return lambda x, tt, ss: apply_confidence_map(x, k)

    def balanced_unit(c, r, t, s, f):  # each fold weighs 1 in all: the same, with Platt's C=1 prior far stronger
        _, inv, cnt = np.unique(f, return_inverse=True, return_counts=True)
        k = fit_platt(c, r, sample_weight=1.0 / cnt[np.ravel(inv)])
        return lambda x, tt, ss: apply_confidence_map(x, k)

    return {"platt_w": platt("window"), "platt_s": platt("suggestion"), "platt_span": platt("span"),
            "iso_w": iso("window"), "iso_s": iso("suggestion"), "iso_span": iso("span"),
            "position_w": position("window"), "position_s": position("suggestion"), "balanced": balanced, "balanced_unit": balanced_unit}


def candidates(cap: dict, name: str) -> dict[str, dict[str, tuple[float, float]]]:
    """ECE per window / per suggestion of each candidate map: own LOSO and the dev scored sets (session 20)."""
    from workbench.evaluate.calibration import confidence_ece
    from workbench.evaluate.span_calibration import span_ece

    m, fits = cap[name], _candidate_fits()
    oof = m["oof"]
    c, r = np.clip(oof["suggestion_confidence"], 0, 1), np.asarray(oof["suggestion_right"], dtype=bool)
    t, s, f = oof["suggestion_track_ids"], oof["suggestion_index"], oof["suggestion_folds"]

    def ece(x, right, tt, ss):
        x = np.clip(x, 0, 1)
        return confidence_ece(x, right), span_ece(tt, ss, x, right)["ece"]

    out: dict = {"own LOSO": {}}
    for key, fit in fits.items():
        x = c.copy()
        for g in np.unique(f):
            o = f != g
            x[~o] = fit(c[o], r[o], t[o], s[o], f[o])(c[~o], t[~o], s[~o])
        out["own LOSO"][key] = ece(x, r, t, s)
    mine = np.isin(t, [int(k) for k in m["train_tracks"]])
    served = {key: fit(c[mine], r[mine], t[mine], s[mine], f[mine]) for key, fit in fits.items()}
    for set_name, sc in zip(m["names"], m["scored"], strict=True):
        if "held-out" in set_name:  # never read here
            continue
        x, right = np.clip(sc["conf"], 0, 1), np.asarray(sc["right"], dtype=bool)
        tt, ss = np.asarray(sc["tids"]), np.asarray(sc["sids"])
        out[set_name] = {key: ece(serve(x, tt, ss), right, tt, ss) for key, serve in served.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    cp = sub.add_parser("capture", help="train both models once for a seed and keep their arrays")
    from bench_sections_devset import data_arguments

    data_arguments(cp)
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--out", type=Path, required=True, help="the pickle written")
    cmp_ = sub.add_parser("compare", help="candidate maps on captured arrays")
    cmp_.add_argument("captures", type=Path, nargs="+")
    cmp_.add_argument("--held-out", action="store_true", help="the held-out columns (read once, after choosing)")
    cand = sub.add_parser("candidates", help="other shapes of the Platt map on captured arrays (dev columns only)")
    cand.add_argument("captures", type=Path, nargs="+")
    args = parser.parse_args()
    if args.cmd == "capture":
        capture(args)
        return
    if args.cmd == "candidates":
        cells: dict = {}
        for path in args.captures:
            cap = pickle.loads(path.read_bytes())
            for name in ("devset", "demo"):
                for col, by_key in candidates(cap, name).items():
                    cells.setdefault(f"{name}: {col}", {}).setdefault(cap["seed"], by_key)
        for col, by_seed in cells.items():
            print(f"\n{col}: ECE per scored window / per suggestion, seeds {' / '.join(map(str, by_seed))} (mean)")
            for key in next(iter(by_seed.values())):
                w, sg = ([v[key][i] for v in by_seed.values()] for i in (0, 1))
                print(f"  {key:<12} {'/'.join(f'{v:.3f}' for v in w)} ({np.mean(w):.3f})   "
                      f"{'/'.join(f'{v:.3f}' for v in sg)} ({np.mean(sg):.3f})")
        return
    for path in args.captures:
        cap = pickle.loads(path.read_bytes())
        for name in ("devset", "demo"):
            print(f"\nseed {cap['seed']}, the {name}'s model: ECE per scored window / per suggestion")
            for col, cells in compare_model(cap, name, held_out=args.held_out).items():
                unlike = cells.pop("unlike", None)
                print(f"  {col:<20}" + "  ".join(f"{k} {w:.3f}/{s:.3f}" for k, (w, s) in cells.items())
                      + ("" if unlike is None else f"  (unlike: {unlike[0]:.0%} of windows, median distance "
                                                   f"{unlike[1]:.2f}, limit {unlike[2]:.2f})"))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
