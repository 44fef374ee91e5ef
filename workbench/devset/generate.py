"""Tracks and sets: choose a track's parameters, render it, master it, write FLAC + truth JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.devset.compose import Clock, beat_times, compose
from workbench.devset.styles import CONDITIONS, STYLE_NAMES, STYLES, style_by_name
from workbench.errors import ParameterError
from workbench.validate import check_int, check_seed

FORMAT = "workbench-devset/1"
#: Tracks ``k`` of a style with ``k % HELD_OUT_EVERY == HELD_OUT_EVERY - 1`` are held out.
HELD_OUT_EVERY = 3
PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
RENDERERS = ("auto", "fluidsynth", "numpy")


def split_of(k: int) -> str:
    """``"held_out"`` for every third track of a style (k = 2, 5, 8, ...), else ``"dev"``.

    The split depends only on ``k``, so it stays the same whatever ``per_style`` is. Held-out
    tracks draw their parameters from a seed sequence tagged with the split, so no dev seed ever
    makes a held-out track.

    Parameters
    ----------
    k : int >= 0
        The track's index within its style.

    Returns
    -------
    {"dev", "held_out"}
    """
    return "held_out" if k % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else "dev"


def condition_of(style: str, k: int) -> str:
    """The recording condition of track ``k`` of ``style``: conditions in turn, offset per style.

    Parameters
    ----------
    style : str
        A name from ``STYLE_NAMES``.
    k : int >= 0
        The track's index within its style.

    Returns
    -------
    str
        One of ``CONDITIONS``.
    """
    return CONDITIONS[(STYLE_NAMES.index(style) * 2 + k) % len(CONDITIONS)]


def _master(y: np.ndarray, condition: str, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Level the mix: -1 dBFS peak, -30 LUFS (quiet) or driven 9-13 dB into hard clipping."""
    from workbench.analysis.loudness import integrated_lufs

    peak = float(np.abs(y).max()) or 1.0
    y = y * (10 ** (-1 / 20) / peak)
    info: dict[str, Any] = {"master": "normal"}
    if condition == "quiet":
        lufs = integrated_lufs(y.T, sr=sr)
        y = y * 10 ** ((-30.0 - lufs) / 20)
        info = {"master": "quiet", "target_lufs": -30.0}
    elif condition == "clipped":
        drive_db = float(rng.uniform(9, 13))
        y = np.clip(y * 10 ** (drive_db / 20), -1.0, 1.0)
        info = {"master": "clipped", "drive_db": round(drive_db, 2)}
    return y.astype(np.float32), info


