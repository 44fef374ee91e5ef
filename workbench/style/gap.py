"""Gap analysis: how far a track (a work in progress, or a library track) is from a profile.

For each feature of the profile: the track's value, the acceptable range, the difference from
the profile's mean (and in standard deviations), whether it lies outside the range, and a
plain-language piece of advice when it does; the style score against the profile's; the nearest
style cluster and the distance to its centroid, against that cluster's spread.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from workbench.library import Library, Track
from workbench.style.features import FEATURES

_UNITS = {f.name: f.unit for f in FEATURES}

#: Advice per feature: (when below the range, when above it). ``{v}`` is the value, ``{lo}``/``{hi}`` the range.
ADVICE: dict[str, tuple[str, str]] = {
    "bpm": ("tempo {v:.1f} BPM, target {lo:.0f}-{hi:.0f}: speed the project up",
            "tempo {v:.1f} BPM, target {lo:.0f}-{hi:.0f}: slow the project down"),
    "tempo_stability": ("tempo wanders (stability {v:.2f}, target {lo:.2f}+): quantise or play to a click",
                        "tempo steadier than the references (stability {v:.2f}, target under {hi:.2f}): they drift as "
                        "played music does; loosen the timing (a played part, small tempo changes) for that feel"),
    "pumping_depth": ("sidechain depth {v:.2f}, target {lo:.2f}-{hi:.2f}: duck pads and bass harder under the kick "
                      "(lower the compressor threshold or deepen the volume-shaper curve)",
                      "sidechain depth {v:.2f}, target {lo:.2f}-{hi:.2f}: ease the ducking (shorter release, "
                      "less depth)"),
    "pumping_db": ("sidechain ducking {v:.1f} dB, target {lo:.1f}-{hi:.1f} dB: duck harder under the kick",
                   "sidechain ducking {v:.1f} dB, target {lo:.1f}-{hi:.1f} dB: duck less (less depth, shorter "
                   "release)"),
    "acid_sweep_octaves": ("acid filter sweep {v:.2f} octaves, target {lo:.2f}-{hi:.2f}: move the cutoff more "
                           "(automate it over the phrase)", "acid filter sweep {v:.2f} octaves, target "
                           "{lo:.2f}-{hi:.2f}: hold the cutoff steadier"),
    "acid_resonance_db": ("acid filter resonance {v:.1f} dB, target {lo:.1f}-{hi:.1f} dB: raise the resonance",
                          "acid filter resonance {v:.1f} dB, target {lo:.1f}-{hi:.1f} dB: lower the resonance"),
    "acid_glide": ("slides on {v:.0%} of the bass line's note changes, target {lo:.0%}-{hi:.0%}: more slides",
                   "slides on {v:.0%} of the bass line's note changes, target {lo:.0%}-{hi:.0%}: fewer slides"),
    "acid_accent": ("accents on {v:.0%} of the bass line's 16ths, target {lo:.0%}-{hi:.0%}: more accented steps",
                    "accents on {v:.0%} of the bass line's 16ths, target {lo:.0%}-{hi:.0%}: fewer accented steps"),
    "pumping_regularity": ("the ducking is steadier than the references (spread {v:.2f}, target {lo:.2f}+): "
                           "vary its depth over the phrase (automate the sidechain amount)", "the ducking is irregular (spread {v:.2f}, target under {hi:.2f}): "
                               "key the sidechain from a steady kick"),
    "acid_score": ("acid character {v:.2f}, target {lo:.2f}+: a resonant filter sweep, slides and accents on the "
                   "bass line", "acid character {v:.2f}, target under {hi:.2f}: tame the filter sweep"),
    "stereo_width": ("stereo width {v:.2f} side/mid, target {lo:.2f}-{hi:.2f}: widen the chords (more voices "
                     "spread, a stereo detune)", "stereo width {v:.2f} side/mid, target {lo:.2f}-{hi:.2f}: "
                     "narrow the mids; check mono compatibility"),
    "phase_correlation": ("left/right correlation {v:.2f}, target {lo:.2f}+: the mix may vanish in mono",
                          "left/right correlation {v:.2f}, target under {hi:.2f}: the mix is nearly mono; widen it "
                          "(stereo pads, panned percussion)"),
    "detune_cents": ("supersaw detune {v:.0f} cents, target {lo:.0f}-{hi:.0f}: more detune on the saw stack",
                     "supersaw detune {v:.0f} cents, target {lo:.0f}-{hi:.0f}: less detune, it sounds out of tune"),
    "four_on_floor": ("kick on {v:.0%} of beats, target {lo:.0%}+: a kick on every beat",
                      "kick on {v:.0%} of beats, target under {hi:.0%}: leave some beats without a kick (a broken "
                      "beat, fills)"),
    "offbeat_hats": ("off-beat hats {v:.0%}, target {lo:.0%}+: open hats on the off-beat 8ths",
                     "off-beat hats {v:.0%}, target under {hi:.0%}: hats on the beat too"),
    "brightness_hz": ("spectral centroid {v:.0f} Hz, target {lo:.0f}-{hi:.0f} Hz: brighten the top (a high shelf "
                      "above 6 kHz, brighter hats or leads)", "spectral centroid {v:.0f} Hz, target {lo:.0f}-{hi:.0f} "
                      "Hz: darken the top (a high-shelf cut above 8 kHz, softer hats)"),
    "bass_ratio": ("low end {v:.0%} of the energy, target {lo:.0%}-{hi:.0%}: raise kick and bass below 150 Hz",
                   "low end {v:.0%} of the energy, target {lo:.0%}-{hi:.0%}: cut below 150 Hz or shorten the bass "
                   "notes; the low end masks the rest"),
    "energy_range": ("energy range {v:.2f}, target {lo:.2f}-{hi:.2f}: give the arrangement more contrast (a "
                     "deeper breakdown, a bigger drop)", "energy range {v:.2f}, target {lo:.2f}-{hi:.2f}: the "
                     "arrangement swings harder than the references"),
    "energy_slope": ("energy changes {v:.3f}/bar, target {lo:.3f}-{hi:.3f}: build up and strip down more often",
                     "energy changes {v:.3f}/bar, target {lo:.3f}-{hi:.3f}: smoother transitions between sections"),
}


def _advice(name: str, value: float, lo: float, hi: float) -> str:
    low, high = ADVICE.get(name, ("", ""))
    text = low if value < lo else high
    if not text:
        return f"{name} {value:.3g}, target {lo:.3g}-{hi:.3g} ({_UNITS.get(name, '')})"
    return text.format(v=value, lo=lo, hi=hi)


def compare_features(features: dict[str, float | None], profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Each profile feature against the track's value.

    Parameters
    ----------
    features : dict of str to float or None
        The track's production features.
    profile : dict
        From :func:`~workbench.style.profiles.build_profile`.

    Returns
    -------
    list of dict
        ``feature, unit, value, mean, range [lo, hi], delta, z, outside, advice, folded_from``
        (advice None inside the range; value None when the track lacks the feature; ``folded_from``:
        the tempo as analysed when ``value`` is it at half or double time, else None).
    """
    rows = []
    for name, st in profile["features"].items():
        v = features.get(name)
        lo, hi = st["range"]
        if v is None:
            rows.append({"feature": name, "unit": _UNITS.get(name, ""), "value": None, "mean": st["mean"],
                         "range": [lo, hi], "delta": None, "z": None, "outside": None, "advice": None,
                         "folded_from": None})
            continue
        read = float(v)
        if name == "bpm":  # a DJ can play it at the profile's octave
            v = float(v * 2.0 ** np.round(np.log2(st["mean"] / v)))
        folded = read if v != read else None
        outside = not lo <= v <= hi
        advice = _advice(name, float(v), lo, hi) if outside else None
        if advice and folded is not None:  # the tempo as analysed, its target in the same count, then the octave
            advice = advice.replace(f"tempo {v:.1f} BPM, target {lo:.0f}-{hi:.0f}",
                                    f"tempo {read:.1f} BPM, target {lo * read / v:.0f}-{hi * read / v:.0f} "
                                    f"({lo:.0f}-{hi:.0f} {fold_said(read, v).split(' ', 1)[1]})", 1)
        rows.append({"feature": name, "unit": _UNITS.get(name, ""), "value": float(v), "mean": st["mean"],
                     "range": [lo, hi], "delta": float(v - st["mean"]),
                     "z": float((v - st["mean"]) / st["std"]) if st["std"] > 0 else 0.0, "outside": outside,
                     "advice": advice, "folded_from": folded})
    return rows


