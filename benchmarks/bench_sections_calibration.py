"""Section confidences across generators: which temperature rule, fitted on the demo alone, carries to the devset.

Trains the demo model as ``bench_sections_devset.py`` does (``train_sections(demo, external=...)``: the temperature
and the suggestions' Platt map are fitted on its leave-one-style-out predictions, each style scored by a model that
never saw it) and scores it on the FluidSynth devset's dev tracks (another generator) under temperature rules, each
fitted on the demo's out-of-fold windows only (no devset label is used, except by the "oracle" line, printed as a
diagnostic):

- ``pooled`` (the default): one temperature, fitted on every out-of-fold window;
- ``mean_group`` / ``max_group``: the mean / largest of the per-style temperatures (each style's own fit);
- ``shift``: a per-track temperature ``exp(a + b d)``, ``d`` the share of the track's windows whose arg-max differs
  from the decoded suggestion's label (needs no label: the grammar's disagreement with the network), ``a, b``
  fitted on the out-of-fold windows by likelihood; applied after decoding (the suggestions' labels stay those
  of the ``pooled`` temperature); ``shift_decoded``: each track decoded again at its ``shift`` temperature;
- ``T=x``: fixed temperatures, and the devset's own fit (``oracle``).

The decoder reads the temperature-scaled probabilities (``segments_for(trainer.predict_proba(calibrated=True))``),
so a rule that changes the temperature changes the suggestions' labels: accuracy, per window ECE, per suggestion
ECE (served: the Platt map as trained) and the leave-one-style-out window ECE of the rule (each style's windows
under the rule fitted on the other styles) are printed per rule; ``shift`` keeps the ``pooled`` decoding (its
accuracy and suggestions are the default's; only the window probabilities change)::

    NUMBA_CPU_NAME=generic OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_sections_calibration.py \\
        --devset /work/wt/devdata/sections-s18 --library-dir LIB --demo-dir DEMO --seed S [--train-on devset] \\
        [--json OUT]

``--train-on devset``: the other way round, the devset's dev tracks (``bench_sections_devset.py``'s devset model)
scored on the demo, each rule fitted on the devset's out-of-fold windows.

Session 14 (2026-12-06, 22:05-22:40 UTC, load 2-11 on the shared 2 cores; figures seeded; copies
``/tmp/h14-cal/lib{S}c``, ``demo{S}c`` of session 14's ``/tmp/h14-sec/lib_d{S}``, ``demo_d{S}``; 133-155 s a run,
three at once). Question (issue 18): is the demo model overconfident across generators because its calibration is
fitted on in-domain folds? No: the temperature and the suggestions' map are already fitted on its leave-one-style-out
predictions (``training._calibrate``, ``transfer.leave_one_group_out``: the demo's groups are its six styles). The
``pooled`` lines reproduce ``bench_sections_devset.py``'s demo -> devset dev and devset -> demo cells exactly
(model "devset": ``--train-on devset``, 78-135 s a run). Seeds 0/1/2::

    rule          model   T               LOSO window ECE  across generators: accuracy, window ECE, per suggestion ECE
    pooled        demo    1.36/1.39/1.41  .039/.038/.046   .778/.755/.766  .193/.187/.181  .083/.075/.058
                  devset  1.00/1.03/1.02  .019/.017/.013   .808/.818/.821  .112/.125/.131  .201/.222/.203
    mean_group    demo    1.34/1.38/1.37  .042/.042/.046   .778/.752/.766  .199/.189/.188  .082/.074/.061
                  devset  0.82/0.84/0.84  .030/.030/.033   .801/.819/.818  .165/.173/.178  .164/.196/.184
    max_group     demo    2.37/2.57/2.58  .200/.241/.245   .805/.741/.765  .061/.091/.053  .109/.085/.088
                  devset  1.79/1.89/1.83  .170/.187/.174   .820/.812/.816  .081/.097/.064  .267/.305/.248
    shift         demo    2.13/2.10/2.41  .035/.041/.039   .778/.755/.766  .071/.083/.051  .083/.075/.058
                  devset  1.24/1.19/1.36  .040/.015/.032   .808/.818/.821  .055/.091/.055  .201/.222/.203
    shift_decoded demo    (same)          -                .796/.761/.741  .071/.083/.051  .086/.059/.054
                  devset  (same)          -                .818/.806/.819  .055/.091/.055  .210/.192/.187
    T=1.0         demo                                     .731/.722/.714  .275/.277/.274  .058/.085/.073
    T=1.5         devset                                   .819/.813/.821  .034/.059/.050  .233/.243/.212
    T=2.0         demo                                     .814/.773/.802  .079/.086/.072  .120/.070/.067
    oracle        demo    2.38/2.43/2.36                   .805/.749/.772  .062/.084/.052  .109/.065/.070
                  devset  1.46/1.63/1.61                   .818/.813/.821  .031/.069/.050  .226/.260/.218
    (model: demo -> devset dev, devset -> demo; floor_95 of the per suggestion ECE at 162-170 suggestions: .079-.105)

The per-style temperatures of the out-of-fold windows span 0.56 (progressive) to 2.58 (downtempo); the devset needs
2.4 (its own fit), far from the pooled 1.4: the generator shift is larger than any style shift in the demo, and a
rule that reaches it (``max_group``) ruins leave-one-style-out (.200-.245). Even the devset's own temperature leaves
a window ECE of .052-.084: one temperature cannot give < 0.05 across generators. ``shift`` (a per-track temperature
grown with the share of windows the grammar overrules: 0.18 of the out-of-fold windows, 0.40 of the devset's; ``b``
1.75-2.15) brings the window ECE across generators from .181-.193 to .051-.083 and keeps leave-one-style-out
(.035-.041), but the window probabilities are not what is served (the labeler shows suggestions), and decoding at
it (``shift_decoded``) moves accuracy both ways (+.018/+.006/-.025): not worth the change. The decoder reads the
temperature-scaled probabilities, so a temperature is also a decoding weight (T 1 -> 2: accuracy .731 -> .814 at
seed 0). As served, the suggestions across generators are under-, not overconfident: mean served confidence
.808/.822/.838 against .890/.873/.873 of suggestions right (ECE .083/.075/.058, under floor_95 .096/.091/.088):
a map that lowers confidence on unfamiliar tracks makes them worse (a Platt map on logit confidence plus the track's
disagreement, fitted on the out-of-fold suggestions: devset .140/.091/.115, leave-one-style-out .074/.097/.078
against the default map's .050/.056/.043 in the same offline replay).

With the devset model ``shift`` also lowers the window ECE on the demo (.112/.125/.131 -> .055/.091/.055) and stays
under 0.05 in
leave-one-style-out (but .019 -> .040 and .013 -> .032 at seeds 0 and 2). The suggestions as served are
underconfident across generators in both directions (mean served confidence against the share of suggestions
right, ``pooled``): demo -> devset .808/.822/.838 vs .890/.873/.873, devset -> demo .743/.733/.752 vs
.870/.877/.871 (ECE .201-.222, far over floor_95 .081-.091). Across generators the window probabilities are unsure
(arg-max right 0.51 demo -> devset) while the grammar still gets 87-89 % of the suggestions right, so the stated
confidence, mapped by what it meant within one generator, is too low: every rule that raises the temperature lowers
it further (``max_group``, ``oracle``: per suggestion .218-.305 devset -> demo). What would help the served
confidence is a map that trusts the grammar more on unfamiliar music, not a softer temperature.

Fold models trained as long as the final model (``--config '{"transfer_epochs": 40, "transfer_samples_per_epoch":
4096}'``, default 12 and 2,048; full ``bench_sections_devset.py`` seeds 0/1/2, 430-442 s a run, three at once at load
7-9, then ``bench_sections_targets.py`` against session 14's default runs): their out-of-fold windows are sharper,
the fitted temperature 1.95/2.00 at seeds 0/1, and the cross-generator window ECE falls (demo -> devset dev .193/.187/.181 ->
.086/.086/.069, devset -> demo .112/.125/.131 -> .036/.059/.062), but every other calibration cell gets worse (demo
LOSO window ECE .039/.038/.046 -> .074/.074/.079, per suggestion .050/.056/.043 -> .098/.055/.067; demo in-domain
window ECE .040/.045/.058 -> .118/.142/.148; demo -> devset dev per suggestion .083/.075/.058 -> .169/.108/.155) and
demo LOSO accuracy falls (.871/.880/.886 -> .851/.862/.851; devset LOSO dev .861/.841/.862 -> .860/.853/.861; demo ->
devset dev .778/.755/.766 -> .814/.773/.802): 53 of 60 target cells against the default's 57, not the default.
Nothing was chosen: held-out columns not read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sections import demo_data  # noqa: E402
from bench_sections_devset import data_arguments, devset_data  # noqa: E402

FIXED = (1.0, 1.5, 2.0, 2.5, 3.0)


def row_temperature(probs: np.ndarray, temperature: np.ndarray) -> np.ndarray:
    """Softmax of ``log(probs) / temperature`` with one temperature per row (shape (n, K) and (n,))."""
    z = np.log(np.clip(probs, 1e-12, 1.0)) / np.asarray(temperature, dtype=np.float64)[:, None]
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_shift(probs: np.ndarray, y: np.ndarray, disagreement: np.ndarray) -> np.ndarray:
    """``(a, b)`` of the per-row temperature ``exp(a + b d)`` that minimises the negative log-likelihood."""
    from scipy.optimize import minimize

    logp = np.log(np.clip(probs, 1e-12, 1.0))

    def nll(ab: np.ndarray) -> float:
        """Mean negative log-likelihood of ``y`` at ``(a, b)``."""
        z = logp / np.exp(ab[0] + ab[1] * disagreement)[:, None]
        z -= z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))

    return minimize(nll, np.array([0.3, 0.0]), method="Nelder-Mead").x


def per_track(values: np.ndarray, track_ids: np.ndarray) -> np.ndarray:
    """Each row's track mean of ``values``."""
    out = np.empty(len(values), dtype=np.float64)
    for t in np.unique(track_ids):
        out[track_ids == t] = np.mean(values[track_ids == t])
    return out


