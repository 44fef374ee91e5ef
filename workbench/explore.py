"""Exploring a library: a table of tracks, distributions, an embedding map, playback.

How tracks fall into groups (crate, folder, artist, style) and their colours: :mod:`workbench.explore_groups`
(re-exported here).

The notebook ``01_explore_library.ipynb`` is a view over these functions. Plots are
matplotlib figures (returned, not shown), so they work in notebooks, scripts and tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.explore_groups import (  # noqa: F401  (re-exported: the grouping moved there)
    GROUP_BY,
    MAX_GROUPS,
    group_colours,
    shown_groups,
    style_tag,
    track_folder,
    track_groups,
)
from workbench.library import Library, Track
from workbench.wording import count_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from IPython.display import Audio
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from workbench.embed.batch import Backbone
    from workbench.search import LibrarySearch

#: Columns of :func:`library_table`, in order.
TABLE_COLUMNS = ("id", "name", "artist", "folder", "crates", "style", "group", "duration_s", "bpm", "key", "camelot",
                 "key_confidence", "energy", "loudness_lufs", "path")

#: Up to this many tracks, the embedding map writes each track's name beside its point.
MAX_NAMED_POINTS = 60


def require_tracks(library: Library) -> Library:
    """Return ``library`` if it has tracks, else raise an error that says how to get some.

    Parameters
    ----------
    library : Library
        The library to check.

    Raises
    ------
    ParameterError
        The library has no present track.
    """
    if len(library) == 0:
        raise ParameterError(
            f"the library at {library.path} has no tracks: run `make demo` (the synthesized demo library) or "
            "`workbench scan ~/Music/your-folder` first; a library made with `workbench --home DIR` opens here "
            "when Jupyter is started with `WORKBENCH_HOME=DIR` (or with the parameter DB = 'DIR/data/workbench.db')")
    return library


def library_table(library: Library, *, group_by: str | None = None) -> pd.DataFrame:
    """One row per track with its stored analysis (empty cells where a track is not analysed yet).

    Columns: see :data:`TABLE_COLUMNS`; ``bpm`` is NaN for a track without a steady beat, ``key``
    and ``camelot`` None and ``key_confidence`` NaN for drums only (the analysis's ``has_key`` False: no
    key to mix on, so no confidence in one, as ``workbench analyze`` shows ``-``);
    ``crates`` the names of the track's crates (comma-separated); ``group`` the track's group
    under ``group_by`` (see :func:`track_groups`; the grouping used is ``table.attrs["group_by"]``).

    Parameters
    ----------
    library : Library
        The tracks and their stored analysis (nothing is analysed here).
    group_by : {"crate", "folder", "artist", "style"} or None
        See :func:`track_groups`.

    Returns
    -------
    pd.DataFrame
        Indexed by track id.
    """
    import pandas as pd

    from workbench.analysis import track_analysis
    from workbench.crates import Crates

    tracks = library.tracks()
    kind, groups = track_groups(library, group_by, tracks=tracks)
    membership = Crates(library).membership()
    rows: list[dict[str, Any]] = []
    for t in tracks:
        a = track_analysis(library, t, compute=False)
        rows.append({
            "id": t.id, "name": t.name, "artist": " ".join(t.artist.split()) if t.artist else t.artist, "folder": track_folder(t),
            "crates": ", ".join(membership.get(t.id, [])), "style": style_tag(t), "group": groups[t.id],
            "duration_s": round(t.duration_s, 1),
            "bpm": (round(a.bpm, 1) if a is not None and a.bpm else np.nan),
            # drums only (``has_key`` False): no key to mix on, so none is shown or counted
            "key": a.key if a is not None and a.has_key else None,
            "camelot": a.camelot if a is not None and a.has_key else None,
            "key_confidence": round(a.key_confidence, 2) if a is not None and a.has_key else np.nan,
            "energy": a.energy if a is not None else None,
            "loudness_lufs": round(a.loudness_lufs, 1) if a is not None else np.nan,
            "path": t.path,
        })
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS)).set_index("id")
    table.attrs["group_by"] = kind
    return table


def group_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per group of :func:`library_table`: tracks, median BPM, most common Camelot key, median energy
    and loudness, total minutes; largest group first.

    Parameters
    ----------
    table : pd.DataFrame
        A table from :func:`library_table` (its ``group`` column).

    Returns
    -------
    pd.DataFrame
        One row per group: ``tracks``, ``median_bpm`` (BPM), ``top_camelot`` (see
        :func:`_top_camelot`), ``median_energy`` (1..10), ``median_lufs`` (LUFS), ``minutes``.
    """
    import pandas as pd

    if table.empty:
        return pd.DataFrame(columns=["tracks", "median_bpm", "top_camelot", "median_energy", "median_lufs",
                                     "minutes"])
    g = table.groupby("group", sort=False)
    out = pd.DataFrame({
        "tracks": g.size(),
        "median_bpm": g["bpm"].median().round(1),
        "top_camelot": g["camelot"].agg(_top_camelot),
        "median_energy": pd.to_numeric(table["energy"], errors="coerce").groupby(table["group"]).median(),
        "median_lufs": g["loudness_lufs"].median().round(1),
        "minutes": (g["duration_s"].sum() / 60).round(1),
    })
    out.index.name = table.attrs.get("group_by", "group")
    return out.sort_values("tracks", ascending=False, kind="stable")


