"""The rows and the printed table of bench_sections_devset.py (one column per evaluation, targets marked)."""

from __future__ import annotations

import math

import numpy as np
from bench_sections import ACC_TARGET, ECE_TARGET, HIT05_TARGET, HIT3_TARGET, IO_TARGET


def _num(v) -> float:
    return float("nan") if v is None else float(v)


def _served(sug: dict):
    """The suggestion ECE of what the model serves: through its map, or as stated where the map was dropped."""
    return sug.get("ece_before") if sug.get("ece_after") is None else sug["ece_after"]


def _span(sug: dict) -> dict:
    """The suggestion ECE counted per suggestion (its span right or not), served, with its count, interval, floor."""
    sp = (sug.get("span") or {}).get("after") or {}
    nan = float("nan")
    lo, hi = sp.get("interval") or (nan, nan)
    return {"span_ece_before": _num(((sug.get("span") or {}).get("before") or {}).get("ece")),
            "span_ece_after": _num(sp.get("ece")), "span_lo": lo, "span_hi": hi, "span_floor": _num(sp.get("floor")),
            "span_floor95": _num(sp.get("floor_95")),
            "span_n": sp.get("n_suggestions", nan)}


def row(lo: dict) -> dict:
    """The figures of one evaluation (model smoothed, baselines, boundaries, calibration)."""
    seg = lo["segments"]
    return {"accuracy": lo["model_smoothed"]["accuracy"], "accuracy_raw": lo["model"]["accuracy"],
            "macro_f1": lo["model_smoothed"]["macro_f1"],
            "majority": lo["baselines"]["majority"]["accuracy"], "logreg": lo["baselines"]["logreg"]["accuracy"],
            "majority_f1": lo["baselines"]["majority"]["macro_f1"], "logreg_f1": lo["baselines"]["logreg"]["macro_f1"],
            "f3": seg["smoothed"]["boundary_f_3s"], "f05": seg["smoothed"]["boundary_f_0.5s"],
            "f3_novelty": seg["novelty"]["boundary_f_3s"], "f05_novelty": seg["novelty"]["boundary_f_0.5s"],
            "io": (lo.get("intro_outro_confusion") or {}).get("model_smoothed") or 0.0,
            **_io_directions(lo["model_smoothed"]),
            "ece_before": lo["calibration"].get("ece_before", float("nan")),
            "ece_after": lo["calibration"].get("ece_after", float("nan")),
            "sug_ece_before": _num((lo["calibration"].get("suggestions") or {}).get("ece_before")),
            "sug_ece_after": _num(_served(lo["calibration"].get("suggestions") or {})),
            **_span(lo["calibration"].get("suggestions") or {}),
            "rejections": (lo.get("rejections") or {}).get("not_windows_trained", 0),
            "tracks": lo.get("tracks") or sum(r["tracks"] for r in lo["per_group"].values()),
            "families": _families(lo.get("label_families")),
            "wall_s": lo.get("wall_s", float("nan"))}


def _io_directions(scored: dict) -> dict:
    """Intro windows called outro (share of the intro windows) and outro windows called intro (of the outro ones)."""
    classes, conf = list(scored.get("classes") or []), scored.get("confusion")
    out = {"intro_as_outro": float("nan"), "outro_as_intro": float("nan")}
    if conf is None or "intro" not in classes or "outro" not in classes:
        return out
    i, o = classes.index("intro"), classes.index("outro")
    for key, t, p in (("intro_as_outro", i, o), ("outro_as_intro", o, i)):
        n = sum(conf[t])
        out[key] = conf[t][p] / n if n else float("nan")
    return out


def _families(fam: dict | None) -> dict:
    """``{track id: family}`` decoded with ``label_families="learned"`` (the in-domain block nests it), else {}."""
    fam = fam or {}
    return {str(k): v for k, v in (fam["held_out"] if "families" in fam else fam).items()}


def _inside(res) -> dict:
    """The in-domain held-out figures of a :func:`train_sections` result, in :func:`row`'s shape."""
    from workbench.train.sections.transfer import intro_outro_confusion

    m = res.metrics
    return {**m, "tracks": len(m["test_tracks"]), "intro_outro_confusion": {
        "model_smoothed": intro_outro_confusion(res.arrays["y_true"], res.arrays["y_smoothed"])}}


TARGETS = {"accuracy": ACC_TARGET, "f3": HIT3_TARGET, "f05": HIT05_TARGET, "io": -IO_TARGET, "intro_as_outro": -IO_TARGET,
           "outro_as_intro": -IO_TARGET, "ece_after": -ECE_TARGET,
           "sug_ece_after": -ECE_TARGET, "span_ece_after": -ECE_TARGET}
LINES = [("frame accuracy, smoothed", "accuracy"), ("frame accuracy, arg-max", "accuracy_raw"),
         ("frame accuracy, majority", "majority"), ("frame accuracy, logreg", "logreg"),
         ("macro F1, smoothed", "macro_f1"), ("macro F1, majority", "majority_f1"), ("macro F1, logreg", "logreg_f1"),
         ("boundary F @3 s, smoothed", "f3"), ("boundary F @3 s, novelty", "f3_novelty"),
         ("boundary F @0.5 s, smoothed", "f05"), ("boundary F @0.5 s, novelty", "f05_novelty"),
         ("intro/outro confusion", "io"), ("  intro called outro", "intro_as_outro"),
         ("  outro called intro", "outro_as_intro"), ("ECE before temperature", "ece_before"),
         ("ECE after temperature", "ece_after"), ("suggestion ECE, stated", "sug_ece_before"),
         ("suggestion ECE, as served", "sug_ece_after"),
         ("per suggestion ECE, stated", "span_ece_before"), ("per suggestion ECE, served", "span_ece_after"),
         ("  95 % interval (tracks), low", "span_lo"), ("  95 % interval, high", "span_hi"),
         ("  if calibrated (count alone)", "span_floor"), ("  calibrated, 95th percentile", "span_floor95"),
         ("suggestions scored", "span_n"),
         ("tracks scored", "tracks")]


def table(columns: dict[str, dict]) -> None:
    """Print one line per figure, one column per evaluation, a MET/NOT MET mark per target cell."""
    names = list(columns)
    print(f"{'':<30} " + " ".join(f"{n:>25}" for n in names))
    for label, key in LINES:
        cells = []
        for n in names:
            v = columns[n].get(key, float("nan"))
            t = TARGETS.get(key)
            mark = "" if t is None or v != v else ("+" if (v >= t if t > 0 else v < -t) else "-")
            cells.append(f"{v:>24.3f}{mark or ' '}")
        print(f"{label:<30} " + " ".join(cells))
    print("(+ target met, - missed: accuracy >= 0.85, F @3 s >= 0.85, F @0.5 s >= 0.6, intro/outro < 0.05, "
          "ECE < 0.05)")


def strict_json(value):
    """``value`` for ``json.dumps(..., allow_nan=False)`` (strict JSON: jq and JSON.parse refuse NaN): every NaN or
    infinite float (numpy's too) made None (null: not measured), numpy numbers made Python ones."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
