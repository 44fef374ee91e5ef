"""Production features of library tracks, stored like every analysis (``analyses`` kind ``"style"``).

A track's features are keyed by its content hash and by a hash of the style version and of the
beat grid they were measured on, so a corrected grid or a new feature version measures again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from workbench.analysis.stored import read_result, write_result
from workbench.errors import failure_reason
from workbench.library import Library, Track
from workbench.store import transaction

KIND = "style"
#: Bump when a feature changes, so stored features are recomputed.
STYLE_VERSION = 4


def grid_key(analysis: Any) -> str:
    """The key of features measured on an analysis: the style version and the beat grid.

    Parameters
    ----------
    analysis : workbench.analysis.Analysis
        The track's analysis.

    Returns
    -------
    str
        16 hex digits.
    """
    grid = json.dumps([STYLE_VERSION, analysis.bpm, list(analysis.beats[:4]), len(analysis.beats)])
    return hashlib.sha256(grid.encode()).hexdigest()[:16]


def features_of(y: Any, sr: int, analysis: Any) -> dict[str, float | None]:
    """Production features of samples with their analysis (beats, tempo, energy curve).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Samples.
    sr : int
        Sample rate in Hz.
    analysis : workbench.analysis.Analysis
        The track's analysis.

    Returns
    -------
    dict of str to float or None
    """
    import numpy as np

    from workbench.style.features import production_features, style_tempo_stability

    return production_features(y, sr=sr, beats=np.asarray(analysis.beats), bpm=analysis.bpm,
                               tempo_stability=style_tempo_stability(analysis),
                               energy_curve=np.asarray(analysis.energy_curve), energy_hop_s=analysis.energy_hop_s)


def track_features(library: Library, track: Track | int | str, *, compute: bool = True) -> dict[str, float | None] | None:
    """A library track's production features (stored, or measured now and stored).

    Parameters
    ----------
    library : Library
    track : Track, int or str
    compute : bool
        Measure (and analyse) when nothing is stored; when False return None instead.

    Returns
    -------
    dict or None

    Raises
    ------
    AudioError
        ``compute`` and the track cannot be decoded or analysed.
    """
    from workbench import audio
    from workbench.analysis import track_analysis

    t = track if isinstance(track, Track) else library.track(track)
    a = track_analysis(library, t, compute=compute)
    if a is None:
        return None
    key = grid_key(a)
    text = read_result(library, t, kind=KIND, settings_hash=key)
    if text is not None:
        return json.loads(text)
    if not compute:
        return None
    y, sr = audio.load(t.path, mono=False)
    feats = features_of(y, sr, a)
    with transaction(library.conn):
        write_result(library, t, kind=KIND, settings_hash=key, result_json=json.dumps(feats))
    return feats


def library_features(library: Library, tracks: list[Track], *, progress: bool = True
                     ) -> tuple[dict[int, dict[str, float | None]], list[tuple[str, str]]]:
    """Features of many tracks; one that fails is reported and the rest go on.

    Parameters
    ----------
    library : Library
    tracks : list of Track
    progress : bool
        Show a progress bar.

    Returns
    -------
    features : dict of int to dict
        By track id.
    failed : list of (path, reason)
    """
    from tqdm.auto import tqdm

    out, failed = {}, []
    for t in tqdm(tracks, desc="style features", unit="track", disable=not progress):
        try:
            f = track_features(library, t)
        except Exception as exc:  # one bad track never stops the run
            failed.append((t.path, failure_reason(exc)))
            continue
        if f is not None:
            out[t.id] = f
    return out, failed