def _top_camelot(codes: pd.Series) -> str | None:
    """The most common Camelot code of a group; a tie is every tied code in wheel order ("6A/9A"),
    or "mixed: N keys" past three (the first code in sort order would claim a majority it lacks);
    a key held by fewer than half of the group's tracks says how few ("4A (1 of 7)": six drum loops
    have no key); None where no track has a key."""
    from workbench.camelot import CAMELOT_CODES

    counts = codes.dropna().value_counts()
    if counts.empty:
        return None
    order = {c: i for i, c in enumerate(CAMELOT_CODES)}
    tied = sorted(counts.index[counts == counts.max()], key=lambda c: order.get(c, len(order)))
    if len(tied) > 3:
        return f"mixed: {len(tied)} keys"
    top = int(counts.max())
    return "/".join(tied) + (f" ({top} of {len(codes)})" if len(tied) == 1 and 2 * top < len(codes) else "")


def plot_distributions(table: pd.DataFrame, *, by_group: bool = True) -> Figure:
    """Tempo histogram, Camelot key counts (1A..12B), energy levels and loudness, in one figure;
    each stacked by the table's ``group`` column (crate, folder, artist or style) unless ``by_group`` is false.

    Parameters
    ----------
    table : pd.DataFrame
        A table from :func:`library_table`.
    by_group : bool
        Stack the bars by group (at most :data:`MAX_GROUPS`, the rest as "other").

    Returns
    -------
    Figure
        A matplotlib figure of 2 x 2 axes.
    """
    import pandas as pd
    from matplotlib.figure import Figure

    from workbench.camelot import CAMELOT_CODES

    groups = shown_groups([str(g) for g in table["group"]]) if by_group and "group" in table else ["all"] * len(table)
    names = sorted(set(groups), key=lambda n: (n == "other", -groups.count(n), n))
    colours = group_colours(names) if by_group else {"all": "#334155"}
    member = np.asarray(groups)
    fig = Figure(figsize=(12, 6.5), layout="constrained")
    ax_bpm, ax_key, ax_energy, ax_lufs = fig.subplots(2, 2).ravel()

    def _stacked_hist(ax: Axes, column: str, bins: int | np.ndarray) -> None:
        data = [table[column].to_numpy(dtype=float)[member == n] for n in names]
        data = [d[~np.isnan(d)] for d in data]
        ax.hist(data, bins=bins, stacked=True, color=[colours[n] for n in names], label=names)

    def _stacked_bars(ax: Axes, values: list[str] | list[int], column: pd.Series) -> None:
        bottom = np.zeros(len(values))
        for n in names:
            sub = column[member == n].value_counts()
            height = np.array([sub.get(v, 0) for v in values], dtype=float)
            ax.bar(range(len(values)), height, bottom=bottom, color=colours[n], label=n)
            bottom += height

    _stacked_hist(ax_bpm, "bpm", np.arange(60, 200, 4))
    with_beat, with_key = int(table["bpm"].notna().sum()), int(table["camelot"].notna().sum())
    ax_bpm.set(title=f"Tempo ({count_of(with_beat, 'track')} with a beat)", xlabel="BPM", ylabel="tracks")
    codes = list(CAMELOT_CODES)
    _stacked_bars(ax_key, codes, table["camelot"])
    ax_key.set_xticks(range(len(codes)), codes, rotation=90, fontsize=7)
    ax_key.set(title=f"Key (Camelot: nA = minor, nB = major; {count_of(with_key, 'track')} with a key)",
               ylabel="tracks")
    levels = pd.to_numeric(table["energy"], errors="coerce").round()
    _stacked_bars(ax_energy, list(range(1, 11)), levels)
    ax_energy.set(title="Energy level", xlabel="1 (calm) .. 10 (peak)", ylabel="tracks")
    ax_energy.set_xticks(range(10), [str(i) for i in range(1, 11)])
    _stacked_hist(ax_lufs, "loudness_lufs", 20)
    ax_lufs.set(title="Integrated loudness", xlabel="LUFS", ylabel="tracks")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_bpm, ax_key, ax_energy, ax_lufs):  # counts of tracks: no 0.25 of a track on the axis
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if by_group and len(names) > 1:
        ax_bpm.legend(fontsize=7, title=table.attrs.get("group_by", "group"), title_fontsize=8, loc="upper right")
    return fig


