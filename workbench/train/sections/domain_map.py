"""Domain-aware confidence map: a suggestion's confidence also depends on how unlike the labelled tracks its track is.

The Platt map (:func:`~workbench.evaluate.calibration.fit_platt`) learns from the training tracks'
leave-one-group-out suggestions how often a suggestion of stated confidence ``c`` is right. Folds of
one generator cannot show another generator's accuracy (session 18), so on music unlike anything
labelled that map states what the folds saw. This map takes a second input, the track's *distance*
to the tracks the model was trained on:

- each track is described by the mean and the standard deviation of its backbone frames over the
  track (:func:`track_descriptor`: the track's sound and mix, which the window features, standardised
  within each track, no longer carry);
- :class:`TrackDistance` standardises the training tracks' descriptors, and a track's distance is
  its root-mean-square distance to its ``k`` nearest training tracks, over the median of the same for
  each training track to the others (1: as far as a typical labelled track lies from the rest);
- :class:`DomainMap` serves the Platt map to tracks within ``MARGIN`` (1.25) times the farthest
  held-out track of the folds (each measured against *that fold's* training tracks,
  :func:`~workbench.train.sections.domain_fit.fold_distances`), and beyond it the share of the folds' suggestions that were right: a
  track *unlike your labelled tracks* (:meth:`DomainMap.unlike`) gets the confidence the folds
  support on average, not a ranking the folds could not test. Never fitted on the scored set.

Measured (session 19, ``benchmarks/bench_sections_domain_map.py``): a logistic regression of
"right" on ``[logit c, log d]`` fitted on the folds raised the ECE across generators at every seed
(the folds of one generator show no fall of accuracy with distance that carries to another); this
map lowers the devset model's per-suggestion ECE on the demo from about 0.19 to 0.09.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.train.sections.features import TrackFrames

#: Nearest training tracks a track's distance averages over.
K_NEAREST = 3
#: A track farther than this many times the farthest held-out track of the folds is unlike the labelled tracks.
MARGIN = 1.25


def track_descriptor(frames: np.ndarray | None) -> np.ndarray:
    """Mean and standard deviation of a track's backbone frames: its sound, whatever its sections.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, d)] or None
        The track's frame embeddings (:attr:`~workbench.train.sections.TrackFrames.frames`), n >= 1 (None is refused).

    Returns
    -------
    np.ndarray [shape=(2 d,)], float64

    Raises
    ------
    ParameterError
        ``frames`` not a non-empty finite 2-d array.
    """
    f = np.asarray(frames, dtype=np.float64) if frames is not None else np.zeros((0, 0))
    if f.ndim != 2 or not f.size or not np.all(np.isfinite(f)):
        raise ParameterError(f"frames must be a finite (n >= 1, d) array of the track's frame embeddings; "
                             f"got shape {f.shape}")
    return np.concatenate([f.mean(axis=0), f.std(axis=0)])


def nearest_rms(z: np.ndarray, refs: np.ndarray, *, k: int = 1, leave_one_out: bool = False) -> np.ndarray:
    """Mean distance of each row of ``z`` to its ``k`` nearest rows of ``refs``, as an RMS over the columns (scikit-learn).

    The one nearest-neighbour distance of this module's map and of the self-training gate
    (:mod:`~workbench.train.sections.domain_gate`, ``k=1``).

    Parameters
    ----------
    z : np.ndarray [shape=(m, D)]
        Standardised descriptors of the tracks measured.
    refs : np.ndarray [shape=(n, D)]
        Standardised descriptors of the references, n >= 1 (n >= 2 with ``leave_one_out``).
    k : int >= 1
        Nearest references averaged over (at most n, or n - 1 with ``leave_one_out``).
    leave_one_out : bool
        ``z`` is ``refs`` itself: each row's own distance (0) is left out.

    Returns
    -------
    np.ndarray [shape=(m,)], >= 0
        Euclidean distance over sqrt(D), averaged over the ``k`` nearest.
    """
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(refs) - int(leave_one_out))
    nn = NearestNeighbors(n_neighbors=k + int(leave_one_out)).fit(refs)
    dist, _ = nn.kneighbors(z)
    dist = dist[:, 1:] if leave_one_out else dist  # a reference's nearest is itself
    return dist.mean(axis=1) / np.sqrt(refs.shape[1])


@dataclass(frozen=True)
class TrackDistance:
    """Distance of tracks to a set of reference (training) tracks, in units of the references' own spread.

    Attributes
    ----------
    center, scale : np.ndarray [shape=(D,)]
        Standardisation of the descriptors (the references' mean and standard deviation, the latter
        floored at a tenth of its mean so a column constant over the references does not dominate).
    refs : np.ndarray [shape=(n, D)]
        The references' standardised descriptors, n >= 2.
    unit : float > 0
        Median distance of each reference to its ``k`` nearest other references.
    k : int >= 1
        Nearest references averaged over.
    """

    center: np.ndarray
    scale: np.ndarray
    refs: np.ndarray
    unit: float
    k: int = K_NEAREST

    @classmethod
    def fit(cls, descriptors: np.ndarray, *, k: int = K_NEAREST) -> TrackDistance:
        """The references' standardisation and unit.

        Parameters
        ----------
        descriptors : np.ndarray [shape=(n, D)]
            :func:`track_descriptor` of each reference track, n >= 2.
        k : int >= 1
            Nearest references a distance averages over (at most n - 1 are used).

        Returns
        -------
        TrackDistance

        Raises
        ------
        ParameterError
            Fewer than 2 references, or a bad ``k``.
        """
        d = np.asarray(descriptors, dtype=np.float64)
        if d.ndim != 2 or d.shape[0] < 2 or not np.all(np.isfinite(d)):
            raise ParameterError(f"descriptors must be a finite (n >= 2, D) array, one row per training track; "
                                 f"got shape {d.shape}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ParameterError(f"k must be an int >= 1; got {k!r}")
        center, sd = d.mean(axis=0), d.std(axis=0)
        scale = sd + 0.1 * float(sd.mean()) + 1e-9
        refs = (d - center) / scale
        own = cls(center, scale, refs, 1.0, k)._knn(refs, leave_one_out=True)
        return cls(center, scale, refs, max(float(np.median(own)), 1e-9), k)

    def _knn(self, z: np.ndarray, *, leave_one_out: bool = False) -> np.ndarray:
        """Mean RMS distance of standardised rows ``z`` to their ``k`` nearest references (:func:`nearest_rms`)."""
        return nearest_rms(z, self.refs, k=self.k, leave_one_out=leave_one_out)

    def distance(self, descriptors: np.ndarray) -> np.ndarray:
        """Each track's distance to the references, in units of their own spread (1: a typical reference's).

        Parameters
        ----------
        descriptors : np.ndarray [shape=(m, D)]
            :func:`track_descriptor` of each track.

        Returns
        -------
        np.ndarray [shape=(m,)], > 0

        Raises
        ------
        ParameterError
            ``descriptors`` of another width than the references'.
        """
        d = np.atleast_2d(np.asarray(descriptors, dtype=np.float64))
        if d.ndim != 2 or d.shape[1] != self.refs.shape[1]:
            raise ParameterError(f"descriptors must have {self.refs.shape[1]} columns (the training tracks' "
                                 f"backbone); got shape {d.shape}")
        z = (d - self.center) / self.scale
        return np.maximum(self._knn(z) / self.unit, 1e-6)

    def to_dict(self) -> dict[str, Any]:
        """Tensors and numbers (what a model file stores, read back with ``torch.load(..., weights_only=True)``).

        The training tracks' descriptors ``refs`` (n, D) as float32 (a model file stored them as Python lists
        until session 20: about 14 MB and 2.9 s more load at 1,000 tracks), ``center`` and ``scale`` (D,) as float64.

        Returns
        -------
        dict
        """
        return {"center": float_state(self.center, np.float64), "scale": float_state(self.scale, np.float64),
                "refs": float_state(self.refs, np.float32), "unit": float(self.unit), "k": int(self.k)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrackDistance:
        """Inverse of :meth:`to_dict`; also reads the lists a model file saved before session 20 held.

        Parameters
        ----------
        d : mapping
            :meth:`to_dict`'s keys (tensors, arrays or lists).

        Returns
        -------
        TrackDistance
            Its arrays float64, as :meth:`fit` makes them.
        """
        return cls(float64_array(d["center"]), float64_array(d["scale"]), float64_array(d["refs"]), float(d["unit"]),
                   int(d["k"]))


def float_state(values: np.ndarray, dtype: type[np.floating]) -> Any:
    """An array as the CPU tensor of ``dtype`` a model file stores (``torch.save``; loads with ``weights_only=True``).

    Parameters
    ----------
    values : np.ndarray
        Any shape.
    dtype : np.float32 or np.float64
        float32 for per-track summaries (half the bytes; they only measure distances), float64 for the few
        standardisation columns.

    Returns
    -------
    torch.Tensor
        Same shape.
    """
    import torch

    return torch.from_numpy(np.ascontiguousarray(values, dtype=dtype))


def float64_array(values: Any) -> np.ndarray:
    """A stored tensor, array or (a model file before session 20) nested list as a float64 array.

    Parameters
    ----------
    values : torch.Tensor, np.ndarray or list
        As :func:`float_state` or an older model file stored it.

    Returns
    -------
    np.ndarray
        Same shape, float64.
    """
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True)
class DomainMap:
    """Beyond the distances the folds held out, the folds' share right; within them, the Platt map.

    Attributes
    ----------
    share_right : float in [0, 1]
        Share of the training tracks' out-of-fold windows whose suggestion was right.
    seen_max : float
        The largest distance of a held-out track in the folds (to its fold's training tracks).
    reference : TrackDistance
        The model's training tracks.
    margin : float >= 1
        A track farther than ``margin * seen_max`` is unlike the labelled tracks.
    """

    share_right: float
    seen_max: float
    reference: TrackDistance
    margin: float = MARGIN

    @property
    def limit(self) -> float:
        """The distance beyond which a track is unlike the labelled tracks: ``margin * seen_max`` (float)."""
        return self.margin * self.seen_max

    def distance(self, frames: TrackFrames) -> float:
        """The track's distance to the training tracks (1: as far as a typical training track from the others).

        Parameters
        ----------
        frames : TrackFrames
            The track, with its backbone ``frames``.

        Returns
        -------
        float > 0
        """
        return float(self.reference.distance(track_descriptor(frames.frames)[None, :])[0])

    def unlike(self, distance: float) -> bool:
        """Whether a track at ``distance`` lies beyond :attr:`limit`.

        Parameters
        ----------
        distance : float
            The track's distance.

        Returns
        -------
        bool
        """
        return bool(distance > self.limit)

    def knots(self, distance: float, platt: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray] | None:
        """The map a track at ``distance`` is served through: ``platt`` within :attr:`limit`, else the share right.

        Parameters
        ----------
        distance : float
            The track's distance.
        platt : (np.ndarray, np.ndarray) or None
            The Platt map's knots.

        Returns
        -------
        (np.ndarray, np.ndarray) or None
            Knots for :func:`~workbench.evaluate.calibration.apply_confidence_map`.
        """
        if not self.unlike(distance):
            return platt
        return np.array([0.0, 1.0]), np.full(2, self.share_right)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (what a model file stores).

        Returns
        -------
        dict
        """
        return {"share_right": float(self.share_right), "seen_max": float(self.seen_max),
                "reference": self.reference.to_dict(), "margin": float(self.margin)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DomainMap:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : mapping
            :meth:`to_dict`'s keys.

        Returns
        -------
        DomainMap
        """
        return cls(float(d["share_right"]), float(d["seen_max"]), TrackDistance.from_dict(d["reference"]),
                   float(d.get("margin", MARGIN)))


def training_reference(tracks: Sequence[TrackFrames], *, k: int = K_NEAREST) -> TrackDistance:
    """:class:`TrackDistance` of a model's training tracks.

    Parameters
    ----------
    tracks : sequence of TrackFrames
        The training tracks, each with its backbone ``frames``.
    k : int >= 1
        Nearest training tracks averaged over.

    Returns
    -------
    TrackDistance
    """
    return TrackDistance.fit(np.array([track_descriptor(t.frames) for t in tracks]), k=k)


def served_map(trainer: Any, frames: TrackFrames) -> tuple[np.ndarray, np.ndarray] | None:
    """The confidence map a track's suggestions are served through: the Platt map, or the folds' share right far away.

    Parameters
    ----------
    trainer : SectionTrainer
        Fitted; ``domain_map_`` (None or absent: none) and ``confidence_map_`` as
        :func:`~workbench.train.sections.train_sections` sets them.
    frames : TrackFrames
        The track (its backbone ``frames``; without them the Platt map is served).

    Returns
    -------
    (np.ndarray, np.ndarray) or None
        Knots for :func:`~workbench.evaluate.calibration.apply_confidence_map` (None: no map).
    """
    return served_map_and_unlike(trainer, frames)[0]


def served_map_and_unlike(trainer: Any, frames: TrackFrames) -> tuple[tuple[np.ndarray, np.ndarray] | None,
                                                                      float | None]:
    """:func:`served_map` and :func:`unlike_labelled` from one measure of the track's distance.

    Parameters
    ----------
    trainer : SectionTrainer
        Fitted; ``domain_map_`` (None or absent: none) and ``confidence_map_``.
    frames : TrackFrames
        The track (its backbone ``frames``; without them the Platt map and None).

    Returns
    -------
    (knots or None, float or None)
        The map served, and the distance where the track is unlike the training tracks (else None).
    """
    dm, platt = getattr(trainer, "domain_map_", None), getattr(trainer, "confidence_map_", None)
    if dm is None or getattr(frames, "frames", None) is None:
        return platt, None
    d = dm.distance(frames)
    return dm.knots(d, platt), (d if dm.unlike(d) else None)


def unlike_labelled(trainer: Any, frames: TrackFrames) -> float | None:
    """The track's distance to the training tracks when it is farther than every held-out track the map saw, else None.

    Parameters
    ----------
    trainer : SectionTrainer
        Fitted (``domain_map_`` None or absent: None).
    frames : TrackFrames
        The track, with its backbone ``frames``.

    Returns
    -------
    float or None
        :meth:`DomainMap.distance` (1: a typical training track's), or None within the limit.
    """
    return served_map_and_unlike(trainer, frames)[1]