def fold_said(read_bpm: float, compared_bpm: float) -> str:
    """How a tempo was folded onto a profile's octave, in words: ``"72.7 at half time"``.

    Parameters
    ----------
    read_bpm : float
        The tempo the analysis read, in BPM.
    compared_bpm : float
        The tempo compared with the profile (``read_bpm`` times a power of 2), in BPM.

    Returns
    -------
    str
    """
    ratio = compared_bpm / read_bpm
    how = {0.5: "half time", 2.0: "double time"}.get(round(ratio, 6), f"x{ratio:g}")
    return f"{compared_bpm:.1f} at {how}"


def gap_analysis(library: Library, profile: dict[str, Any], target: Track | int | str | Path, *,
                 sections: list[tuple[str, float, float]] | None = None) -> dict[str, Any]:
    """Gap analysis of a library track or an audio file against a profile.

    Parameters
    ----------
    library : Library
        For the workspace, the backbone's cache and library tracks.
    profile : dict
        A saved or built profile.
    target : Track, int, str or Path
        A library track (id, content hash, path in the library) or any audio file.
    sections : list of (label, start_s, end_s) or None
        The target's sections for the section-by-section gaps; None: a library track's labelled
        sections (none for a file).

    Returns
    -------
    dict
        ``target`` (the file), ``name`` (a library track's path under the folder it was scanned
        from, else the file's name), ``features`` (list from compare_features), ``outside`` (names),
        ``trance_score`` {value, profile_range, profile_mean, applies: whether the profile is a trance
        one (:func:`~workbench.style.scores.scores_for`)}, ``cluster`` {index, distance, mean_distance, max_distance, inside} or None,
        energy_classes {track, profile (shares of bars per class), per_bar}, sections (list from
        :func:`section_gaps`; empty without sections), seconds`` (analysis
        included when the target is a file).

    Raises
    ------
    AudioError
        A file that cannot be decoded or analysed.
    """
    from workbench.errors import AudioError, TrackNotFoundError
    from workbench.style.scores import TRANCE, scores_for
    from workbench.style.stored import features_of, track_features

    t0 = time.perf_counter()
    track: Track | None = target if isinstance(target, Track) else None
    if track is None and not isinstance(target, Path):
        try:
            track = library.track(target)
        except TrackNotFoundError:
            if not Path(str(target)).is_file():  # a missing track id (or a typo'd path) is not a file to decode
                from workbench.wording import TRACK_NAMED

                raise TrackNotFoundError(f"{str(target)!r} is neither a track of {library.path} nor an audio "
                                         f"file ({TRACK_NAMED})") from None
            track = None
    from workbench.style.features import energy_classes
    from workbench.style.sections import labelled_sections, section_features, track_section_features

    vector = None
    section_rows: list[dict[str, Any]] = []
    if track is not None and sections is not None:
        _check_sections(sections, track.duration_s, track.name)
    if track is not None:
        from workbench.analysis import track_analysis

        feats = track_features(library, track)
        analysis = track_analysis(library, track)
        name = track.path
        if sections is None:
            sections = labelled_sections(library, track)
        section_rows = track_section_features(library, track, sections)  # stored: no decode the second time
    else:
        from workbench import audio
        from workbench.analysis import analyze

        y, sr = audio.load(target, mono=False)
        analysis = analyze(y, sr=sr, name=str(target))
        if sections:
            _check_sections(sections, y.shape[-1] / sr, str(target))
        feats = features_of(y, sr, analysis)
        vector = _embed(y, sr)
        section_rows = section_features(y, sr, analysis, sections) if sections else []
        name = str(target)
    if analysis is None:  # pragma: no cover - track_analysis computes when asked
        raise AudioError(f"{name}: no analysis could be made", path=name)
    classes, shares = energy_classes(np.asarray(analysis.energy_curve), hop_s=analysis.energy_hop_s, bpm=analysis.bpm)
    if feats is None:  # pragma: no cover - track_features computes when asked
        raise AudioError(f"{name}: no production features could be measured", path=name)
    rows = compare_features(feats, profile)
    score = TRANCE.score(feats)[0]
    ts = profile.get("trance_score", {})
    out = {"target": name, "name": _shown_name(track, name),
           "profile": f"{profile['name']}@{profile.get('version', '?')}", "features": rows,
           "outside": [r["feature"] for r in rows if r["outside"]],
           "trance_score": {"value": score, "profile_range": ts.get("range"), "profile_mean": ts.get("mean"),
                            "applies": "trance" in scores_for(profile)},
           "cluster": _nearest_cluster(library, profile, track, vector),
           "energy_classes": {"track": shares, "profile": profile.get("energy_classes"), "per_bar": classes},
           "sections": section_gaps(section_rows, profile) if section_rows else []}
    out["seconds"] = time.perf_counter() - t0
    return out