def main() -> None:
    from workbench.evaluate.calibration import (
        apply_confidence_map,
        apply_temperature,
        expected_calibration_error,
        fit_temperature,
    )
    from workbench.evaluate.span_calibration import span_outcomes
    from workbench.train.sections import CONFIG_DEFAULTS, train_sections
    from workbench.train.sections import training as training_module
    from workbench.train.sections.external import suggestion_ece
    from workbench.train.sections.suggestions import SMOOTHING_DEFAULTS, segments_for
    from workbench.train.sections.transfer import _smoothed, _suggestion_at

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-on", choices=("demo", "devset"), default="demo",
                        help="the set the model is trained on (the other one's tracks are scored)")
    parser.add_argument("--config", type=json.loads, default={}, help="section config overrides, JSON")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    t0 = time.perf_counter()
    dev, split = devset_data(args.devset, library_dir=args.library_dir or args.devset.with_name(args.devset.name + "-lib"))
    dev_tracks = dev.subset(t for t, s in split.items() if s == "dev")
    demo = demo_data(24, seed=args.seed, folder=args.demo_dir)  # None: a temporary folder
    train, test = (demo, dev_tracks) if args.train_on == "demo" else (dev_tracks, demo)
    other = "devset dev" if args.train_on == "demo" else "demo"
    seen: dict = {}
    fit_calibration = training_module._calibrate

    def keep_oof(trainer, train, oof, *, enabled):
        """Record the out-of-fold predictions the trainer's temperature is fitted on."""
        seen.update(trainer=trainer, oof=oof)
        return fit_calibration(trainer, train, oof, enabled=enabled)

    training_module._calibrate = keep_oof
    try:
        res = train_sections(train, config={**args.config, "seed": args.seed}, progress=False)
    finally:
        training_module._calibrate = fit_calibration
    trainer, oof = seen["trainer"], seen["oof"]
    cfg = {**CONFIG_DEFAULTS, **args.config, "seed": args.seed}
    opts = {k: cfg[k] for k in SMOOTHING_DEFAULTS if k in cfg}
    classes = tuple(trainer.classes_)
    tracks = [(t, trainer.predict_proba(t.features), t.window_labels()) for t in test.tracks
              if len(t.beats) and (t.window_labels() != "").any()]

    def decode(temperature: float | dict) -> dict:
        """The devset's windows and suggestions decoded at ``temperature`` (or ``{track id: temperature}``)."""
        out: dict[str, list] = {k: [] for k in ("p", "y", "pred", "conf", "tid", "sid")}
        for t, p, lab in tracks:
            keep = lab != ""
            temp = temperature[t.track_id] if isinstance(temperature, dict) else temperature
            segs = segments_for(t, apply_temperature(p, temp), classes, grammar=trainer.grammar_,
                                novelty_weight=trainer.novelty_weight_, uncertain_below=trainer.uncertain_below_,
                                **opts)
            labels_at, conf_at = _smoothed(t, segs)
            for k, v in (("p", p[keep]), ("y", lab[keep].astype(str)), ("pred", labels_at), ("conf", conf_at),
                         ("tid", np.full(len(conf_at), t.track_id)), ("sid", _suggestion_at(t, segs))):
                out[k].append(v)
        return {k: np.vstack(v) if k == "p" else np.concatenate(v) for k, v in out.items()}

    def scores(d: dict, window_probs: np.ndarray) -> dict:
        """Accuracy, window ECE (``window_probs``) and suggestion ECE (the trained map) of decoded ``d``."""
        known = np.isin(d["y"], classes)
        y = np.array([classes.index(c) for c in d["y"][known]])
        right = d["pred"] == d["y"]
        sug = suggestion_ece(d["conf"], right, trainer.confidence_map_, track_ids=d["tid"], suggestion_index=d["sid"])
        served = d["conf"] if trainer.confidence_map_ is None else apply_confidence_map(d["conf"], trainer.confidence_map_)
        return {"accuracy": float(np.mean(right)), "window_ece": expected_calibration_error(window_probs[known], y),
                "suggestion_ece": sug["span"]["after"]["ece"], "floor_95": sug["span"]["after"]["floor_95"],
                "suggestions": sug["span"]["after"]["n_suggestions"], "share_right": sug["span"]["after"]["share_right"],
                "mean_served": float(np.mean(span_outcomes(d["tid"], d["sid"], served, right)["confidence"]))}

    P, Y, tid = oof["probs"], oof["y"], oof["track_ids"]
    group_of = {t.track_id: t.group for t in train.tracks}
    G = np.array([group_of[int(i)] for i in tid])
    d_oof = per_track((P.argmax(axis=1) != np.array([classes.index(c) for c in oof["suggestion_labels"]])
                       ).astype(float), tid)
    rules = {"pooled": lambda p, y, g: fit_temperature(p, y),
             "mean_group": lambda p, y, g: float(np.mean([fit_temperature(p[g == k], y[g == k]) for k in set(g)])),
             "max_group": lambda p, y, g: max(fit_temperature(p[g == k], y[g == k]) for k in set(g))}
    result: dict = {"seed": args.seed, "train_on": args.train_on, "config": args.config, "temperature_trained": trainer.temperature_,
                    "per_style": {str(k): fit_temperature(P[G == k], Y[G == k]) for k in sorted(set(G))},
                    "rules": {}}
    loso_after = {name: np.empty_like(P) for name in (*rules, "shift")}
    for g in sorted(set(G)):
        o = G != g
        for name, rule in rules.items():
            loso_after[name][~o] = apply_temperature(P[~o], rule(P[o], Y[o], G[o]))
        a, b = fit_shift(P[o], Y[o], d_oof[o])
        loso_after["shift"][~o] = row_temperature(P[~o], np.exp(a + b * d_oof[~o]))
    base = None
    for name, rule in rules.items():
        temp = trainer.temperature_ if name == "pooled" else rule(P, Y, G)  # pooled: the trained model's own
        d = decode(temp)
        base = d if name == "pooled" else base
        result["rules"][name] = {"temperature": temp, "loso_window_ece": expected_calibration_error(loso_after[name], Y),
                                 **scores(d, apply_temperature(d["p"], temp))}
    a, b = fit_shift(P, Y, d_oof)
    d_dev = per_track((base["p"].argmax(axis=1) != np.array([classes.index(c) for c in base["pred"]])).astype(float),
                      base["tid"])
    t_dev = np.exp(a + b * d_dev)
    result["rules"]["shift"] = {"temperature": float(np.mean(t_dev)), "a": float(a), "b": float(b),
                                "disagreement_oof": float(np.mean(d_oof)), "disagreement_devset": float(np.mean(d_dev)),
                                "loso_window_ece": expected_calibration_error(loso_after["shift"], Y),
                                **scores(base, row_temperature(base["p"], t_dev))}
    d = decode({int(k): float(v) for k, v in zip(base["tid"], t_dev, strict=True)})
    result["rules"]["shift_decoded"] = {"temperature": float(np.mean(t_dev)),
                                        **scores(d, row_temperature(d["p"], t_dev))}
    known = np.isin(base["y"], classes)
    oracle = fit_temperature(base["p"][known], np.array([classes.index(c) for c in base["y"][known]]))
    for name, temp in [*((f"T={x}", x) for x in FIXED), ("oracle", oracle)]:
        d = decode(temp)
        result["rules"][name] = {"temperature": temp, **scores(d, apply_temperature(d["p"], temp))}
    lo = res.metrics["transfer"]["leave_one_group_out"]
    result["loso"] = {"accuracy": lo["model_smoothed"]["accuracy"], "window_ece": lo["calibration"]["ece_after"],
                           "suggestion_ece": lo["calibration"]["suggestions"]["span"]["after"]["ece"]}
    print(f"seed {args.seed}: {args.train_on} model, temperature {trainer.temperature_:.3f} (per style "
          + ", ".join(f"{k.split(':')[-1]} {v:.2f}" for k, v in result["per_style"].items()) + f"); {args.train_on} LOSO "
          f"accuracy {result['loso']['accuracy']:.3f}, window ECE {result['loso']['window_ece']:.3f}, "
          f"per suggestion {result['loso']['suggestion_ece']:.3f}")
    print(f"{'rule':<14}{'T':>7}{'LOSO win ECE':>14}   {f'-> {other}:':<20}{'accuracy':>9}{'window ECE':>12}"
          f"{'sugg. ECE':>11}{'floor 95':>10}{'served':>8}{'right':>7}")
    for name, r in result["rules"].items():
        lw = r.get("loso_window_ece")
        print(f"{name:<14}{r['temperature']:>7.3f}{'' if lw is None else f'{lw:.3f}':>14}   {'':>20}"
              f"{r['accuracy']:>9.3f}{r['window_ece']:>12.3f}{r['suggestion_ece']:>11.3f}{r['floor_95']:>10.3f}"
              f"{r['mean_served']:>8.3f}{r['share_right']:>7.3f}")
    print(f"(shift: a {a:.3f}, b {b:.3f}; track disagreement out-of-fold {np.mean(d_oof):.3f}, devset "
          f"{np.mean(d_dev):.3f}; {time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
