"""Self-training on unlabelled tracks: section figures with and without it, the pools kept apart from what is scored.

Same sets and code path as ``bench_sections_devset.py`` (the devset rendered with ``--sections``, the demo library),
with ``train_sections(..., unlabelled=POOL)`` (:mod:`workbench.train.sections.self_training`). Each pool is a
set of tracks with their truth removed (``sections=[]``: never read). Which column is honest:

- the devset model (trained on the devset's dev tracks) self-trains on the devset's **held-out** tracks: its
  in-domain (a grouped quarter of the dev tracks) and leave-one-style-out columns score tracks outside the pool
  (honest; the pool is the same library's other tracks); ``devset dev -> held-out`` scores the pool itself
  (**transductive**); ``devset -> demo`` is another generator, not in the pool;
- the demo model self-trains on the devset's **dev** tracks: ``demo -> devset, dev`` scores the pool itself
  (**transductive**: the user's unlabelled library, the music the suggestions must hold on); ``demo -> devset,
  held-out`` scores tracks never in the pool (**the honest cross-generator column**); the demo's in-domain and
  leave-one-style-out columns say whether a foreign pool costs the labelled music anything.

Pseudo-labels are never counted as truth: every figure scores labelled windows of tracks with their own truth.
``--config`` holds the section config (e.g. ``'{"self_training_rounds": 1}'``); ``{}`` gives the defaults (no
self-training; the figures equal ``bench_sections_devset.py``'s columns of the same names).

    NUMBA_CPU_NAME=generic nice -n 10 .venv/bin/python benchmarks/bench_sections_selftrain.py \\
        --devset /work/wt/devdata/sections-s18 --library-dir COPY/lib --demo-dir COPY/demo --seed 0 \\
        --config '{"self_training_rounds": 2}' [--json OUT]

Session 10 (2026-12-06, 10:13-10:53 UTC, load 9-14 on the shared 2 cores; 160-720 s a run; figures seeded). Option
added, not the default (``self_training_rounds`` 0). Copies ``/tmp/h10s/lib[2]``, ``/tmp/h10s/demo[2]``; ``--config``
``{}`` / ``{"self_training_rounds": R[, "self_training_threshold": 0.9]}`` (weight 0.5, cap 1 throughout), seeds
0/1/2 (mean); accuracy smoothed; T = transductive (the pool scored); "sECE" the suggestion ECE as served::

                          devset     devset     devset      devset     demo       demo       demo -> devset  demo -> devset
                          in-dom.    LOSO dev   dev->held T -> demo    in-dom.    LOSO       dev T           held-out (honest)
    defaults (rounds 0)   .969 x 3   .861/.841/.862 .994/.983/.983 .808/.818/.821 .987/1/.987 .871/.880/.886 .778/.756/.766 .767/.767/.741
                          (.969)     (.855)     (.987)      (.816)     (.991)     (.879)     (.767)          (.758)
    rounds 1, thr. 0.8    (.967)     .849/.863/.862 (.990)  (.811)     (.990)     .870/.879/.870 .840/.790/.827 .825/.798/.823
                                     (.858)                            (.873)     (.819)          (.815)
    rounds 2, thr. 0.8    .969 x 3   .849/.863/.862 .994/.994/.983 .804/.807/.825 .982/1/.982 .868/.879/.859 .886/.823/.829 .852/.804/.818
                          (.969)     (.858)     (.990)      (.812)     (.988)     (.868)     (.846)          (.825)
    rounds 2, thr. 0.9    .969/.961/.969 .842/.842/.861 .994/.994/.983 .809/.806/.815 .982/1/.987 .881/.879/.868 .869/.829/.858 .846/.833/.851
                          (.967)     (.848)     (.990)      (.810)     (.990)     (.876)     (.852)          (.843)
    F @3 s defaults / r2 t0.9: demo -> devset dev .787 -> .877, held-out .834 -> .855 (novelty .750 / .742); the rest
    within 0.01. Arg-max demo -> devset dev / held-out .502 / .461 -> .704 / .655 (r2 t0.8), .708 / .654 (r2 t0.9).
    sECE (mean)           .102       .054       .084        .261       .068       .085       .091            .097
      rounds 1, 0.8       .094       .059       .080        .251       .068       .106       .073            .096
      rounds 2, 0.8       .095       .059       .076        .246       .070       .108       .076            .113
      rounds 2, 0.9       .104       .055       .090        .256       .065       .092       .057 (.041/.074/.055) .062 (.035/.069/.082)

Pseudo-labels used (seed 0): the demo model 1,420 then 1,873 windows on 26 of 30 devset dev tracks at 0.8 (791 then
1,548 on 25 at 0.9), the devset model ~1,000 on its 10 held-out tracks; every LOSO fold ~1,000-2,400. Per label
(demo model, r2 t0.9): intro 568, break 410, outro 375, build 195, never drop or chorus: the tie (``tie_weight``
0.5) halves their stated confidence, so they never pass the threshold. The user's unlabelled music teaches the
model its intros, breaks, outros and builds; the naming errors that remain are the song-vs-EDM ones (chorus/drop).
Calibration: pseudo-labels did not make the served confidence worse across generators at 0.9 (0.091 / 0.097 ->
0.057 / 0.062; the window ECE after temperature 0.187 / 0.206 -> 0.076 / 0.115), at 0.8 the honest column's rose
(0.097 -> 0.113); the stated suggestion ECE stays 0.15-0.16. Costs: devset LOSO (pool: the same library's held-out
tracks) +0.003 at 0.8 but -0.007 at 0.9 (seed 0: 0.861 -> 0.849 / 0.842: the trap/afrohouse fold); devset ->
demo -0.004 to -0.006 (arg-max 0.590 -> 0.53-0.55: a same-generator pool specialises the model on its generator);
demo LOSO with a foreign pool -0.011 at 0.8, -0.003 at 0.9. Rounds 3 (seed 0, harness): demo -> devset dev 0.886
as rounds 2, demo LOSO 0.859. Weight 1.0 / 0.25 at rounds 1 (seed 0): 0.826 / 0.826 vs 0.840 at 0.5; threshold 0.7:
0.806. Chosen on seed 0's dev columns (harness: demo -> devset dev and demo LOSO); the bench printed the held-out
columns at every run, the threshold-0.9 row was run after the rounds-2 row had been seen whole. Not a default:
the devset's LOSO falls at 0.9 and devset -> demo at both (the rule: no dev column lower); ``config=
{"self_training_rounds": 2, "self_training_threshold": 0.9}`` is the one to try on a library whose music is unlike
the labelled tracks. Target 0.85 across generators: met on the transductive column's mean (0.852, seeds 0.869 /
0.829 / 0.858), missed on the honest one (0.843); suggestion ECE < 0.05 at seed 0 only. Refitting the global input
statistics on the target (AdaBN-like) is a no-op here: every window column is already standardised within its
track (``track_norm``), so the demo's and the devset's column means and stds agree (shift 0.000 train-std median,
0.14 max on the "ends" columns; std ratio 1.000): the per-track refit is already the default. Cost: every LOSO fold
self-trains too, so ``train_sections`` on the demo with the 30-track pool took 26 s (rounds 0), 47 s (1), 108 s (2)
at load 7-10 (seed 0, harness).

Session 11 (2026-12-06, 12:56-14:05 UTC, load 10-13; 270-410 s a run): which pseudo-labels enter
(``self_training_select``: ``stated`` the default, ``untied`` the threshold on the confidence before the chorus/drop
tie, ``label_quantile`` each label's most confident ``self_training_quantile`` share; ``self_training_tied_threshold``
the pair's own threshold with ``untied``) and rounds 3 / cap 2. Copies ``/tmp/h11s/lib[2]``, ``/tmp/h11s/demo[2]``;
rounds 2, threshold 0.9 and weight 0.5 unless named; seed 0 of rounds 2 threshold 0.9 rerun: the same figures to
the third decimal as above (the row above is the baseline). Chosen on the dev and transductive columns; the held-out
column was read for the chosen row only ("-": not looked at)::

                          devset     devset     devset      devset     demo       demo       demo -> devset  demo -> devset
                          in-dom.    LOSO dev   dev->held T -> demo    in-dom.    LOSO       dev T           held-out (honest)
    untied (seed 0)       .936       .842       .983        .807       .982       .870       .810            -
    quantile 0.5 (seed 0) .936       .861       .990        .822       .982       .835       .820            -
    untied, tied 0.95     .969/.961  .842/.842  .994/.994   .827/.815  .987/1     .868/.870  .844/.804       -
     (seeds 0/1)          (.965)     (.842)     (.994)      (.821)     (.994)     (.869)     (.824)
    rounds 3              .969 x 3   .842/.842/.861 .994/.994/.979 .815/.806/.827 .987/1/.984 .879/.879/.868 .885/.820/.868 -
                          (.969)     (.848)     (.989)      (.816)     (.990)     (.875)     (.858)
    cap 2                 .969/.961/.969 .842/.842/.861 .994/.994/.983 .809/.806/.815 .987/1/.987 .879/.879/.870 .876/.844/.862 -
                          (.967)     (.848)     (.990)      (.810)     (.991)     (.876)     (.861)
    rounds 3, cap 2       .969 x 3   .842/.842/.861 .994/.994/.979 .815/.806/.827 .982/1/.987 .868/.879/.868 .886/.863/.876 .872/.860/.860
      (chosen)            (.969)     (.848)     (.989)      (.816)     (.990)     (.871)     (.875)          (.864)
    F@3 s demo -> devset dev T: untied .871, quantile .831, tied 0.95 .884/.855, rounds 3 .908/.836/.872 (.872),
    cap 2 .879/.870/.880 (.876; baseline .877), rounds 3 cap 2 .907/.900/.906 (.904); held-out .860/.863/.885 (.869,
    baseline .855, defaults .834). sECE as served, demo -> devset dev T: untied .082, quantile .102,
    tied 0.95 .058/.075, rounds 3 .075/.062/.067 (.068), cap 2 .075/.044/.072 (.064; baseline .057),
    rounds 3 cap 2 .086/.051/.063 (.066); held-out .116/.082/.073 (.091; baseline .062, defaults .097); devset LOSO
    .055-.067 throughout. Rounds 3 cap 2 with ``confidence_map_per="suggestion"`` (the same models, accuracy equal):
    sECE pool .082/.052/.061 (.065), devset LOSO .079 (was .059), demo LOSO .093 (.105), devset -> demo .185 (.266);
    no column under 0.05, held-out not looked at.

Why letting chorus and drop in does not help: the pseudo-labels' precision against the pool's truth (harness, seed
0, the demo model's first round; dev data): ``stated`` 0.9: 791 windows, 0.996 (intro, build, break, outro only);
``stated`` 0.8: 0.965 (46 verse windows, every one wrong); ``untied`` 0.9: 0.841 (drop 127 at 0.83, **chorus 145 at
0.00**); ``untied`` with the pair at 0.95: 0.996 (62 drops, all right) at seed 0, but at seed 1 48 then 145 chorus
windows, all wrong (so .804 on the pool); ``label_quantile`` 0.5 / 0.25 / 1.0: 0.77 / 0.74 / 0.73 (chorus 0.19 / 0 /
0.32, verse 0.15 / 0 / 0.50, drop 0.86). The demo model's confident "chorus" on the devset is the devset's verse
(seed 1, rounds 2, the pool decoded: verse -> chorus 232 windows, chorus -> drop 148, outro -> drop 136, build -> drop
81, verse -> drop 71): the tie is right to keep the pair's sound-based confidence low, and self-training cannot
teach a naming the labelled music does not have. What helps is more of the labels it names right: cap 2 (the intro
windows were capped at 1x the labelled ones) lifts the pool on every seed (+.007/+.015/+.004) with every devset
column and the demo's within 0.005; rounds 3 is unstable (seed 1 .829 -> .820). ``label_quantile`` kept the devset's
LOSO at seed 0 (.861: a same-generator pool names chorus and drop right) but costs the demo's LOSO (.835) and the
pool (.820). Rounds 3 with cap 2 (the demo model: 2,041-2,281 pseudo windows, intro 808-865, outro 476-659,
break 441-453, build 247-320; never chorus, drop or verse) is best on the pool at every seed (+.017/+.034/+.018 over
rounds 2) and, read once after the choice, the first setting at 0.85 or more across generators on tracks never in
the pool at every seed (.872/.860/.860; defaults .767/.767/.741); its costs are those of rounds 2 (devset LOSO seed
0 .861 -> .842) plus the demo's LOSO at seed 0 (.881 -> .868), and the served suggestion ECE across generators
rises (.062 -> .091: the Platt map is fitted on the demo's out-of-fold suggestions, which already come from
self-trained fold models; more confident pseudo-trained models are over-confident on another generator). Not a
default (the devset's LOSO at seed 0 and the ECE); ``config={"self_training_rounds": 3, "self_training_threshold":
0.9, "self_training_cap": 2.0}`` is the one to try on music unlike the labelled tracks. The new selections stay
options, off (``stated``).

Session 17 (2026-12-07, 07:33-07:58 UTC, load 5-12, 3-5 runs at once, 153-544 s a run), the demo model only
(``--no-devset-model``; copies of ``/tmp/h17-sections/lib_bS``, ``demo_bS`` in ``/tmp/h17-selftrain``, one torch
thread): the chosen setting on today's code and a sweep around it at seed 0, chosen on ``demo -> devset dev`` (the
pool, transductive) with the demo's columns; the held-out column read only for the chosen row (it had been read for
it in session 11)::

                          demo in-dom.   demo LOSO      demo -> devset dev T   held-out (honest)   defaults (session 17)
    rounds 3, cap 2, 0.9  .982/1/.982    .868/.879/.868 .895/.840/.864 (.866)  .872/.859/.892 (.874)
    rounds 3, cap 2, 0.85 .982           .870           .885                   -
    rounds 3, cap 2, 0.95 .987           .870           .835                   -
    rounds 4, cap 2, 0.9  .987           .868           .872                   -
    defaults              .987/1/.987    .871/.880/.886 .778/.755/.766 (.766)  .767/.767/.741 (.758)

F @3 s dev T .922/.865/.908, held-out .850/.868/.921 (defaults .795-.797, .818-.855); suggestion ECE as served dev
T .087/.041/.059, held-out .109/.071/.098 (per suggestion .091/.077/.108; defaults .113-.136). Session 11's choice
stays the best on the pool at seed 0 (.895; session 11's code .886; seed 1 .840 against .863 then: the training
path changed since, the seeds' trajectories with it); held-out mean .874 (session 11 .864). It costs the demo's
own columns a little here (in-domain -.005 at seeds 0 and 2, one of 6 test tracks; LOSO -.003/-.001/-.018), so it
stays off. ``make demo``'s cross-generator line with this setting: ``bench_sections_selftrain_demo.py``.

Session 19: the same setting with ``"self_training_gate": 0.9`` (only pool tracks out of the labelled tracks' domain,
:mod:`workbench.train.sections.domain_gate`; the devset model's same-generator pool is left out, the demo model's
devset pool kept), every cell and command in ``bench_sections_devset_history.md`` ("Session 19").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sections import demo_data  # noqa: E402
from bench_sections_devset import devset_data  # noqa: E402
from bench_sections_table import _inside, row, strict_json, table  # noqa: E402


def unlabelled(data) -> list:
    """The tracks of ``data`` with their truth removed (a pool of unlabelled tracks)."""
    return [replace(t, sections=[], rejected=[]) for t in data.tracks]


def pseudo_summary(metrics: dict) -> dict:
    """How many pseudo-labelled windows and tracks the final model and the LOSO folds used."""
    st = metrics.get("self_training") or {}
    loso = (metrics.get("transfer") or {}).get("leave_one_group_out") or {}
    return {"pool_tracks": st.get("pool_tracks", 0), "pseudo_windows": st.get("pseudo_windows", 0),
            "pseudo_tracks": st.get("pseudo_tracks", 0), "per_round": [r["windows"] for r in st.get("rounds", [])],
            "per_label": (st.get("rounds") or [{}])[-1].get("per_label", {}),
            "loso_pseudo_windows": loso.get("self_training", {}),
            "route": st.get("route"), "loso_served_base": loso.get("served_base_model"),
            "served_base": {k: v.get("served_base_model") for k, v in ((metrics.get("transfer") or {}).get("external")
                                                                       or {}).items()},
            "gate": {k: v for k, v in (st.get("gate") or {}).items() if k != "distances"} or None}


def run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--n-tracks``, ``--seed``, ``--config`` and ``--json``, the run arguments of the self-training benches."""
    parser.add_argument("--n-tracks", type=int, default=24, help="demo tracks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=json.loads, default={}, help="section config overrides, JSON")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")


