"""A profile's features and a track's gaps as tables to read: units, ranges as ``lo .. hi``, 4 significant digits.

The same figures and units as ``workbench profile show`` and ``profile compare`` print (notebook 07).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def _g(x: float | None) -> str:
    """A number to 4 significant digits (``"—"`` for none)."""
    return "—" if x is None else f"{x:.4g}"


def profile_table(profile: dict[str, Any]) -> pd.DataFrame:
    """One row per feature: its unit, mean, acceptable range, 95 % CI of the mean and track count.

    Parameters
    ----------
    profile : dict
        From :func:`~workbench.style.profiles.build_profile` or ``load_profile``.

    Returns
    -------
    pd.DataFrame
        Index the feature names; columns ``unit``, ``mean``, ``range``, ``95% CI of mean`` (text) and ``n``.
    """
    import pandas as pd

    from workbench.style.features import FEATURES

    units = {f.name: f.unit for f in FEATURES}
    rows = {name: {"unit": units.get(name, ""), "mean": _g(st["mean"]),
                   "range": f"{_g(st['range'][0])} .. {_g(st['range'][1])}",
                   "95% CI of mean": f"{_g(st['ci95'][0])} .. {_g(st['ci95'][1])}", "n": int(st["n"])}
            for name, st in profile["features"].items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["unit", "mean", "range", "95% CI of mean", "n"])


def gap_table(gap: dict[str, Any], *, outside_only: bool = True) -> pd.DataFrame:
    """A track's features against a profile: value, unit, the profile's range, z-score and advice.

    Parameters
    ----------
    gap : dict
        From :func:`~workbench.style.gap.gap_analysis`.
    outside_only : bool
        Only the features outside the profile's range (the ones with advice).

    Returns
    -------
    pd.DataFrame
        Columns ``feature``, ``value``, ``unit``, ``range``, ``z`` (text, 2 decimals) and ``advice``.
    """
    import pandas as pd

    rows = [{"feature": r["feature"], "value": _g(r["value"]), "unit": r.get("unit", ""),
             "range": f"{_g(r['range'][0])} .. {_g(r['range'][1])}",
             "z": "—" if r.get("z") is None else f"{r['z']:+.2f}", "advice": r.get("advice") or ""}
            for r in gap["features"] if r.get("outside") or not outside_only]
    return pd.DataFrame(rows, columns=["feature", "value", "unit", "range", "z", "advice"])