def embedding_points(library: Library, *, backbone: Backbone | None = None, group_by: str | None = None,
                     method: str = "pca", seed: int = 0) -> pd.DataFrame:
    """The tracks' pooled embeddings projected to 2-D: one row per embedded track with ``x``, ``y``,
    ``name``, ``group`` (see :func:`track_groups`; the grouping is ``attrs["group_by"]``) and the
    backbone's description in ``attrs["backbone"]``.

    Parameters
    ----------
    library : Library
        Tracks not embedded yet are embedded first.
    backbone : Backbone or None
        None: the library's backbone, as search and ``workbench embed`` use it
        (:func:`~workbench.embed.batch.default_backbone`: OpenL3 when its weights are found, else the
        weight-free feature frontend).
    group_by : {"crate", "folder", "artist", "style"} or None
        See :func:`track_groups`.
    method : {"pca", "tsne"}
        t-SNE needs at least 5 tracks (perplexity below the track count).
    seed : int
        The projection's ``random_state``.

    Raises
    ------
    ParameterError
        Unknown ``method``, fewer than 3 embedded tracks, or t-SNE on fewer than 5.
    """
    import pandas as pd

    from workbench.embed.batch import default_backbone, describe_backbone, embed_library, track_vectors
    from workbench.embed.features import standardize

    if method not in ("pca", "tsne"):
        raise ParameterError(f"method must be 'pca' or 'tsne'; got {method!r}")
    b = backbone if backbone is not None else default_backbone()[0]  # the one search ranks on
    embed_library(library, backbone=b, progress=False)
    tracks, vectors = track_vectors(library, backbone=b)
    if len(tracks) < 3:
        raise ParameterError(f"an embedding map needs at least 3 embedded tracks; the library has {len(tracks)}")
    kind, groups = track_groups(library, group_by, tracks=tracks)
    z, _, _ = standardize(vectors)
    if method == "tsne":
        from sklearn.manifold import TSNE

        if len(tracks) < 5:
            raise ParameterError(f"method 'tsne' needs at least 5 tracks; got {len(tracks)}")
        xy = TSNE(perplexity=min(30.0, len(tracks) - 1.0), random_state=seed, init="pca").fit_transform(z)
    else:
        from sklearn.decomposition import PCA

        xy = PCA(n_components=2, random_state=seed).fit_transform(z)
    points = pd.DataFrame({"id": [t.id for t in tracks], "name": [t.name for t in tracks], "x": xy[:, 0],
                           "y": xy[:, 1], "group": [groups[t.id] for t in tracks]}).set_index("id")
    points.attrs.update(group_by=kind, method=method, backbone=describe_backbone(b))
    return points


def embedding_map(library: Library, *, backbone: Backbone | None = None, group_by: str | None = None, color_by: str | None = None,
                  method: str = "pca", seed: int = 0, names: bool | None = None) -> Figure:
    """The tracks' pooled embeddings projected to 2-D, coloured by group, with track names beside the points.

    Parameters
    ----------
    library : Library
        See :func:`embedding_points`.
    backbone : Backbone or None
        None: the library's backbone, as search and ``workbench embed`` use it
        (:func:`~workbench.embed.batch.default_backbone`: OpenL3 when its weights are found, else the
        weight-free feature frontend).
    group_by : {"crate", "folder", "artist", "style"} or None
        See :func:`track_groups` (default: the user's crates, else folders, else style tags, else artists).
    color_by : {"camelot", "energy"} or None
        Colour by the stored analysis instead of a group.
    method : {"pca", "tsne"}
        The 2-D projection.
    seed : int
        The projection's ``random_state``.
    names : bool or None
        Write each track's name beside its point; default when there are at most
        :data:`MAX_NAMED_POINTS` tracks.
    """
    from matplotlib.figure import Figure

    from workbench.analysis import track_analysis

    if color_by is not None and color_by not in ("camelot", "energy", *GROUP_BY):
        raise ParameterError(f"color_by must be 'camelot', 'energy', one of {GROUP_BY} or None; got {color_by!r}")
    if color_by in GROUP_BY:
        group_by, color_by = color_by, None
    points = embedding_points(library, backbone=backbone, group_by=group_by, method=method, seed=seed)
    title_by = points.attrs["group_by"]
    if color_by is not None:
        def _key_of(track_id: int) -> str:
            a = track_analysis(library, library.track(int(track_id)), compute=False)
            if a is None:
                return "not analysed"
            return a.camelot if color_by == "camelot" else f"energy {a.energy}"

        points["group"] = [_key_of(i) for i in points.index]
        title_by = color_by
    groups = shown_groups(list(points["group"]))
    order = sorted(set(groups), key=lambda n: (n == "other", -groups.count(n), n))
    colours = group_colours(order)
    fig = Figure(figsize=(9, 7), layout="constrained")
    ax = fig.subplots()
    member = np.asarray(groups)
    for k in order:
        sel = member == k
        ax.scatter(points["x"].to_numpy()[sel], points["y"].to_numpy()[sel], s=40, color=colours[k],
                   label=f"{k} ({int(sel.sum())})", alpha=0.85)
    # the legend beside the map, where it covers neither a point nor a name
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title=title_by, title_fontsize=8)
    ax.set(title=f"Tracks by {title_by}: {method.upper()} of {points.attrs['backbone']}", xticks=[], yticks=[])
    if len(points) <= MAX_NAMED_POINTS if names is None else names:
        from workbench.report.point_names import name_points

        name_points(ax, points["x"].to_numpy(dtype=float), points["y"].to_numpy(dtype=float), list(points["name"]))
    return fig


