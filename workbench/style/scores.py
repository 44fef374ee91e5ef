"""Style scores: a weighted sum of how much each production feature sounds like a style.

:data:`TRANCE` has the seed design's weights (tempo 0.20, pumping 0.15, energy progression
0.15, four-on-the-floor 0.12, supersaw 0.10, acid 0.08, off-beat hats 0.08, brightness 0.07,
tempo stability 0.05). Each term maps a feature to 0..1 with a ramp; another style is another
:class:`StyleScore` with its own terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Term:
    """One weighted term: ``feature`` ramped from 0 at ``zero`` to 1 at ``full`` (either direction).

    With ``band`` = (lo, hi) the term is 1 inside the band and falls to 0 at ``falloff`` outside it.
    Terms whose feature is unknown (None) are left out and the weights renormalised.
    """

    feature: str
    weight: float
    zero: float = 0.0
    full: float = 1.0
    band: tuple[float, float] | None = None
    falloff: float = 0.0

    def value(self, x: float) -> float:
        """The term's 0..1 value for feature value ``x``.

        Parameters
        ----------
        x : float

        Returns
        -------
        float in [0, 1]
        """
        if self.band is not None:
            lo, hi = self.band
            dist = max(lo - x, x - hi, 0.0)
            return float(max(0.0, 1.0 - dist / self.falloff)) if self.falloff > 0 else float(dist == 0)
        return float(np.clip((x - self.zero) / (self.full - self.zero), 0.0, 1.0))


@dataclass(frozen=True)
class StyleScore:
    """A style's score: its name and weighted terms (weights sum to 1)."""

    name: str
    terms: tuple[Term, ...]

    def score(self, features: Mapping[str, float | None]) -> tuple[float, dict[str, float]]:
        """The 0..1 score of one track and each term's contribution.

        Parameters
        ----------
        features : mapping of str to float or None
            From :func:`~workbench.style.features.production_features` (with ``supersaw`` made
            by :func:`supersaw_amount` when absent).

        Returns
        -------
        score : float in [0, 1]
        contributions : dict of str to float
            Weighted term values (renormalised over known features), by feature name.
        """
        values = dict(features)
        values.setdefault("supersaw", supersaw_amount(values))
        known = [(t, values.get(t.feature)) for t in self.terms]
        known = [(t, v) for t, v in known if v is not None]
        total_w = sum(t.weight for t, _ in known)
        if total_w <= 0:
            return 0.0, {}
        parts = {t.feature: t.weight / total_w * t.value(float(v)) for t, v in known}  # type: ignore[arg-type]
        return float(sum(parts.values())), parts


def supersaw_amount(features: Mapping[str, float | None]) -> float | None:
    """0..1: half stereo width (side/mid 0.2 = full), half detune (25 cents = full).

    Parameters
    ----------
    features : mapping

    Returns
    -------
    float or None
        None when neither is known.
    """
    w, d = features.get("stereo_width"), features.get("detune_cents")
    if w is None and d is None:
        return None
    return 0.5 * min((w or 0.0) / 0.2, 1.0) + 0.5 * min((d or 0.0) / 25.0, 1.0)


#: Trance: 136-142 BPM; moderate pumping (the seed's 0.3-0.6 band; heavy ducking is house and
#: techno); a wide energy arc; four-on-the-floor; detuned, wide saws; acid; off-beat hats; a
#: bright top (the power-weighted centroid of a mix sits at a few hundred Hz: its ramp is set on
#: that scale); a machine-steady tempo. The ramps were set with the demo library's measured ranges
#: in view (no independent trance set exists yet): see the benchmark's caveat.
TRANCE = StyleScore("trance", (
    Term("bpm", 0.20, band=(136.0, 142.0), falloff=6.0),
    Term("pumping_depth", 0.15, band=(0.3, 0.6), falloff=0.3),
    Term("energy_range", 0.15, zero=0.1, full=0.3),
    Term("four_on_floor", 0.12, zero=0.5, full=0.95),
    Term("supersaw", 0.10, zero=0.2, full=0.9),
    Term("acid_score", 0.08, zero=0.2, full=0.7),
    Term("offbeat_hats", 0.08, zero=0.5, full=0.85),
    Term("brightness_hz", 0.07, zero=300.0, full=700.0),
    Term("tempo_stability", 0.05, zero=0.5, full=0.95),
))
#: Style scores by name.
STYLE_SCORES: dict[str, StyleScore] = {"trance": TRANCE}


def scores_for(profile: Mapping[str, object]) -> list[str]:
    """The style scores that mean something for ``profile``: those whose style the profile is of.

    A profile is of a style when its name or its source (``"crate:trance"``, ``"folder:uplifting-trance"``)
    names the style as a word; a profile of loops, or of a style with no score, has none (the trance
    score of a drum loop says nothing).

    Parameters
    ----------
    profile : mapping
        A profile (:func:`~workbench.style.profiles.build_profile`): its ``name`` and ``source``.

    Returns
    -------
    list of str
        Names of :data:`STYLE_SCORES`, in its order; empty when none applies.
    """
    import re

    words = set(re.split(r"[^a-z0-9]+", f"{profile.get('name', '')} {profile.get('source', '')}".lower()))
    return [name for name in STYLE_SCORES if name in words]
