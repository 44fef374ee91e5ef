"""A track's stored analysis as analysed (no correction): the ``analyses`` rows, keyed by content
hash and a hash of the settings. :mod:`~workbench.analysis.batch` writes them; corrections and
:func:`~workbench.analysis.batch.track_analysis` read them here.
"""

from __future__ import annotations

import hashlib

from workbench.analysis.beats import BpmPrior
from workbench.analysis.core import Analysis, settings_key
from workbench.analysis.energy import DEFAULT_HOP_S
from workbench.analysis.key import DEFAULT_PROFILE
from workbench.analysis.settings import AnalysisSettings, effective_settings
from workbench.library import Library, Track

KIND = "track"


class _Effective:
    """Default of the settings arguments: each track's stored (effective) settings."""

    def __repr__(self) -> str:
        return "<the track's stored settings>"


EFFECTIVE = _Effective()


def _settings_hash(settings: str) -> str:
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


def _explicit(bpm_prior: object, key_profile: object, energy_hop_s: object) -> AnalysisSettings | None:
    """The settings given explicitly (unset ones at their defaults), or ``None`` when none was."""
    if bpm_prior is EFFECTIVE and key_profile is EFFECTIVE and energy_hop_s is EFFECTIVE:
        return None
    return AnalysisSettings(bpm_prior=None if bpm_prior is EFFECTIVE else bpm_prior,  # type: ignore[arg-type]
                            key_profile=DEFAULT_PROFILE if key_profile is EFFECTIVE else key_profile,  # type: ignore[arg-type]
                            energy_hop_s=DEFAULT_HOP_S if energy_hop_s is EFFECTIVE else energy_hop_s)  # type: ignore[arg-type]


def stored_analysis(
    library: Library,
    track: Track,
    *,
    bpm_prior: BpmPrior | None | _Effective = EFFECTIVE,
    key_profile: str | _Effective = EFFECTIVE,
    energy_hop_s: float | _Effective = EFFECTIVE,
) -> Analysis | None:
    """The stored analysis of a track as analysed (no correction), or ``None`` when there is none yet.

    With no settings given, those stored for the track (:func:`~workbench.analysis.settings.effective_settings`);
    given ones are used as they are (unset ones at their defaults). Consumers use
    :func:`track_analysis`, which adds the track's correction.

    Parameters
    ----------
    library : Library
    track : Track
    bpm_prior : BpmPrior or None
        Not given: the track's stored setting.
    key_profile : {"krumhansl", "temperley"}
        Not given: the track's stored setting.
    energy_hop_s : float > 0
        Seconds per energy-curve value; not given: the track's stored setting.

    Returns
    -------
    Analysis or None
    """
    s = _explicit(bpm_prior, key_profile, energy_hop_s) or effective_settings(library, track)
    h = _settings_hash(settings_key(**s.kwargs()))
    row = library.conn.execute(
        "SELECT result_json FROM analyses WHERE track_id = ? AND kind = ? AND settings_hash = ? AND content_hash = ?",
        (track.id, KIND, h, track.content_hash),
    ).fetchone()
    return None if row is None else Analysis.from_json(row[0])
