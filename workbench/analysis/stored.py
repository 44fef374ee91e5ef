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
from workbench.store import utc_now

KIND = "track"


def read_result(library: Library, track: Track, *, kind: str, settings_hash: str) -> str | None:
    """The stored result JSON of one kind of analysis for a track's current contents, or ``None``.

    Every stored per-track result (the analysis, QA measures, production features) lives in the
    ``analyses`` table keyed by track, kind and a settings hash, and counts only while the file's
    content hash is the one it was computed from.

    Parameters
    ----------
    library : Library
    track : Track
    kind : str
        ``"track"`` (the analysis), ``"qa"``, ``"style"``.
    settings_hash : str
        What the result was computed with.

    Returns
    -------
    str or None
    """
    row = library.conn.execute(
        "SELECT result_json FROM analyses WHERE track_id = ? AND kind = ? AND settings_hash = ? AND content_hash = ?",
        (track.id, kind, settings_hash, track.content_hash),
    ).fetchone()
    return None if row is None else row[0]


def write_result(library: Library, track: Track, *, kind: str, settings_hash: str, result_json: str) -> None:
    """Store (or replace) one result; the caller holds the transaction.

    Parameters
    ----------
    library : Library
    track : Track
    kind : str
        As for :func:`read_result`.
    settings_hash : str
        What the result was computed with.
    result_json : str
        The result.
    """
    library.conn.execute(
        "INSERT INTO analyses (track_id, kind, settings_hash, content_hash, result_json, created_at) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT (track_id, kind, settings_hash) DO UPDATE SET "
        "content_hash = excluded.content_hash, result_json = excluded.result_json, created_at = excluded.created_at",
        (track.id, kind, settings_hash, track.content_hash, result_json, utc_now()),
    )


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
    text = read_result(library, track, kind=KIND, settings_hash=_settings_hash(settings_key(**s.kwargs())))
    return None if text is None else Analysis.from_json(text)
