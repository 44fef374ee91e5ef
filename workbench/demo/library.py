"""Render demo tracks with their ground truth, and write the demo library (FLAC + JSON per track)."""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from workbench.demo.arrange import SECTION_LABELS, Grid, Harmony, plan_sections, truth_timeline
from workbench.demo.arrange import energy_curve as _energy_curve
from workbench.demo.compose import Composer
from workbench.demo.render import mix
from workbench.demo.styles import SPECS, STYLES, draw_bpm
from workbench.errors import ParameterError
from workbench.fileio import atomic_write
from workbench.validate import check_bool, check_int

ARTIST = "workbench demo"
ENERGY_HOP_S = 0.5
MIN_DURATION_S = 30.0
MAX_DURATION_S = 1200.0
TRUTH_KEYS = ("title", "artist", "style", "seed", "bpm", "key", "tonic_pc", "mode", "camelot", "sample_rate_hz",
              "duration_s", "beats", "downbeats", "sections", "energy_curve", "section_energy")


@dataclass(frozen=True)
class DemoTrack:
    """One written demo track: its files and the headline ground truth.

    ``index`` is 1-based (the number in the file name and title); ``bpm`` is exact; ``key`` is a
    name such as ``"A minor"``; ``duration_s`` is the audio length in seconds.
    """

    index: int
    audio_path: Path
    truth_path: Path
    title: str
    style: str
    seed: int
    bpm: float
    key: str
    tonic_pc: int
    mode: str
    camelot: str
    duration_s: float


def title_of(index: int, style: str) -> str:
    """Track title, e.g. ``"Demo 003 (techno)"``.

    Parameters
    ----------
    index : int >= 0
        The track's number.
    style : str
        The style's name.

    Returns
    -------
    str
    """
    return f"Demo {index:03d} ({style})"


def synthesize_track(style: str, *, seed: int, duration_s: float | None = None, sr: int = 44100,
                     index: int = 1) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
    """Render one demo track in memory.

    Parameters
    ----------
    style : str
        One of :data:`STYLES`.
    seed : int >= 0
        Seed; with ``index`` and ``style`` it fixes every random choice
        (``numpy.random.SeedSequence([seed, index, style number])``).
    duration_s : float or None
        ``None`` gives the arrangement's natural length (about 75..120 s). Otherwise the track
        gets the whole number of 4-bar phrases nearest ``duration_s`` seconds (30..1200).
    sr : int
        Sample rate in Hz (16000..192000).
    index : int >= 1
        Track number: used in the title and to derive the random stream.

    Returns
    -------
    audio : ndarray of float32, shape (n, 2)
        Stereo audio at ``sr`` Hz, peak at -1 dBFS.
    truth : dict
        The ground truth (see :func:`workbench.demo.load_truth` for the keys). The first beat is
        at t = 0 s; beats are every ``60 / bpm`` s and sections lie on bar starts.
    """
    _check_style(style)
    seed = _check_int("seed", seed, 0)
    index = _check_int("index", index, 1)
    _check_duration(duration_s)
    sr = _check_int("sr", sr, 16000)
    if sr > 192000:
        raise ParameterError(f"sr must be an int in 16000..192000 (Hz); got {sr!r}")
    spec = SPECS[style]
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, STYLES.index(style)]))
    bpm = draw_bpm(rng, spec)
    mode = spec.modes[int(rng.integers(len(spec.modes)))]
    tonic_pc = int(rng.integers(12))
    choices = spec.progressions[mode]
    progression = choices[int(rng.integers(len(choices)))]
    bars_per_chord = spec.bars_per_chord[int(rng.integers(len(spec.bars_per_chord)))]
    harmony = Harmony(tonic_pc, mode, progression, bars_per_chord)
    sections = plan_sections(rng, spec.template, 240.0 / bpm, duration_s)
    grid = Grid(bpm, sr, sections[-1].end_bar)
    layers = spec.compose(Composer(rng, grid, sections, harmony))
    audio = mix(layers, grid, sections)
    timeline = truth_timeline(grid, sections)
    truth: dict[str, Any] = {
        "title": title_of(index, style),
        "artist": ARTIST,
        "style": style,
        "seed": seed,
        "index": index,
        "bpm": bpm,
        "key": harmony.key,
        "tonic_pc": tonic_pc,
        "mode": mode,
        "camelot": harmony.camelot,
        "progression": list(progression),
        "bars_per_chord": bars_per_chord,
        "sample_rate_hz": sr,
        "duration_s": timeline["duration_s"],
        "time_signature": "4/4",
        "first_beat_s": 0.0,
        "n_bars": grid.n_bars,
        "beats": timeline["beats"],
        "downbeats": timeline["downbeats"],
        "sections": timeline["sections"],
        "section_energy": [spec.energy[s.label] for s in sections],
        "energy_curve": {
            "hop_s": ENERGY_HOP_S,
            "definition": "clip(1 + rms_dBFS / 40, 0, 1) of the mono mix over consecutive hops",
            "values": _energy_curve(audio, sr, ENERGY_HOP_S),
        },
    }
    return audio, truth


