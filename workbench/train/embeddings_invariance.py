"""The invariance gate's input: a trained head's and its backbone's cosine to shifted copies of held-out windows.

:func:`held_out_invariance` cuts held-out windows from the audio, shifts their pitch, tempo and gain
(:func:`workbench.evaluate.invariance.paired_invariance`) and compares each with its copies in the
backbone's space, the head's (blended as search uses it) and the raw pooled one. The embeddings job
(:mod:`workbench.train.embeddings_job`) records it in the run's metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from workbench.embed.batch import Backbone
    from workbench.library import Library
    from workbench.models.heads import EmbeddingHead
    from workbench.similarity.blend import Blend
    from workbench.train.datasets import EmbeddingSet


def held_out_invariance(library: Library, model: EmbeddingHead, backbone: Backbone, test: EmbeddingSet, *,
                        stats: tuple[np.ndarray, np.ndarray], n_clips: int = 8, blend: Blend | None = None) -> dict[str, Any]:
    """The invariance gate's measurement on held-out windows: the head's and the backbone's mean cosine
    between each window and its pitch-, tempo- and gain-shifted copies.

    Up to ``n_clips`` original windows of the held-out set (spread over its tracks, middle windows
    first) are cut from the audio, embedded by the backbone (mean-pooled, as in training), and
    compared in three spaces (:func:`workbench.evaluate.invariance.paired_invariance`):
    ``backbone`` (its vectors z-scored with the training set's statistics ``stats``, the space of
    the backbone baseline's retrieval metrics), ``model`` (the head) and ``backbone_raw`` (the
    pooled vectors as they are, for reference).

    Parameters
    ----------
    library : Library
        Where the tracks are.
    model : EmbeddingHead
        The trained head (takes raw backbone vectors).
    backbone : Backbone
        The backbone the head was trained on.
    test : EmbeddingSet
        The held-out windows (``rows["start_s"]``, ``rows["end_s"]`` in seconds).
    stats : (mean, std)
        Per-dimension statistics of the backbone baseline's space, each [shape=(d,)]: the training set's, or a
        search-end blend's (``blend.backbone == "search"``: search's, as its baseline is scored).
    n_clips : int >= 1
        Most windows measured.
    blend : Blend or None
        The head's blend with the backbone (the ``model`` space is then the blended vector search uses).

    Returns
    -------
    dict
        ``{"invariance": {transform: {"backbone": cos, "model": cos, "backbone_raw": cos}},
        "invariance_n_clips": n}``; empty when there are no held-out windows.
    """
    import numpy as np

    from workbench import audio
    from workbench.embed.features import pool
    from workbench.evaluate.invariance import paired_invariance
    from workbench.train.triplet import embed

    originals = test.originals()
    if len(originals) == 0 or "start_s" not in originals.rows:
        return {}
    by_track: dict[int, list[int]] = {}
    for i, t in enumerate(originals.track_ids):
        by_track.setdefault(int(t), []).append(i)
    order = {}
    for t, rows in by_track.items():  # middle windows first
        mid = len(rows) // 2
        order[t] = [rows[j] for j in sorted(range(len(rows)), key=lambda j, mid=mid: abs(j - mid))]
    picked: list[int] = []
    while len(picked) < n_clips and any(order.values()):  # round robin over the tracks
        for t in sorted(order):
            if order[t] and len(picked) < n_clips:
                picked.append(order[t].pop(0))
    clips, sr = [], None
    for i in picked:
        y, sr = audio.load(library.track(int(originals.track_ids[i])).path, sr=sr, mono=True)
        a, z = float(originals.rows["start_s"][i]), float(originals.rows["end_s"][i])
        clips.append(y[int(a * sr):max(int(a * sr) + 1, int(z * sr))])
    mean, std = (np.asarray(v, dtype=np.float32) for v in stats)

    def backbone_vector(y: np.ndarray) -> np.ndarray:
        """The backbone's mean-pooled embedding of a clip.

        Parameters
        ----------
        y : np.ndarray [shape=(n,)]
            Mono audio at the clips' sample rate.
        """
        frames, _ = backbone.embed(y, sr=int(sr))
        return pool(frames, with_std=False)

    def head_vector(v: np.ndarray) -> np.ndarray:
        """The model's vector of a pooled backbone vector (blended with the backbone when ``blend`` is set).

        Parameters
        ----------
        v : np.ndarray [shape=(d,)]
            A pooled backbone vector.
        """
        h = embed(model, v[None, :].astype(np.float32))
        return (h if blend is None else blend.vectors(v[None, :], h))[0]

    spaces = {"backbone": lambda v: (v - mean) / std, "model": head_vector,
              "backbone_raw": lambda v: v}
    return {"invariance": paired_invariance(backbone_vector, spaces, clips, sr=int(sr)), "invariance_n_clips": len(clips)}


#: The earlier name (kept importable from :mod:`workbench.train.jobs`).
embedding_invariance = held_out_invariance
