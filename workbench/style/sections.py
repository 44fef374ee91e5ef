"""Production features section by section: a profile per section label, and gaps per section.

A drop is not an intro: pumping, brightness and bass of a trance drop say little about its
breakdown. Where reference tracks have section labels (the user's, or imported), a profile also
keeps, for each label (``intro``, ``build``, ``drop``, ...), the statistics of every production
feature measured on those sections alone; gap analysis then compares each section of a work in
progress with the reference sections of the same label.

A section is measured when it is at least :data:`MIN_SECTION_S` long (shorter ones are listed
as skipped); beat features use the track's beats inside the section, the energy features the
section's part of the track's energy curve.

>>> secs = section_features(y, 44100, analysis, [("intro", 0.0, 30.0), ("drop", 60.0, 120.0)])  # doctest: +SKIP
>>> secs[1]["label"], secs[1]["features"]["pumping_depth"]                                          # doctest: +SKIP
('drop', 0.52)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.library import Library, Track

#: Shortest section measured, in seconds (the features need a few bars).
MIN_SECTION_S = 8.0
#: Fewest reference sections of a label for that label's statistics in a profile.
MIN_SECTIONS = 3


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
    from workbench.style.features import production_features

    x = np.atleast_2d(np.asarray(y))
    beats = np.asarray(analysis.beats, dtype=np.float64)
    curve = np.asarray(analysis.energy_curve, dtype=np.float64)
    hop = float(analysis.energy_hop_s)
    out = []
    for label, start_s, end_s in sections:
        row: dict[str, Any] = {"label": label, "start_s": float(start_s), "end_s": float(end_s), "features": None}
        if end_s - start_s < MIN_SECTION_S:
            row["skipped"] = f"{end_s - start_s:.1f} s long; sections shorter than {MIN_SECTION_S:g} s are not measured"
            out.append(row)
            continue
        a, b = int(round(start_s * sr)), min(int(round(end_s * sr)), x.shape[-1])
        inside = beats[(beats >= start_s) & (beats < end_s)] - start_s
        part = curve[int(start_s / hop):max(int(np.ceil(end_s / hop)), int(start_s / hop) + 1)]
        row["features"] = production_features(
            x[..., a:b], sr=sr, beats=inside if analysis.has_beat else None, bpm=analysis.bpm,
            tempo_stability=analysis.tempo_stability if analysis.has_beat else None,
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


def track_section_features(library: Library, track: Track) -> list[dict[str, Any]]:
    """Per-section production features of a library track's labelled sections ([] without labels).

    Parameters
    ----------
    library : Library
    track : Track

    Returns
    -------
    list of dict
        As :func:`section_features`.
    """
    from workbench import audio
    from workbench.analysis import track_analysis

    sections = labelled_sections(library, track)
    if not sections:
        return []
    analysis = track_analysis(library, track)
    y, sr = audio.load(track.path, mono=False)
    return section_features(y, sr, analysis, sections)


def section_stats(per_track: dict[int, list[dict[str, Any]]], *, seed: int = 0,
                  min_sections: int = MIN_SECTIONS) -> dict[str, Any]:
    """Per-label feature statistics over reference sections, for a profile's ``sections`` entry.

    Parameters
    ----------
    per_track : dict of int to list of dict
        :func:`track_section_features` of each reference track, by track id.
    seed : int
        Seed of the bootstrap.
    min_sections : int
        Fewest measured sections of a label (and of a feature within it) for statistics.

    Returns
    -------
    dict
        ``{label: {"n_sections": int, "n_tracks": int, "features": {name: stats}}}`` where
        ``stats`` is as :func:`workbench.style.profiles.feature_stats` (with ``range``); labels
        with fewer than ``min_sections`` measured sections are left out.
    """
    from workbench.style.features import FEATURE_NAMES, FEATURES
    from workbench.style.profiles import feature_stats

    tol = {f.name: f.tolerance for f in FEATURES}
    bounds = {f.name: (f.low, f.high) for f in FEATURES}
    by_label: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for tid, rows in per_track.items():
        for r in rows:
            if r["features"] is not None:
                by_label.setdefault(r["label"], []).append((tid, r["features"]))
    out: dict[str, Any] = {}
    for label, rows in sorted(by_label.items()):
        if len(rows) < min_sections:
            continue
        stats = {}
        for name in FEATURE_NAMES:
            if name == "bpm":  # a section's tempo is its track's: the whole-track profile has it
                continue
            vals = np.array([f[name] for _, f in rows if f.get(name) is not None], dtype=np.float64)
            if vals.size >= min_sections:
                st = feature_stats(vals, seed=seed, tolerance=tol[name])
                st["range"] = [max(st["range"][0], bounds[name][0]), min(st["range"][1], bounds[name][1])]
                stats[name] = st
        out[label] = {"n_sections": len(rows), "n_tracks": len({t for t, _ in rows}), "features": stats}
    return out


def section_gaps(sections: list[dict[str, Any]], profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Gap analysis of each section against the profile's sections of the same label.

    Parameters
    ----------
    sections : list of dict
        :func:`section_features` of the work in progress.
    profile : dict
        A profile with a ``sections`` entry (:func:`section_stats`).

    Returns
    -------
    list of dict
        One per section: ``label, start_s, end_s, compared`` (False with ``reason`` when the
        section was skipped or the profile has no reference sections of its label),
        ``features`` (rows as :func:`workbench.style.gap.compare_features`) and ``outside``.
    """
    from workbench.style.gap import compare_features

    ref = profile.get("sections") or {}
    out = []
    for s in sections:
        row = {"label": s["label"], "start_s": s["start_s"], "end_s": s["end_s"], "compared": False,
               "features": [], "outside": []}
        if s["features"] is None:
            row["reason"] = s.get("skipped", "not measured")
        elif s["label"] not in ref:
            have = ", ".join(sorted(ref)) or "none"
            row["reason"] = f"the profile has no reference {s['label']} sections (it has: {have})"
        else:
            rows = compare_features(s["features"], {"features": ref[s["label"]]["features"]})
            row.update(compared=True, features=rows, outside=[r["feature"] for r in rows if r["outside"]])
        out.append(row)
    return out