def synthesize_library(folder: str | os.PathLike[str], *, n_tracks: int = 24, seed: int = 0,
                       duration_s: float | None = None, styles: Iterable[str] | str | None = None,
                       progress: bool = True) -> list[DemoTrack]:
    """Write the demo library: ``NNN_style.flac`` (stereo 44.1 kHz PCM_16) and ``NNN_style.json`` per track.

    Parameters
    ----------
    folder : path-like
        Destination folder, created if missing. Existing demo files of the same names are replaced.
    n_tracks : int >= 1
        Number of tracks; they cycle through ``styles`` so each appears once ``n_tracks`` reaches
        their number.
    seed : int >= 0
        Library seed; the same seed writes the same bytes.
    duration_s : float or None
        Per-track length in seconds (30..1200), or ``None`` for each arrangement's natural length.
    styles : iterable of str, str or None
        Styles to cycle through, a subset of :data:`STYLES` (default all, in that order).
    progress : bool
        Show a progress bar (``tqdm.auto``).

    Returns
    -------
    list of DemoTrack
        One record per track, in index order (1-based).
    """
    n_tracks = _check_int("n_tracks", n_tracks, 1)
    seed = _check_int("seed", seed, 0)
    _check_duration(duration_s)
    names = _check_styles(styles)
    check_bool("progress", progress)
    if not isinstance(folder, (str, os.PathLike)):
        raise ParameterError(f"folder must be a path (str or os.PathLike); got {folder!r}")
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise ParameterError(f"folder must be a directory; got the file {str(root)!r}")
    root.mkdir(parents=True, exist_ok=True)

    from tqdm.auto import tqdm

    records = []
    for index in tqdm(range(1, n_tracks + 1), desc="demo library", unit="track", disable=not progress):
        style = names[(index - 1) % len(names)]
        audio, truth = synthesize_track(style, seed=seed, duration_s=duration_s, index=index)
        stem = f"{index:03d}_{style}"
        audio_path, truth_path = root / f"{stem}.flac", root / f"{stem}.json"
        write_flac(audio_path, audio, truth["sample_rate_hz"], title=truth["title"], artist=ARTIST)
        atomic_write(truth_path, lambda tmp, t=truth: tmp.write_text(json.dumps(t, indent=1, allow_nan=False) + "\n"))
        records.append(DemoTrack(index, audio_path, truth_path, truth["title"], style, seed, truth["bpm"],
                                 truth["key"], truth["tonic_pc"], truth["mode"], truth["camelot"],
                                 truth["duration_s"]))
    return records