def make_track(style: str, k: int, *, seed: int, sr: int = 44100, renderer: str = "auto",
               sections: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """Synthesize track ``k`` of ``style`` for set seed ``seed``.

    Parameters
    ----------
    style : str
        A name from ``STYLE_NAMES``.
    k : int >= 0
        The track's index within its style; fixes its split and condition.
    seed : int >= 0
        The set's seed.
    sr : int > 0
        Sample rate in Hz.
    renderer : {"auto", "fluidsynth", "numpy"}
        ``"auto"`` uses FluidSynth when it and a soundfont are found, else numpy.
    sections : bool
        Arrange the track in DJ sections (:mod:`~workbench.devset.arrange`: intro, build, drop,
        break, outro, or verse and chorus for hip-hop and trap; 1-2 minutes) and add their truth.
        False (the default) gives the 20-34 s analysis tracks, their truth unchanged.

    Returns
    -------
    audio : np.ndarray [shape=(n, 2), dtype=float32]
    truth : dict
        ``style``, ``condition``, ``split``, ``seed``, ``k``, ``renderer``, ``bpm`` (mean over the
        track), ``felt_bpm``, ``beats``/``downbeats`` (s), ``tempo_curve`` ([beat time s, local
        BPM] per beat), ``swing``, ``humanise_ms``, ``lead_in_s``, ``tuning_hz``, ``key`` ("A minor",
        or ``None`` for drums only), ``tonic_pc``, ``mode``, ``progression`` (roman numerals, one
        chord per ``bars_per_chord`` bars), ``master``, ``duration_s``; with ``sections``
        also ``arrangement`` (the form) and ``sections`` (``[{start_s, end_s, label, bars}]``).

    Raises
    ------
    ParameterError
        If ``renderer`` is unknown, or ``"fluidsynth"`` without FluidSynth and a soundfont.
    """
    from workbench.devset.midi import find_fluidsynth, fluidsynth_version, render_fluidsynth
    from workbench.devset.synth import render_numpy

    spec = style_by_name(style)
    if renderer not in RENDERERS:
        raise ParameterError(f"renderer must be one of {list(RENDERERS)}; got {renderer!r}")
    tools = find_fluidsynth() if renderer != "numpy" else None
    if renderer == "fluidsynth" and tools is None:
        raise ParameterError("renderer must be 'auto' or 'numpy' here; got 'fluidsynth', but the fluidsynth command "
                             "or a GM soundfont is missing (apt-get install fluidsynth fluid-soundfont-gm)")
    split = split_of(k)
    condition = condition_of(style, k)
    rng = np.random.default_rng([int(seed), STYLE_NAMES.index(style), int(k), 1 if split == "held_out" else 0])
    bpm = float(round(rng.uniform(*spec.bpm_range) * 2) / 2)
    tonic_pc = int(rng.integers(12))
    mode = "minor" if rng.random() < 0.65 else "major"
    bar_s = 240.0 / bpm
    n_bars = max(6, int(round(rng.uniform(20, 34) / bar_s)))
    lead_in_s = float(rng.uniform(2.0, 6.0)) if condition == "lead_in" else 0.0
    start_s = round(lead_in_s + float(rng.uniform(0.02, 0.25)), 4)
    swing = float(rng.uniform(*spec.swing))
    if condition == "swing" and spec.swing == (0.5, 0.5):
        swing = float(rng.uniform(0.6, 0.67))
    humanise_ms = 12.0 if condition in ("humanised", "drift") else 0.0
    tuning_hz = float(rng.choice([432.0, 434.0, 436.0, 444.0, 446.0, 448.0])) if condition == "detuned" else 440.0
    drums_only = condition == "drums_only"
    plan: list[tuple[str, int]] = []
    if sections:
        from workbench.devset.arrange import bar_parts, draw_arrangement

        form, plan = draw_arrangement(style, bar_s=bar_s, seed=seed, style_index=STYLE_NAMES.index(style), k=k,
                                      held_out=split == "held_out")
        n_bars = sum(b for _, b in plan)
    beats = beat_times(bpm=bpm, n_beats=n_bars * 4, start_s=start_s, drift=condition == "drift", rng=rng)
    clock = Clock(beats, swing=swing, jitter_s=humanise_ms / 1000, rng=rng)
    notes, progression = compose(spec, n_bars=n_bars, clock=clock, tonic_pc=None if drums_only else tonic_pc, mode=mode,
                    rng=rng, humanised=humanise_ms > 0,
                    parts=bar_parts(plan, drums_only=drums_only) if plan else None)
    n_samples = int(round((beats[-1] + 1.5) * sr))
    cents = 1200 * np.log2(tuning_hz / 440.0)
    if tools is not None:
        y = render_fluidsynth(notes, spec, sr=sr, n_samples=n_samples, tuning_cents=cents, tools=tools)
        made_by = f"fluidsynth {fluidsynth_version(tools[0])} + {Path(tools[1]).name}"
    else:
        y = render_numpy(notes, spec, sr=sr, n_samples=n_samples, tuning_hz=tuning_hz)
        made_by = "numpy (workbench.devset.synth)"
    y, master = _master(y, condition, sr, rng)
    grid = beats[:-1]
    ibi = np.diff(beats)
    mean_bpm = 60.0 * len(ibi) / float(beats[-1] - beats[0])
    truth: dict[str, Any] = {
        "format": FORMAT, "title": f"{style} {k:02d} ({condition})", "style": style, "condition": condition,
        "split": split, "seed": int(seed), "k": int(k), "renderer": made_by, "sample_rate_hz": sr,
        "duration_s": round(n_samples / sr, 4), "bpm": round(mean_bpm, 3), "nominal_bpm": bpm,
        "felt_bpm": round(mean_bpm * spec.felt, 3), "time_signature": "4/4", "n_bars": n_bars,
        "beats": [round(float(t), 4) for t in grid], "downbeats": [round(float(t), 4) for t in grid[::4]],
        "tempo_curve": [[round(float(t), 4), round(60.0 / float(d), 3)] for t, d in zip(grid, ibi, strict=True)],
        "drift": condition == "drift", "swing": round(swing, 3), "humanise_ms": humanise_ms,
        "lead_in_s": round(lead_in_s, 4), "tuning_hz": tuning_hz,
        "key": None if drums_only else f"{PITCH_NAMES[tonic_pc]} {mode}",
        "tonic_pc": None if drums_only else tonic_pc, "mode": None if drums_only else mode,
        "progression": progression, "bars_per_chord": spec.bars_per_chord, **master,
    }
    if plan:
        from workbench.devset.arrange import sections_truth

        truth["arrangement"] = form
        truth["sections"] = sections_truth(plan, beats[::4], duration_s=truth["duration_s"])
    return y, truth


def write_set(folder: str | os.PathLike[str], *, per_style: int = 3, seed: int = 0,
              styles: Iterable[str] | None = None, renderer: str = "auto", progress: bool = True,
              sections: bool = False) -> list[Path]:
    """Write ``per_style`` tracks of each style to ``folder``: ``<style>_<k>.flac`` + ``.json``.

    Also writes ``MANIFEST.json`` (one entry per track: file, style, condition, split). Returns
    the truth paths. Held-out tracks (``split == "held_out"``) must stay out of every tuning
    decision; report them separately.

    Parameters
    ----------
    folder : str or os.PathLike
        Created when missing.
    per_style : int >= 1
        Tracks per style.
    seed : int >= 0
        The set's seed.
    styles : iterable of str or None
        A subset of ``STYLE_NAMES``; None means all.
    renderer : {"auto", "fluidsynth", "numpy"}
    progress : bool
        Show a progress bar.
    sections : bool
        Arranged tracks with section truth (see :func:`make_track`).

    Returns
    -------
    list of pathlib.Path
        The ``.json`` truth files written.

    Raises
    ------
    ParameterError
        If ``per_style``, ``seed``, a style or ``renderer`` is invalid.
    """
    import soundfile as sf
    from tqdm.auto import tqdm

    from workbench.fileio import atomic_write

    check_int("per_style", per_style, min=1)
    check_seed("seed", seed)
    names = list(STYLE_NAMES) if styles is None else [style_by_name(s).name for s in styles]
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(s, k) for k in range(per_style) for s in names]
    paths, manifest = [], []
    for style, k in tqdm(jobs, desc="devset", unit="track", disable=not progress):
        y, truth = make_track(style, k, seed=seed, renderer=renderer, sections=sections)
        stem = f"{style}_{k:02d}"

        def write(tmp: Path, y: np.ndarray = y, sr: int = truth["sample_rate_hz"]) -> None:
            """Write one track's audio as 16-bit FLAC to ``tmp``.

            Parameters
            ----------
            tmp : pathlib.Path
            y : np.ndarray [shape=(n, 2)]
            sr : int > 0
                Sample rate in Hz.
            """
            sf.write(str(tmp), y, sr, format="FLAC", subtype="PCM_16")

        def write_truth(tmp: Path, text: str = json.dumps(truth, indent=1) + "\n") -> None:
            """Write one track's truth JSON to ``tmp``.

            Parameters
            ----------
            tmp : pathlib.Path
            text : str
            """
            tmp.write_text(text)

        atomic_write(root / f"{stem}.flac", write)
        atomic_write(root / f"{stem}.json", write_truth)
        paths.append(root / f"{stem}.json")
        manifest.append({"file": f"{stem}.flac", "style": style, "condition": truth["condition"],
                         "split": truth["split"], "renderer": truth["renderer"]})
    head = {"format": FORMAT, "seed": seed, "per_style": per_style} | ({"sections": True} if sections else {})
    text = json.dumps(head | {"tracks": manifest}, indent=1) + "\n"
    atomic_write(root / "MANIFEST.json", lambda tmp: tmp.write_text(text))
    return paths


def load_devset(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The truth dicts of a written set, each with ``"audio_path"`` added, sorted by file name.

    Parameters
    ----------
    folder : str or os.PathLike
        A folder :func:`write_set` wrote.

    Returns
    -------
    list of dict
        Files of another format are skipped.

    Raises
    ------
    ParameterError
        If ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ParameterError(f"folder must be a development set written by write_set; got {str(root)!r} (no such folder)")
    out = []
    for p in sorted(root.glob("*.json")):
        if p.name == "MANIFEST.json":
            continue
        truth = json.loads(p.read_text())
        if truth.get("format") != FORMAT:
            continue
        truth["audio_path"] = str(p.with_suffix(".flac"))
        out.append(truth)
    return out


__all__ = ["CONDITIONS", "STYLES", "load_devset", "make_track", "split_of", "write_set"]