def _check_sections(sections: list[tuple[str, float, float]], duration_s: float, name: str) -> None:
    """Raise ParameterError for a section given by hand that does not lie inside the target."""
    from workbench.errors import ParameterError

    for label, start_s, end_s in sections:
        if not 0.0 <= start_s < end_s <= duration_s + 0.05:  # 50 ms: a length rounded in the header
            raise ParameterError(f"section {label}:{start_s:g}-{end_s:g} must lie inside {name} "
                                 f"(0 <= START < END <= {duration_s:.1f} s, its length); got START {start_s:g}, "
                                 f"END {end_s:g}")


def _embed(y: np.ndarray, sr: int) -> np.ndarray | None:
    from workbench.embed.batch import default_backbone
    from workbench.embed.features import pool

    backbone, _ = default_backbone()
    try:
        emb, _ts = backbone.embed(y, sr=sr)
    except Exception:  # too short for a window: no cluster, the rest stands
        return None
    return pool(emb)


def _nearest_cluster(library: Library, profile: dict[str, Any], track: Track | None,
                     vector: np.ndarray | None) -> dict[str, Any] | None:
    clusters = profile.get("clusters", {}).get("clusters") or []
    if not clusters:
        return None
    if vector is None and track is not None:
        from workbench.embed.batch import cache_for, default_backbone
        from workbench.embed.features import pool

        hit = cache_for(library, default_backbone()[0]).get(track.content_hash)
        vector = pool(hit[0]) if hit is not None else None
    if vector is None:
        return None
    v = vector / (np.linalg.norm(vector) + 1e-12)
    cents = np.array([c["centroid"] for c in clusters])
    if cents.shape[1] != v.size:
        return None
    d = np.linalg.norm(cents - v, axis=1)
    i = int(np.argmin(d))
    c = clusters[i]
    return {"index": i, "distance": float(d[i]), "mean_distance": c["mean_distance"],
            "max_distance": c["max_distance"], "inside": bool(d[i] <= c["max_distance"])}


