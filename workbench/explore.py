"""Exploring a library: a table of tracks, distributions, an embedding map, playback.

The notebook ``01_explore_library.ipynb`` is a view over these functions. Plots are
matplotlib figures (returned, not shown), so they work in notebooks, scripts and tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.library import Library, Track
from workbench.train.datasets import track_style

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

#: Columns of :func:`library_table`, in order.
TABLE_COLUMNS = ("id", "name", "artist", "style", "duration_s", "bpm", "key", "camelot", "key_confidence",
                 "energy", "loudness_lufs", "path")


def require_tracks(library: Library) -> Library:
    """Return ``library`` if it has tracks, else raise an error that says how to get some."""
    if len(library) == 0:
        raise ParameterError(
            f"the library at {library.path} has no tracks: run `make demo` (the synthesized demo library) or "
            "`workbench scan ~/Music/your-folder` first")
    return library


def library_table(library: Library) -> pd.DataFrame:
    """One row per track with its stored analysis (empty cells where a track is not analysed yet).

    Columns: see :data:`TABLE_COLUMNS`; ``bpm`` is NaN for a track without a steady beat.
    """
    import pandas as pd

    from workbench.analysis import track_analysis

    rows: list[dict[str, Any]] = []
    for t in library.tracks():
        a = track_analysis(library, t, compute=False)
        rows.append({
            "id": t.id, "name": t.name, "artist": t.artist, "style": track_style(t),
            "duration_s": round(t.duration_s, 1),
            "bpm": (round(a.bpm, 1) if a is not None and a.bpm else np.nan),
            "key": a.key if a is not None else None, "camelot": a.camelot if a is not None else None,
            "key_confidence": round(a.key_confidence, 2) if a is not None else np.nan,
            "energy": a.energy if a is not None else None,
            "loudness_lufs": round(a.loudness_lufs, 1) if a is not None else np.nan,
            "path": t.path,
        })
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS)).set_index("id")


def plot_distributions(table: pd.DataFrame) -> Figure:
    """Tempo histogram, Camelot key counts (1A..12B), energy levels and loudness, in one figure."""
    from matplotlib.figure import Figure

    from workbench.camelot import CAMELOT_CODES

    fig = Figure(figsize=(12, 6.5), layout="constrained")
    ax_bpm, ax_key, ax_energy, ax_lufs = fig.subplots(2, 2).ravel()
    bpm = table["bpm"].dropna()
    ax_bpm.hist(bpm, bins=np.arange(60, 200, 4), color="#334155")
    ax_bpm.set(title=f"Tempo ({len(bpm)} tracks with a beat)", xlabel="BPM", ylabel="tracks")
    counts = table["camelot"].value_counts()
    codes = list(CAMELOT_CODES)
    ax_key.bar(range(len(codes)), [counts.get(c, 0) for c in codes],
               color=["#6366f1" if c.endswith("A") else "#f59e0b" for c in codes])
    ax_key.set_xticks(range(len(codes)), codes, rotation=90, fontsize=7)
    ax_key.set(title="Key (Camelot; A minor, B major)", ylabel="tracks")
    levels = table["energy"].dropna().astype(int).value_counts()
    ax_energy.bar(range(1, 11), [levels.get(i, 0) for i in range(1, 11)], color="#ef4444")
    ax_energy.set(title="Energy level", xlabel="1 (calm) .. 10 (peak)", ylabel="tracks", xticks=range(1, 11))
    ax_lufs.hist(table["loudness_lufs"].dropna(), bins=20, color="#0ea5e9")
    ax_lufs.set(title="Integrated loudness", xlabel="LUFS", ylabel="tracks")
    return fig


def embedding_map(library: Library, *, backbone: object = None, color_by: str = "style",
                  method: str = "pca", seed: int = 0) -> Figure:
    """The tracks' pooled embeddings projected to 2-D, coloured by ``color_by``.

    Parameters
    ----------
    color_by : {"style", "camelot", "energy"}
    method : {"pca", "tsne"}
        t-SNE needs at least 5 tracks (perplexity below the track count).
    """
    import matplotlib
    from matplotlib.figure import Figure

    from workbench.analysis import track_analysis
    from workbench.embed.batch import describe_backbone, embed_library, track_vectors
    from workbench.embed.features import FeatureFrontend, standardize

    if color_by not in ("style", "camelot", "energy"):
        raise ParameterError(f"color_by must be 'style', 'camelot' or 'energy'; got {color_by!r}")
    if method not in ("pca", "tsne"):
        raise ParameterError(f"method must be 'pca' or 'tsne'; got {method!r}")
    b = backbone if backbone is not None else FeatureFrontend()
    embed_library(library, backbone=b, progress=False)  # type: ignore[arg-type]
    tracks, vectors = track_vectors(library, backbone=b)  # type: ignore[arg-type]
    if len(tracks) < 3:
        raise ParameterError(f"an embedding map needs at least 3 embedded tracks; the library has {len(tracks)}")
    z, _, _ = standardize(vectors)
    if method == "tsne":
        from sklearn.manifold import TSNE

        if len(tracks) < 5:
            raise ParameterError(f"method 'tsne' needs at least 5 tracks; got {len(tracks)}")
        xy = TSNE(perplexity=min(30.0, len(tracks) - 1.0), random_state=seed, init="pca").fit_transform(z)
    else:
        from sklearn.decomposition import PCA

        xy = PCA(n_components=2, random_state=seed).fit_transform(z)

    def key_of(t: Track) -> str:
        if color_by == "style":
            return track_style(t) or "untagged"
        a = track_analysis(library, t, compute=False)
        if a is None:
            return "not analysed"
        return a.camelot if color_by == "camelot" else f"energy {a.energy}"

    keys = [key_of(t) for t in tracks]
    fig = Figure(figsize=(8, 6), layout="constrained")
    ax = fig.subplots()
    cmap = matplotlib.colormaps["tab10" if len(set(keys)) <= 10 else "tab20"]
    for i, k in enumerate(sorted(set(keys))):
        sel = np.array([kk == k for kk in keys])
        ax.scatter(xy[sel, 0], xy[sel, 1], s=40, color=cmap(i % cmap.N), label=k, alpha=0.85)
    ax.legend(fontsize=8, loc="best")
    ax.set(title=f"Tracks by {color_by} ({method.upper()} of {describe_backbone(b)})", xticks=[], yticks=[])  # type: ignore[arg-type]
    return fig


def similar_table(search: object, track: int | str | Track, *, k: int = 5) -> pd.DataFrame:
    """The ``k`` tracks most similar to ``track`` from a :class:`~workbench.search.LibrarySearch`, explained."""
    import pandas as pd

    results = search.similar(track, k=k)  # type: ignore[attr-defined]
    return pd.DataFrame(
        [{"score": round(r.match.score, 3), "id": r.track.id, "name": r.track.name,
          "explanation": r.match.explanation} for r in results],
        columns=["score", "id", "name", "explanation"],
    )


def player(track: Track, *, start_s: float = 0.0, duration_s: float = 30.0, sr: int = 22050) -> Any:
    """An ``IPython.display.Audio`` of ``duration_s`` seconds of a track from ``start_s`` (mono)."""
    from IPython.display import Audio

    from workbench import audio

    if start_s < 0 or duration_s <= 0:
        raise ParameterError(f"start_s must be >= 0 and duration_s > 0; got {start_s!r}, {duration_s!r}")
    y, rate = audio.load(track.path, sr=sr, mono=True)
    a, b = int(start_s * rate), int((start_s + duration_s) * rate)
    if a >= len(y):
        raise ParameterError(f"start_s {start_s} is past the end of {track.name} ({len(y) / rate:.1f} s)")
    return Audio(y[a:b], rate=rate, normalize=True)