def write_flac(path: str | os.PathLike[str], audio: npt.NDArray[np.float32], sr: int, *, title: str,
               artist: str) -> Path:
    """Write ``audio`` (n, channels) as FLAC PCM_16 with title and artist tags, atomically.

    The file is written under a temporary name in the same folder and moved into place with
    :func:`os.replace`, so a crash never leaves a half-written file under ``path``.

    Parameters
    ----------
    path : str or os.PathLike
    audio : np.ndarray [shape=(n, channels), dtype=float32]
        Samples in [-1, 1].
    sr : int > 0
        Sample rate in Hz.
    title, artist : str
        Tags.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import soundfile as sf

    def write(tmp: Path) -> None:
        """Write the tagged FLAC to ``tmp``.

        Parameters
        ----------
        tmp : pathlib.Path
        """
        with sf.SoundFile(str(tmp), "w", samplerate=sr, channels=audio.shape[1], subtype="PCM_16",
                          format="FLAC") as f:
            f.title = title  # FLAC tags must be set before the first frame is written
            f.artist = artist
            f.write(audio)

    return atomic_write(Path(path), write)


def load_truth(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a demo track's ground-truth JSON.

    Parameters
    ----------
    path : path-like
        A ``NNN_style.json`` written by :func:`synthesize_library` (or its ``.flac``: the JSON
        next to it is read).

    Returns
    -------
    dict
        ``title``, ``artist``, ``style``, ``seed``, ``index``, ``bpm`` (exact), ``key``,
        ``tonic_pc``, ``mode``, ``camelot``, ``progression``, ``bars_per_chord``,
        ``sample_rate_hz``, ``duration_s``, ``time_signature``, ``first_beat_s`` (0.0),
        ``n_bars``, ``beats`` and ``downbeats`` (s), ``sections`` (``start_s``, ``end_s``,
        ``label``), ``section_energy`` (1..10 per section) and ``energy_curve`` (``hop_s``,
        ``values`` in 0..1).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"path must be a path (str or os.PathLike); got {path!r}")
    p = Path(path)
    if p.suffix.lower() != ".json":
        p = p.with_suffix(".json")
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"ground-truth file not found: {str(p)!r}") from None
    except ValueError as exc:
        raise ParameterError(f"path must be a demo ground-truth JSON file; {str(p)!r} is not valid JSON ({exc})") from None
    missing = [k for k in TRUTH_KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise ParameterError(f"path must be a demo ground-truth JSON file; {str(p)!r} lacks {missing}")
    return data


# ---------------------------------------------------------------------------------- helpers


def _check_int(name: str, value: object, minimum: int) -> int:
    return check_int(name, value, min=minimum)


def _check_duration(duration_s: object) -> None:
    if duration_s is None:
        return
    value = float(duration_s) if isinstance(duration_s, numbers.Real) and not isinstance(duration_s, bool) else math.nan
    if not (math.isfinite(value) and MIN_DURATION_S <= value <= MAX_DURATION_S):
        raise ParameterError(
            f"duration_s must be None or a number of seconds in {MIN_DURATION_S:g}..{MAX_DURATION_S:g}; got {duration_s!r}")


def _check_style(style: object) -> None:
    if not isinstance(style, str) or style not in SPECS:
        raise ParameterError(f"style must be one of {STYLES}; got {style!r}")


def _check_styles(styles: Iterable[str] | str | None) -> tuple[str, ...]:
    if styles is None:
        return STYLES
    names = (styles,) if isinstance(styles, str) else tuple(styles) if isinstance(styles, Iterable) else None
    if not names:
        raise ParameterError(f"styles must be None or a non-empty collection of names from {STYLES}; got {styles!r}")
    unknown = [s for s in names if not isinstance(s, str) or s not in SPECS]
    if unknown:
        raise ParameterError(f"styles must be names from {STYLES}; got unknown {unknown!r}")
    return names


__all__ = ["ARTIST", "SECTION_LABELS", "DemoTrack", "load_truth", "synthesize_library", "synthesize_track",
           "title_of", "write_flac"]
