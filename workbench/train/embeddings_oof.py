"""Term weights learned from out-of-fold vibe: the head's fold heads score the pairs their fold never trained on.

:mod:`workbench.similarity.learned_weights` fits the search's term weights on pairs of the run's
training tracks, with the vibe of the final head, which trained on both tracks of every pair: its
vibe there is better than on a new query, so the fitted vibe weight leans high (82-84 % on the
devset). Here the pairs' vibe comes from heads that never saw the query: the fold heads the job
already trains to pick the blend (:func:`workbench.train.embeddings_blend.pick_blend`, ``keep``),
each trained on the training tracks outside its fold. For every fold, the library is indexed with
that fold's head (blended with the backbone as the run's head is, by the same share) exactly as
search indexes it (:class:`~workbench.search.LibrarySearch`, calibrated), and the pairs whose query
is in the fold (candidates: every other track that is not held out and has a group) give one row
of four terms each; one logistic regression on all rows (:func:`~workbench.similarity.learned_weights.fit_terms`)
gives the weights. They are recorded in ``metrics.json`` under ``learned_weights_oof`` only when the run asks for
them (data setting ``learned_oof=True``, :func:`check_learned_oof`; off by default: search does not use them, and
indexing the library once per fold head costs time on every run), as ``benchmarks/bench_search_real.py`` does to
measure them beside the default and in-fold learned weights. The
held-out tracks are never a query or a candidate, and their labels never enter; their audio does, as in search: the
fold indexes hold the whole library, so they count in its calibration (the 0 % vibe pair).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.library import Library


def check_learned_oof(value: object, *, blend: object, blend_folds: int, backbone: Backbone,
                      finetune: bool) -> bool:
    """The job's ``learned_oof`` setting, refused where the run trains no fold heads to fit with.

    Parameters
    ----------
    value : bool
        As given in the config (``--set learned_oof=true``).
    blend : "auto", None or float
        The run's checked ``blend``: only ``"auto"`` trains the fold heads.
    blend_folds : int
        The run's ``blend_folds`` (0: the blend is picked on validation alone, with no fold heads).
    backbone : Backbone
        The run's backbone (a CNN is trained itself and picks no blend).
    finetune : bool
        The run fine-tunes OpenL3 (picks no blend).

    Returns
    -------
    bool
        ``value``, checked.

    Raises
    ------
    ParameterError
        ``value`` is not a bool, or it is True where the run has no fold heads (the message says why).
    """
    from workbench.errors import ParameterError
    from workbench.models.cnn_backbone import CNNBackbone

    if not isinstance(value, bool):
        raise ParameterError(f"learned_oof must be true or false; got {value!r}")
    if value:
        why = ("blend is not 'auto'" if blend != "auto" else "blend_folds is 0" if not blend_folds
               else "the CNN backbone picks no blend" if isinstance(backbone, CNNBackbone)
               else "a fine-tuned backbone picks no blend" if finetune else "")
        if why:
            raise ParameterError(f"learned_oof=true needs the blend's fold heads (blend='auto', blend_folds >= 2, "
                                 f"a head on a frozen backbone); here {why} (blend={blend!r}, blend_folds={blend_folds!r})")
    return value


def _digest(head: Any) -> str:
    """SHA-256 of a head's parameters (names the fold head's temporary index)."""
    h = hashlib.sha256()
    for p in head.state_dict().values():
        h.update(p.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def oof_learned_weights(library: Library, fold_heads: Sequence[tuple[np.ndarray, Any, tuple[np.ndarray, np.ndarray]]],
                        *, backbone: Backbone, window_s: float, blend_weight: float | None,
                        held_out_hashes: Iterable[str]) -> dict[str, Any]:
    """Term weights fitted on out-of-fold pairs (see the module), as ``metrics.json`` records them.

    Parameters
    ----------
    library : Library
        The library the run trained on (analysed and embedded).
    fold_heads : sequence of (track ids, EmbeddingHead, (mean, std))
        Each fold's tracks, the head trained without them, and its training rows' backbone statistics
        (``pick_blend(..., keep=...)``).
    backbone : Backbone
        The run's backbone.
    window_s : float > 0
        The head's window in seconds.
    blend_weight : float or None
        The run's backbone share in search (None or 0: the heads alone).
    held_out_hashes : iterable of str
        The run's held-out tracks (never a query or a candidate here).

    Returns
    -------
    dict
        ``{"status": "fitted", "learned": LearnedWeights.to_json(), "folds": n, "said": ...}`` or
        ``{"status": "not fitted", "reason": ...}``.
    """
    from workbench.errors import failure_reason
    from workbench.search import LibrarySearch
    from workbench.similarity.blend import Blend
    from workbench.similarity.groups import track_groups
    from workbench.similarity.learned_weights import fit_terms, pair_terms, training_digest
    from workbench.similarity.model import EmbeddingModel

    if not fold_heads:
        return {"status": "not fitted", "reason": "no fold heads (the blend was not picked on folds)"}
    held = set(held_out_hashes)
    tracks = [t for t in library.tracks() if t.content_hash not in held]
    groups, by = track_groups(library, tracks)
    groups = {i: g for i, g in groups.items() if g != "(no crate)"}
    hashes = {t.id: t.content_hash for t in tracks if t.id in groups}
    rows, labels = [], []
    try:
        for fold, head, stats in fold_heads:
            blend = Blend(float(blend_weight), stats[0], stats[1]) if blend_weight else None
            model = EmbeddingModel(backbone, head, None, float(window_s), float(window_s) / 4,
                                   weights_sha256=f"oof{_digest(head)}", blend=blend)
            search = LibrarySearch(library, model=model, progress=False, term_weights="default")
            try:
                search.update()
                ids = [i for i in map(int, search.index.ids) if i in hashes]  # type: ignore[union-attr]
                X, q, c = pair_terms(search.index, ids)  # type: ignore[arg-type]
            finally:
                shutil.rmtree(search.folder, ignore_errors=True)  # a fold head is never searched again
            mine = np.isin(q, np.asarray(fold, dtype=np.int64))
            rows.append(X[mine])
            labels.append(np.asarray([groups[int(a)] == groups[int(b)] for a, b in zip(q[mine], c[mine], strict=True)],
                                     dtype=np.int64))
        learned = fit_terms(np.concatenate(rows), np.concatenate(labels), groups_by=by, n_tracks=len(hashes),
                            trained_on=training_digest(hashes.values()))
    except Exception as exc:  # noqa: BLE001 - the run is still written; the record says why
        return {"status": "not fitted", "reason": failure_reason(exc)}
    return {"status": "fitted", "learned": learned.to_json(), "folds": len(fold_heads),
            "said": f"out-of-fold ({len(fold_heads)} fold heads) {learned.said}"}
