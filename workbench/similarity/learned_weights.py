"""Term weights learned from the user's folders or crates: what "similar" means in this library.

The combined score of :mod:`workbench.similarity.sets` is a weighted mean of four terms (vibe,
tempo, key, energy) with fixed default weights (0.5 / 0.2 / 0.2 / 0.1). Here the weights are
fitted on the library itself: every ordered pair of *training* tracks (a query and another track)
is a row of its four terms, exactly as search computes them (the index's calibrated window-set
vibe, the tempo, key and energy scores), labelled 1 when both tracks are in the same group (crate,
else folder: :func:`~workbench.similarity.groups.track_groups`) and 0 otherwise. A logistic
regression (scikit-learn, balanced classes, L2) on these rows gives one coefficient per term; the
weights are the coefficients (the intercept does not change a ranking). A weight must stay >= 0
(the pruned search's bounds and the explanation assume that the score rises with every term), so
a term whose coefficient comes out negative or zero is dropped and the rest refitted (an active
set); a fit that drops the vibe itself is refused.

A term that is unknown for a pair (no beat: tempo; drums only: key) is left out of that pair's
weighted mean at search time, so here it is filled with the mean of the pairs where it is known.

Only training tracks are used: the caller excludes the tracks held out from the head's run (and
the same for the backbone, so the two are compared fairly). Note that a head's vibe on its own
training tracks is better than on new ones, so its fitted vibe weight leans high; the embeddings job
also fits them on out-of-fold vibe (:mod:`workbench.train.embeddings_oof`, with :func:`fit_terms`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError
from workbench.similarity.scores import Weights

if TYPE_CHECKING:
    from workbench.similarity.sets import TrackSetIndex

#: The terms, in :class:`~workbench.similarity.scores.Weights` order.
TERMS: tuple[str, ...] = ("vibe", "tempo", "key", "energy")
#: Fewest training tracks in groups of two or more before weights are fitted.
MIN_TRACKS = 4
#: The logistic regression's inverse regularisation strength.
DEFAULT_C = 1.0


@dataclass(frozen=True)
class LearnedWeights:
    """Term weights fitted on a library's groups, and what they were fitted on.

    Parameters
    ----------
    weights : Weights
        The fitted weights (they sum to 1).
    groups_by : str
        ``"folder"`` or ``"crate"``.
    n_tracks : int
        Training tracks used (queries and candidates).
    n_pairs, n_positive : int
        Ordered pairs fitted on, and how many of them share a group.
    coefficients : dict of str to float
        The logistic regression's coefficient per kept term (dropped terms: 0).
    dropped : tuple of str
        Terms whose coefficient was <= 0 (weight 0).
    trained_on : str
        SHA-256 (first 16 hex digits) of the sorted training tracks' content hashes.
    """

    weights: Weights
    groups_by: str
    n_tracks: int
    n_pairs: int
    n_positive: int
    coefficients: dict[str, float]
    dropped: tuple[str, ...]
    trained_on: str

    @property
    def said(self) -> str:
        """E.g. ``"learned from your folders (70 tracks): vibe 71%, tempo 24%, key 0%, energy 5%"``."""
        return f"learned from your {self.groups_by}s ({self.n_tracks} tracks): {weights_said(self.weights)}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (:meth:`from_json` reads it back)."""
        out = asdict(self)
        out["weights"] = dict(zip(TERMS, self.weights.normalized(), strict=True))
        out["dropped"] = list(self.dropped)
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> LearnedWeights:
        """The weights :meth:`to_json` wrote.

        Parameters
        ----------
        doc : mapping
            What :meth:`to_json` returned.

        Raises
        ------
        ParameterError
            A field is missing or of the wrong kind.
        """
        try:
            return cls(weights=Weights.coerce(dict(doc["weights"])), groups_by=str(doc["groups_by"]),
                       n_tracks=int(doc["n_tracks"]), n_pairs=int(doc["n_pairs"]), n_positive=int(doc["n_positive"]),
                       coefficients={str(k): float(v) for k, v in dict(doc["coefficients"]).items()},
                       dropped=tuple(str(t) for t in doc["dropped"]), trained_on=str(doc["trained_on"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterError(f"learned weights must be what LearnedWeights.to_json wrote; got {doc!r}") from exc


def weights_said(weights: Weights) -> str:
    """``"vibe 50%, tempo 20%, key 20%, energy 10%"``: normalised weights in words, whole percents that add up to
    100 (largest remainder, :func:`~workbench.wording.rounded_shares`: thirds read 34%, 33%, 33%).

    Parameters
    ----------
    weights : Weights
        Any weights.
    """
    from workbench.wording import rounded_shares

    shares = rounded_shares(dict(zip(TERMS, weights.normalized(), strict=True)), 2)
    return ", ".join(f"{t} {round(w * 100)}%" for t, w in shares.items())


def training_digest(hashes: Iterable[str]) -> str:
    """First 16 hex digits of the SHA-256 of the sorted content hashes (names a training set).

    Parameters
    ----------
    hashes : iterable of str
        Content hashes of the training tracks.
    """
    return hashlib.sha256(json.dumps(sorted(set(hashes))).encode()).hexdigest()[:16]


def pair_terms(index: TrackSetIndex, track_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The four terms of every ordered pair of distinct indexed tracks, as search scores them
    (:meth:`~workbench.similarity.sets.TrackSetIndex.pair_terms`).

    Parameters
    ----------
    index : TrackSetIndex
        A calibrated window-set index.
    track_ids : iterable of int
        Indexed tracks (at least two).

    Returns
    -------
    (terms, query, candidate) : (np.ndarray, np.ndarray, np.ndarray)
        ``(p, 4)`` terms (NaN where unknown) and each pair's two track ids, as the method returns them.
    """
    return index.pair_terms(track_ids)


def fit_weights(index: TrackSetIndex, groups: Mapping[int, str], *, training_hashes: Mapping[int, str],
                groups_by: str = "folder", C: float = DEFAULT_C) -> LearnedWeights:
    """Fit term weights on the training tracks' pairs (same group = positive).

    Parameters
    ----------
    index : TrackSetIndex
        The search's index (calibrated).
    groups : mapping of int to str
        Group of each track id.
    training_hashes : mapping of int to str
        The training tracks (id -> content hash); only indexed ones with a group are used.
    groups_by : str
        What the groups are, for the text.
    C : float > 0
        Inverse L2 strength of the logistic regression.

    Returns
    -------
    LearnedWeights

    Raises
    ------
    ParameterError
        Fewer than :data:`MIN_TRACKS` training tracks in groups of two or more, or the fit gives
        the vibe no positive weight.
    """
    if not (isinstance(C, (int, float)) and not isinstance(C, bool) and C > 0):
        raise ParameterError(f"C must be a number > 0; got {C!r}")
    indexed = set(int(i) for i in index.ids)
    used = {i: h for i, h in training_hashes.items() if i in indexed and groups.get(i) is not None}
    sizes: dict[str, int] = {}
    for i in used:
        sizes[groups[i]] = sizes.get(groups[i], 0) + 1
    paired = sum(n for n in sizes.values() if n >= 2)
    if paired < MIN_TRACKS:
        raise ParameterError(f"learning search weights needs at least {MIN_TRACKS} training tracks in {groups_by}s "
                             f"of two or more; got {paired}")
    if len(sizes) < 2:
        raise ParameterError(f"learning search weights needs training tracks in at least two {groups_by}s; got "
                             f"{len(sizes)}")
    X, q, c = pair_terms(index, used)
    y = np.asarray([groups[int(a)] == groups[int(b)] for a, b in zip(q, c, strict=True)], dtype=np.int64)
    return fit_terms(X, y, groups_by=groups_by, n_tracks=len(used), trained_on=training_digest(used.values()), C=C)


def fit_terms(X: np.ndarray, y: np.ndarray, *, groups_by: str, n_tracks: int, trained_on: str,
              C: float = DEFAULT_C) -> LearnedWeights:
    """Term weights from pair rows: the logistic regression with weights >= 0 of :func:`fit_weights`.

    Parameters
    ----------
    X : np.ndarray [shape=(p, 4)]
        Each pair's vibe, tempo, key and energy terms (:func:`pair_terms`; NaN where unknown).
    y : np.ndarray [shape=(p,)]
        1 where the pair shares a group, else 0.
    groups_by : str
        What the groups are, for the text.
    n_tracks : int
        Tracks the pairs were drawn from.
    trained_on : str
        :func:`training_digest` of their content hashes.
    C : float > 0
        Inverse L2 strength.

    Returns
    -------
    LearnedWeights
        Fitted on every row (``n_pairs = len(y)``).

    Raises
    ------
    ParameterError
        Both labels are not present, or the fit gives the vibe no positive weight.
    """
    from sklearn.linear_model import LogisticRegression

    X = np.array(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if X.ndim != 2 or X.shape[1] != len(TERMS) or len(y) != len(X) or len(set(y.tolist())) < 2:
        raise ParameterError(f"pair rows must be (p, {len(TERMS)}) terms with labels of both kinds; got {X.shape} "
                             f"and labels {sorted(set(y.tolist()))}")
    for j in range(X.shape[1]):  # an unknown term: the mean of the pairs where it is known (0 if none is)
        col = X[:, j]
        known = np.isfinite(col)
        col[~known] = col[known].mean() if known.any() else 0.0
    active = list(range(len(TERMS)))
    coef = np.zeros(len(TERMS))
    while active:
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=1000).fit(X[:, active], y)
        fitted = model.coef_[0]
        if (fitted > 0).all():
            coef[active] = fitted
            break
        active.pop(int(np.argmin(fitted)))  # the most negative term out, the rest refitted
    if coef[0] <= 0:
        raise ParameterError("learned search weights gave the vibe no positive weight (the training folders are "
                             "not told apart by sound); keep the default weights")
    return LearnedWeights(weights=Weights(*(float(v) for v in coef / coef.sum())), groups_by=groups_by,
                          n_tracks=int(n_tracks), n_pairs=int(y.size), n_positive=int(y.sum()),
                          coefficients=dict(zip(TERMS, (float(v) for v in coef), strict=True)),
                          dropped=tuple(TERMS[j] for j in range(len(TERMS)) if coef[j] <= 0), trained_on=trained_on)


def load_or_fit(index: TrackSetIndex, folder: Any, groups: Mapping[int, str], *, training_hashes: Mapping[int, str],
                groups_by: str, model_key: str, refit: bool = False) -> LearnedWeights:
    """The learned weights saved in ``folder`` for this model, training set and grouping, else fitted and saved.

    Parameters
    ----------
    index : TrackSetIndex
        The search's index.
    folder : path
        The index's folder (``learned-weights.json`` is kept there).
    groups, training_hashes, groups_by
        As :func:`fit_weights`.
    model_key : str
        The model's identity (weights of another model are never reused).
    refit : bool
        Fit again even when saved weights match.

    Returns
    -------
    LearnedWeights
    """
    from pathlib import Path

    from workbench.fileio import atomic_write

    path = Path(folder) / "learned-weights.json"
    key = {"format": 1, "model": model_key, "baseline": round(float(index.baseline), 9), "C": DEFAULT_C,
           "indexed": training_digest(str(i) for i in index.ids),
           "groups": training_digest(f"{h}|{groups.get(i)}" for i, h in training_hashes.items())}
    if not refit and path.is_file():
        try:
            doc = json.loads(path.read_text())
            if doc.get("key") == key:
                return LearnedWeights.from_json(doc["learned"])
        except (OSError, ValueError, ParameterError):
            pass  # unreadable or damaged: fitted again
    learned = fit_weights(index, groups, training_hashes=training_hashes, groups_by=groups_by)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps({"key": key, "learned": learned.to_json()},
                                                                        indent=1)))
    except OSError:  # a read-only library still searches (fitted again next time)
        pass
    return learned


def for_search(search: Any, *, exclude_hashes: Iterable[str] | None = None, refit: bool = False) -> LearnedWeights:
    """:meth:`workbench.search.LibrarySearch.learned_weights`: its library's training tracks, groups and index.

    Parameters
    ----------
    search : LibrarySearch
        Updated first when its ``index`` is not built yet.
    exclude_hashes : iterable of str or None
        Tracks never fitted on; None: for a head, the tracks its run held out, else none.
    refit : bool
        Fit again even when saved weights match.
    """
    from workbench.similarity.groups import held_out_hashes, track_groups

    if search.index is None:
        search.update()
    model = search.model
    if exclude_hashes is None and model.head is not None and model.run_id:
        exclude_hashes = held_out_hashes(search.library, model.run_id)
    held = set(exclude_hashes or [])
    tracks = [t for t in search.library.tracks() if t.content_hash not in held]
    groups, by = track_groups(search.library, tracks)
    groups = {i: g for i, g in groups.items() if g != "(no crate)"}  # outside every crate: no group to learn from
    return load_or_fit(search.index, search.folder, groups, training_hashes={t.id: t.content_hash for t in tracks},
                       groups_by=by, model_key=model.key, refit=refit)


def choose_weights(search: Any, weights: Any) -> tuple[Weights, str, LearnedWeights | None]:
    """The term weights a :meth:`~workbench.search.LibrarySearch.similar` call scores with, in numbers and words.

    Given ``weights`` win; without, the learned ones when the search uses them (``term_weights``), else the
    defaults. ``"auto"`` that cannot fit falls back to the defaults and says why; ``"learned"`` raises.

    Parameters
    ----------
    search : workbench.search.LibrarySearch
    weights : Weights, mapping of str to float, or None
        What the caller gave.

    Returns
    -------
    weights : Weights
    said : str
        E.g. ``"default: vibe 50%, tempo 20%, key 20%, energy 10%"``.
    learned : LearnedWeights or None
        The learned weights when they are the ones used.

    Raises
    ------
    ParameterError
        ``term_weights="learned"`` and none can be fitted.
    """
    learned, why = None, ""
    if weights is None and search.uses_learned_weights:
        try:
            learned = search.learned_weights()
        except ParameterError as exc:  # asked for: said; "auto": the defaults, saying why
            if search.term_weights == "learned":
                raise
            why = f" (none learned: {exc})"
    if learned is not None:
        return learned.weights, learned.said, learned
    w = Weights.coerce(weights)
    return w, f"{'default' if weights is None else 'given'}: {weights_said(w)}{why}", None