def section_gaps(sections: list[dict[str, Any]], profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Gap analysis of each section against the profile's sections of the same label.

    Parameters
    ----------
    sections : list of dict
        :func:`section_features` of the work in progress.
    profile : dict
        A profile with a ``sections`` entry (:func:`workbench.style.profiles.section_stats`).

    Returns
    -------
    list of dict
        One per section: ``label, start_s, end_s, compared`` (False with ``reason`` when the
        section was skipped or the profile has no reference sections of its label),
        ``features`` (rows as :func:`compare_features`) and ``outside``.
    """
    ref = profile.get("sections") or {}
    out = []
    for s in sections:
        row = {"label": s["label"], "start_s": s["start_s"], "end_s": s["end_s"], "compared": False,
               "features": [], "outside": []}
        if s["features"] is None:
            row["reason"] = s.get("skipped", "not measured")
        elif not ref:
            from workbench.style.sections import MIN_SECTIONS

            row["reason"] = (f"the profile has no reference sections of any label (a label needs {MIN_SECTIONS} "
                             "labelled sections among its tracks: label them, then build the profile again)")
        elif s["label"] not in ref:
            row["reason"] = f"the profile has no reference {s['label']} sections (it has: {', '.join(sorted(ref))})"
        else:
            rows = compare_features(s["features"], {"features": ref[s["label"]]["features"]})
            row.update(compared=True, features=rows, outside=[r["feature"] for r in rows if r["outside"]])
        out.append(row)
    return out


def _shown_name(track: Track | None, path: str) -> str:
    """How a gap names its target: a track's path under its scan folder (``loops/loop_amen.flac``), else the file name."""
    if track is not None and track.scan_root:
        try:
            return Path(track.path).relative_to(track.scan_root).as_posix()
        except ValueError:
            pass
    return Path(path).name


def gap_said(gap: dict[str, Any]) -> str:
    """One line on a gap: the target, how many features lie outside the range, and the style score
    where it means something for the profile (a trance profile's trance score; none for loops).

    Parameters
    ----------
    gap : dict
        From :func:`gap_analysis`.

    Returns
    -------
    str
        ``"loops/loop_amen_full.flac: 1 of 18 features outside the range"``.
    """
    said = (f"{gap.get('name') or Path(str(gap['target'])).name}: {len(gap['outside'])} of {len(gap['features'])} "
            "features outside the range")
    ts = gap.get("trance_score") or {}
    if ts.get("applies") and ts.get("value") is not None:
        said += f", trance score {ts['value']:.2f}"
    return said
