"""Production features section by section: a profile per section label, and gaps per section.

A drop is not an intro: pumping, brightness and bass of a trance drop say little about its
breakdown. Where reference tracks have section labels (the user's, or imported), a profile also
keeps, for each label (``intro``, ``build``, ``drop``, ...), the statistics of every production
feature measured on those sections alone; gap analysis then compares each section of a work in
progress with the reference sections of the same label.

A section is measured when it spans at least :data:`MIN_SECTION_BEATS` beats of the track's beat grid
(4 bars: a 16-beat phrase at any tempo), or, on a track without a beat grid, at least
:data:`MIN_SECTION_S` seconds (shorter ones are listed as skipped; :func:`too_short`); beat features use the track's beats inside the section, the energy features the
section's part of the track's energy curve. A library track's section features are stored
(``analyses`` kind ``"style_sections"`` for its own labels, :data:`GIVEN_KIND` for sections given
by hand, the latest of each) under a key of the style version, its beat grid, energy curve and the
sections themselves: an edited label measures again, and sections given by hand
(``profile compare --section``) never replace what its labels stored. The per-label statistics are
:func:`workbench.style.profiles.section_stats`; the per-section gaps :func:`workbench.style.gap.section_gaps`.

>>> secs = section_features(y, 44100, analysis, [("intro", 0.0, 30.0), ("drop", 60.0, 120.0)])  # doctest: +SKIP
>>> secs[1]["label"], secs[1]["features"]["pumping_depth"]                                          # doctest: +SKIP
('drop', 0.52)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.library import Library, Track

#: Shortest section measured on a track with a beat grid, in beats (4 bars of 4: the features need a few bars).
MIN_SECTION_BEATS = 16
#: Shortest section measured on a track without a beat grid, in seconds (4 bars at 120 BPM).
MIN_SECTION_S = 8.0
#: Shortest section measured at any tempo, in seconds (:func:`workbench.style.features.production_features`' floor).
MIN_AUDIO_S = 3.0
#: Fewest reference sections of a label for that label's statistics in a profile.
MIN_SECTIONS = 3
#: ``analyses`` kind of a library track's stored section features (of its own labels).
KIND = "style_sections"
#: ``analyses`` kind of the features of sections given by hand for a library track (the latest only).
GIVEN_KIND = "style_sections_given"


def too_short(start_s: float, end_s: float, beats: np.ndarray | None) -> str | None:
    """Why a section is too short to measure, or None when it is long enough.

    With a beat grid a section needs :data:`MIN_SECTION_BEATS` beats inside it (a beat counts from a
    quarter of a beat before the start to a quarter of a beat before the end, so a section snapped to
    the grid counts its own beats), and :data:`MIN_AUDIO_S`; without one, :data:`MIN_SECTION_S`.

    Parameters
    ----------
    start_s, end_s : float
        The section, in seconds from the track's start.
    beats : np.ndarray [shape=(n,)] or None
        The track's beat times in seconds (None or fewer than 2: no beat grid).

    Returns
    -------
    str or None
        E.g. ``"15 beats long; sections shorter than 16 beats (4 bars) are not measured"``.
    """
    length = end_s - start_s
    if beats is not None and len(beats) >= 2 and length >= MIN_AUDIO_S:
        q = 0.25 * float(np.median(np.diff(beats)))
        n = int(np.count_nonzero((beats >= start_s - q) & (beats < end_s - q)))
        if n >= MIN_SECTION_BEATS:
            return None
        return (f"{n} beats long; sections shorter than {MIN_SECTION_BEATS} beats ({MIN_SECTION_BEATS // 4} bars) "
                "are not measured")
    limit = MIN_AUDIO_S if beats is not None and len(beats) >= 2 else MIN_SECTION_S
    if length >= limit:
        return None
    long_s = round(length, 2)  # 16.8-24.76 s is "7.96" (floored, 7.9599... read "7.95")
    if long_s >= limit:  # 7.996 s is "7.99", never "8.00 s long; shorter than 8 s"
        long_s = np.floor(length * 100) / 100
    return f"{long_s:.2f} s long; sections shorter than {limit:g} s are not measured"


def section_features(y: np.ndarray, sr: int, analysis: Any,
                     sections: Sequence[tuple[str, float, float]]) -> list[dict[str, Any]]:
    """Production features of each section of one track.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        The whole track's samples.
    sr : int > 0
        Sample rate in Hz.
    analysis : workbench.analysis.Analysis
        The track's analysis (beats, bpm, tempo stability, energy curve).
    sections : sequence of (label, start_s, end_s)
        The sections, in seconds from the track's start.

    Returns
    -------
    list of dict
        One per section, in the given order: ``label, start_s, end_s, features`` (a dict keyed by
        :data:`workbench.style.features.FEATURE_NAMES`, or None with ``skipped`` saying why).
    """
    from workbench.style.features import production_features, style_tempo_stability

    x = np.atleast_2d(np.asarray(y))
    beats = np.asarray(analysis.beats, dtype=np.float64)
    curve = np.asarray(analysis.energy_curve, dtype=np.float64)
    hop = float(analysis.energy_hop_s)
    out = []
    for label, start_s, end_s in sections:
        row: dict[str, Any] = {"label": label, "start_s": float(start_s), "end_s": float(end_s), "features": None}
        why = too_short(start_s, end_s, beats if analysis.has_beat else None)
        if why is not None:
            row["skipped"] = why
            out.append(row)
            continue
        a, b = int(round(start_s * sr)), min(int(round(end_s * sr)), x.shape[-1])
        inside = beats[(beats >= start_s) & (beats < end_s)] - start_s
        part = curve[int(start_s / hop):max(int(np.ceil(end_s / hop)), int(start_s / hop) + 1)]
        row["features"] = production_features(
            x[..., a:b], sr=sr, beats=inside if analysis.has_beat else None, bpm=analysis.bpm,
            tempo_stability=style_tempo_stability(analysis),
            energy_curve=part, energy_hop_s=hop)
        out.append(row)
    return out


def labelled_sections(library: Library, track: Track) -> list[tuple[str, float, float]]:
    """A library track's labelled sections (user and imported labels), in time order.

    Parameters
    ----------
    library : Library
    track : Track

    Returns
    -------
    list of (label, start_s, end_s)
    """
    from workbench.labels import Labels

    rows = Labels(library).for_track(track)
    return sorted(((r.label, float(r.start_s), float(r.end_s)) for r in rows if r.source in ("user", "import")),
                  key=lambda s: s[1])


def _sections_key(analysis: Any, sections: list[tuple[str, float, float]]) -> str:
    """Key of section features: the style version and beat grid, the energy curve, the sections."""
    import hashlib
    import json

    from workbench.style.stored import grid_key

    what = json.dumps([grid_key(analysis), analysis.has_beat, analysis.energy_hop_s, len(analysis.energy_curve),
                       MIN_SECTION_S, MIN_SECTION_BEATS, MIN_AUDIO_S, [[str(lab), float(a), float(b)] for lab, a, b in sections]])
    return hashlib.sha256(what.encode()).hexdigest()[:16]


def track_section_features(library: Library, track: Track,
                           sections: Sequence[tuple[str, float, float]] | None = None) -> list[dict[str, Any]]:
    """Per-section production features of a library track's labelled sections ([] without labels).

    Stored with the track's other results and measured again only when the sections, the track's
    analysis (beat grid, energy curve) or the style version change. The latest of the track's own
    labels and the latest sections given by hand are kept apart, so one never replaces the other.

    Parameters
    ----------
    library : Library
    track : Track
    sections : sequence of (label, start_s, end_s) or None
        The sections, in seconds; None: the track's own labels (:func:`labelled_sections`).

    Returns
    -------
    list of dict
        As :func:`section_features`.

    Raises
    ------
    AudioError
        The track cannot be decoded or analysed.
    """
    import json

    from workbench import audio
    from workbench.analysis import track_analysis
    from workbench.analysis.stored import read_result, write_result
    from workbench.store import transaction

    own = labelled_sections(library, track)
    chosen = own if sections is None else [(str(lab), float(a), float(b)) for lab, a, b in sections]
    if not chosen:
        return []
    kind = KIND if chosen == own else GIVEN_KIND
    analysis = track_analysis(library, track)
    key = _sections_key(analysis, chosen)
    text = read_result(library, track, kind=kind, settings_hash=key)
    if text is not None:
        return json.loads(text)
    y, sr = audio.load(track.path, mono=False)
    rows = section_features(y, sr, analysis, chosen)
    with transaction(library.conn):  # older sections of the same kind are stale: keep the latest only
        library.conn.execute("DELETE FROM analyses WHERE track_id = ? AND kind = ? AND settings_hash != ?",
                             (track.id, kind, key))
        write_result(library, track, kind=kind, settings_hash=key, result_json=json.dumps(rows))
    return rows