def similar_table(search: LibrarySearch, track: int | str | Track, *, k: int = 5,
                  weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The ``k`` tracks most similar to ``track`` from a :class:`~workbench.search.LibrarySearch`, explained.

    Parameters
    ----------
    search : LibrarySearch
        The search to ask.
    track : int, str or Track
        A track id, content hash or path, or a :class:`Track`.
    k : int >= 1
        How many matches.
    weights : mapping of str to float or None
        Given term weights (``{"vibe": ..., "tempo": ..., "key": ..., "energy": ...}``); None: the
        search's own (its ``term_weights``: the defaults or the learned ones).

    Returns
    -------
    pd.DataFrame
        Columns ``score`` (0..1, 2 decimals as ``workbench similar`` writes it), ``id``, ``name``, ``explanation``,
        ``model`` (the embedding model that ranked them); best first, its index the rank from 1. ``attrs["weights"]`` names the term weights used, as
        ``workbench similar`` prints them (``"default: vibe 50%, tempo 20%, key 20%, energy 10%"``).
    """
    import pandas as pd

    results = search.similar(track, k=k, weights=weights)
    table = pd.DataFrame(
        [{"score": round(r.match.score, 2), "id": r.track.id, "name": r.track.name,
          "explanation": r.match.explanation, "model": r.model} for r in results],
        columns=["score", "id", "name", "explanation", "model"],
    )
    table.index = pd.RangeIndex(1, len(table) + 1, name="rank")  # the best match is 1, not 0
    table.attrs["weights"] = results[0].weights if results else ""
    return table


def player(track: Track, *, start_s: float = 0.0, duration_s: float = 30.0, sr: int = 22050) -> Audio:
    """An ``IPython.display.Audio`` of ``duration_s`` seconds of a track from ``start_s`` (mono), with the
    track's id, name and the span above the player (two bare players in notebook 01 did not say which
    was the query and which its match).

    Parameters
    ----------
    track : Track
        The track to play.
    start_s : float >= 0
        Start, in seconds; it must lie before the end.
    duration_s : float > 0
        Length, in seconds (shorter at the end of the track).
    sr : int > 0
        Sample rate in Hz to decode at.

    Raises
    ------
    ParameterError
        ``start_s`` < 0, ``duration_s`` <= 0, or ``start_s`` past the end.
    """
    from html import escape

    from IPython.display import Audio

    from workbench import audio

    if start_s < 0 or duration_s <= 0:
        raise ParameterError(f"start_s must be >= 0 and duration_s > 0; got {start_s!r}, {duration_s!r}")
    y, rate = audio.load(track.path, sr=sr, mono=True)
    a, b = int(start_s * rate), int((start_s + duration_s) * rate)
    if a >= len(y):
        raise ParameterError(f"start_s {start_s} is past the end of {track.name} ({len(y) / rate:.1f} s)")
    end_s = min(start_s + duration_s, len(y) / rate)
    caption = escape(f"track {track.id}: {track.name} ({start_s:g}-{end_s:.0f} s)")

    class _Captioned(Audio):
        def _repr_html_(self) -> str:
            return f"<div>{caption}</div>{super()._repr_html_()}"

    return _Captioned(y[a:b], rate=rate, normalize=True)
