"""Plots of a profile's feature envelope, and of a track against it."""

from __future__ import annotations

from typing import Any


def plot_profile(profile: dict[str, Any], *, gap: dict[str, Any] | None = None, features: list[str] | None = None,
                 ax: Any = None) -> Any:
    """One row per feature: the acceptable range, the 95 % CI of the mean, the mean, and a track's value.

    Each feature is drawn on its own scale (the range's ends are the row's ends, widened to show a
    value outside); a value outside the range is red.

    Parameters
    ----------
    profile : dict
        From :func:`~workbench.style.profiles.build_profile` or ``load_profile``.
    gap : dict or None
        From :func:`~workbench.style.gap.gap_analysis`: its values are drawn on the rows.
    features : list of str or None
        The rows (default: every feature of the profile).
    ax : matplotlib Axes or None
        Draw here; None makes a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from workbench.style.features import FEATURES
    from workbench.style.gap import fold_said

    units = {f.name: f.unit for f in FEATURES}
    names = features or list(profile["features"])
    values = {r["feature"]: r for r in (gap or {}).get("features", [])}
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 0.42 * len(names) + 1.2))
    else:
        fig = ax.figure
    for i, name in enumerate(names):
        st = profile["features"][name]
        lo, hi = st["range"]
        v = values.get(name, {}).get("value")
        left, right = min([lo] + ([v] if v is not None else [])), max([hi] + ([v] if v is not None else []))
        span = (right - left) or 1.0
        left, right = left - 0.1 * span, right + 0.1 * span

        def x(val: float, left: float = left, right: float = right) -> float:
            """Position of ``val`` on this row's own scale, 0..1.

            Parameters
            ----------
            val : float

            Returns
            -------
            float
            """
            return (val - left) / (right - left)

        ax.barh(i, x(hi) - x(lo), left=x(lo), height=0.6, color="#cfe3f7", edgecolor="#6a9fd4")
        c0, c1 = st["ci95"]
        ax.barh(i, x(c1) - x(c0), left=x(c0), height=0.3, color="#6a9fd4")
        ax.plot([x(st["mean"])] * 2, [i - 0.3, i + 0.3], color="#1f4e79", lw=2)
        if v is not None:
            outside = values[name].get("outside")
            ax.plot(x(v), i, "o", color="#c0392b" if outside else "#27ae60", ms=8, zorder=3)
        # as the profile table writes it (4 significant digits, its unit): 0 .. 4159 Hz, not 0 .. 4.16e+03
        said = f"{lo:.4g} .. {hi:.4g}{unit_suffix(units.get(name, ''))}"
        folded = values.get(name, {}).get("folded_from")
        if v is not None and folded is not None:  # a tempo drawn at half or double time says the one read
            said += f" (the track's {folded:.1f}, drawn {fold_said(folded, v).split(' ', 1)[1]})"
        ax.text(1.01, i, said, va="center", fontsize=8, transform=ax.get_yaxis_transform())
    ax.set_yticks(range(len(names)), names)
    ax.set_xticks([])
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    title = f"profile {profile['name']}@{profile.get('version', '?')} ({len(profile['tracks'])} tracks): range, " \
            "95 % CI of the mean, mean"
    if gap:
        title += f"\n{gap['target'].rsplit('/', 1)[-1]}: green inside, red outside"
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def unit_suffix(unit: str) -> str:
    """What follows a range of a feature in ``unit``: `` BPM``, `` dB``; a scale's bounds in brackets (`` (of 0..1)``).

    Parameters
    ----------
    unit : str
        :attr:`workbench.style.features.Feature.unit` (``"BPM"``, ``"0..1 (linear)"``); "" for none.

    Returns
    -------
    str
        "" for no unit.
    """
    if not unit:
        return ""
    if unit[0].isdigit() or unit[0] == "-":  # a scale: "0..1 (linear)" -> " (of 0..1, linear)", no nested brackets
        return f" (of {unit.replace(' (', ', ').rstrip(')')})" if " (" in unit else f" (of {unit})"
    return f" {unit}"