def finish(out: dict, cols: dict, *, t0: float, json_path: Path | None) -> None:
    """Print each model's pseudo-labels (``out["pseudo"]``) and the wall time; write ``out`` with ``cols`` as JSON."""
    for name, p in out["pseudo"].items():
        print(f"{name}: {p['pseudo_windows']} pseudo-labelled windows on {p['pseudo_tracks']} of {p['pool_tracks']} "
              f"tracks (rounds {p['per_round']}; {p['per_label']}); LOSO folds {p['loso_pseudo_windows']}"
              + (f"; gate: {p['gate']['out_of_domain']} out of domain, {p['gate']['in_domain']} in" if p["gate"] else "")
              + (f"; route: tracks served the base model, LOSO folds {p['loso_served_base']}, other sets "
                 f"{p['served_base']}" if p["route"] and p["loso_served_base"] is not None else ""))
    print(f"\n({time.perf_counter() - t0:.0f} s in all)")
    out["columns"] = cols
    if json_path:  # strict JSON: a figure not measured (NaN) is null, as strict parsers (jq, JSON.parse) accept
        json_path.write_text(json.dumps(strict_json(out), indent=1, allow_nan=False, default=float) + "\n")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, required=True, help="a devset rendered with --sections")
    parser.add_argument("--library-dir", type=Path, required=True, help="library of the devset (written to)")
    parser.add_argument("--demo-dir", type=Path, required=True, help="keep (and reuse) the demo library here")
    run_arguments(parser)
    parser.add_argument("--no-devset-model", action="store_true", help="only the demo model's columns")
    args = parser.parse_args()

    from workbench.train.sections import train_sections

    t0 = time.perf_counter()
    dev_data, split = devset_data(args.devset, library_dir=args.library_dir)
    dev_ids = [t for t, s in split.items() if s == "dev"]
    held_ids = [t for t, s in split.items() if s == "held_out"]
    demo = demo_data(args.n_tracks, seed=args.seed, folder=args.demo_dir)
    print(f"devset: {len(dev_ids)} dev + {len(held_ids)} held-out tracks; demo {len(demo.tracks)} tracks "
          f"({time.perf_counter() - t0:.0f} s to load); config {args.config}")
    cfg = {**args.config, "seed": args.seed}
    cols: dict[str, dict] = {}
    out: dict = {"config": args.config, "seed": args.seed, "pseudo": {}}
    if not args.no_devset_model:
        t1 = time.perf_counter()
        res = train_sections(dev_data.subset(dev_ids), config=cfg, progress=False,
                             unlabelled=unlabelled(dev_data.subset(held_ids)),
                             external={"held": dev_data.subset(held_ids), "demo": demo})
        m = res.metrics
        cols["devset in-domain, dev"] = row(_inside(res))
        cols["devset LOSO, dev"] = row(m["transfer"]["leave_one_group_out"])
        cols["devset dev->held (transd.)"] = row(m["transfer"]["external"]["held"])
        cols["devset -> demo"] = row(m["transfer"]["external"]["demo"])
        out["pseudo"]["devset model (pool: devset held-out)"] = pseudo_summary(m)
        print(f"devset model: {time.perf_counter() - t1:.0f} s")
    t1 = time.perf_counter()
    res = train_sections(demo, config=cfg, progress=False, unlabelled=unlabelled(dev_data.subset(dev_ids)),
                         external={"dev": dev_data.subset(dev_ids), "held": dev_data.subset(held_ids)})
    m = res.metrics
    cols["demo in-domain"] = row(_inside(res))
    cols["demo LOSO"] = row(m["transfer"]["leave_one_group_out"])
    cols["demo->devset dev (transd.)"] = row(m["transfer"]["external"]["dev"])
    cols["demo -> devset, held-out"] = row(m["transfer"]["external"]["held"])
    out["pseudo"]["demo model (pool: devset dev)"] = pseudo_summary(m)
    print(f"demo model: {time.perf_counter() - t1:.0f} s\n")
    table(cols)
    finish(out, cols, t0=t0, json_path=args.json)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
