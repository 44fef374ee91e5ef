"""Which unlabelled tracks are out of the labelled tracks' domain: the gate of self-training.

Self-training on the user's unlabelled tracks (:mod:`~workbench.train.sections.self_training`) lifts the
suggestions on music made unlike the labelled tracks (another synthesizer, mix or recording chain) and
costs a little on music made like them (a pool of the labelled generator's own tracks specialises the
model on that generator; sessions 10, 11 and 17). With ``self_training_gate`` set, only the pool tracks
that are *out of domain* are pseudo-labelled; the others are left out, so a library whose unlabelled
tracks sound like its labelled ones trains exactly as without self-training.

The rule (:func:`domain_gate`), from the tracks' frame embeddings only (never their labels):

- each track is summarised by the mean and the standard deviation of its backbone frames over time
  (:func:`track_summary`, shape (2 d,)), standardised per column over the labelled tracks;
- a track's **distance** to a set is its Euclidean distance to the nearest track of the set, over the
  square root of the summary's length (a column-wise RMS);
- the **reference** is how far a new style of the labelled music lies from the rest: for each labelled
  group (crate, folder or style), the distance of each of its tracks to the labelled tracks of the other
  groups; the reference is the largest of these (with one group, each labelled track's distance to the
  other labelled tracks);
- a pool track is out of domain when its distance to the labelled tracks exceeds ``gate`` x the reference.

``gate`` 1 keeps a pool track farther from every labelled track than any labelled style is from the
others: music the labelled library has no neighbour for, not just a style it lacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.train.sections.features import TrackFrames


def check_gate(gate: Any) -> float | None:
    """The ``self_training_gate`` config value, checked (None: every pool track is used).

    Parameters
    ----------
    gate : None or float >= 0
        The value given (a multiple of the reference distance, unitless).

    Returns
    -------
    float or None

    Raises
    ------
    ParameterError
        Not None and not a float >= 0.
    """
    if gate is None:
        return None
    if isinstance(gate, bool) or not isinstance(gate, (int, float)) or not np.isfinite(gate) or gate < 0:
        raise ParameterError(f"config self_training_gate must be None (no gate) or a float >= 0 (times the labelled "
                             f"styles' distance to each other); got {gate!r}")
    return float(gate)


def track_summary(track: TrackFrames) -> np.ndarray:
    """Mean and standard deviation over time of a track's frame embeddings, shape (2 d,).

    The backbone's frames are taken before any per-track normalisation (the window features are
    standardised within their track, so their means say nothing of how the track sounds).

    Parameters
    ----------
    track : TrackFrames
        Its ``frames`` (n, d), or ``features`` (n, dim) when the frames were not kept.

    Returns
    -------
    ndarray, shape (2 d,)
        :func:`~workbench.train.sections.domain_map.track_descriptor` of them (the confidence map's descriptor).

    Raises
    ------
    ParameterError
        The track has no frames (the message names the track and the shape).
    """
    from workbench.train.sections.domain_map import track_descriptor

    x = np.asarray(track.frames if track.frames is not None else track.features, dtype=np.float64)
    try:
        return track_descriptor(x)
    except ParameterError:
        raise ParameterError(f"track {track.track_id} has no finite frames to summarise (shape {np.shape(x)})") from None


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each row of ``a`` (n, D) its RMS distance to the nearest row of ``b`` (m, D), shape (n,)."""
    from workbench.train.sections.domain_map import nearest_rms

    return nearest_rms(a, b, k=1)


@dataclass(frozen=True)
class GateReference:
    """The labelled tracks' standardised summaries and reference distance: what a track's distance is measured against.

    Attributes
    ----------
    center, scale : np.ndarray [shape=(2 d,)]
        The labelled summaries' per-column mean and standard deviation (``inf`` for a constant column).
    labelled : np.ndarray [shape=(n, 2 d)]
        The labelled tracks' standardised summaries, n >= 2.
    reference : float >= 0
        The largest distance of a labelled group's tracks to the other groups' (RMS over standardised columns).
    """

    center: np.ndarray
    scale: np.ndarray
    labelled: np.ndarray
    reference: float

    @classmethod
    def fit(cls, labelled: Sequence[TrackFrames]) -> GateReference:
        """The reference of the module doc's rule, from the labelled tracks (``group`` their crate or style).

        Parameters
        ----------
        labelled : sequence of TrackFrames
            The labelled training tracks, at least 2 (``group`` their crate or style; one group: each track
            against the others).

        Raises
        ------
        ParameterError
            Fewer than 2 labelled tracks.
        """
        if len(labelled) < 2:
            raise ParameterError(f"the domain gate needs at least 2 labelled tracks; got {len(labelled)}")
        lab = np.stack([track_summary(t) for t in labelled])
        mu, sd = lab.mean(axis=0), lab.std(axis=0)
        sd = np.where(sd > 1e-8 * max(float(sd.max()), 1e-12), sd, np.inf)  # a constant column says nothing
        lab = (lab - mu) / sd
        groups = np.array([t.group for t in labelled], dtype=object)
        ref = 0.0
        if len(set(groups)) > 1:
            for g in set(groups):
                ref = max(ref, float(_nearest(lab[groups == g], lab[groups != g]).max()))
        else:
            for i in range(len(lab)):
                ref = max(ref, float(_nearest(lab[i:i + 1], np.delete(lab, i, axis=0))[0]))
        return cls(mu, sd, lab, ref)

    def to_state(self) -> dict[str, Any]:
        """What a model file stores: the labelled summaries float32, ``center`` and ``scale`` float64 (tensors).

        Returns
        -------
        dict
            ``center``, ``scale``, ``labelled`` (:func:`~workbench.train.sections.domain_map.float_state`) and
            ``reference`` (float).
        """
        from workbench.train.sections.domain_map import float_state

        return {"center": float_state(self.center, np.float64), "scale": float_state(self.scale, np.float64),
                "labelled": float_state(self.labelled, np.float32), "reference": float(self.reference)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> GateReference:
        """Inverse of :meth:`to_state`; also reads a file saved before session 20 (float64 tensors).

        Parameters
        ----------
        state : mapping
            :meth:`to_state`'s keys (other keys are ignored).

        Returns
        -------
        GateReference
            Its arrays float64, as :meth:`fit` makes them.
        """
        from workbench.train.sections.domain_map import float64_array

        return cls(*(float64_array(state[k]) for k in ("center", "scale", "labelled")), float(state["reference"]))

    def distance(self, tracks: Sequence[TrackFrames]) -> np.ndarray:
        """Each track's RMS distance to its nearest labelled track, over the reference, shape (len(tracks),).

        Parameters
        ----------
        tracks : sequence of TrackFrames
            The tracks to measure (any number; none gives an empty array).
        """
        if not len(tracks):
            return np.zeros(0)
        x = (np.stack([track_summary(t) for t in tracks]) - self.center) / self.scale
        return _nearest(x, self.labelled) / max(self.reference, 1e-12)


def domain_gate(pool: Sequence[TrackFrames], labelled: Sequence[TrackFrames], *,
                gate: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Which pool tracks are out of the labelled tracks' domain (the rule in the module doc).

    Parameters
    ----------
    pool : sequence of TrackFrames
        Unlabelled tracks.
    labelled : sequence of TrackFrames
        The labelled training tracks (``group`` their crate or style; "" counts as one group).
    gate : float >= 0
        A pool track is out of domain beyond ``gate`` x the reference distance.

    Returns
    -------
    keep : ndarray of bool, shape (len(pool),)
        True for the out-of-domain tracks (the ones to self-train on).
    info : dict
        ``gate``, ``reference`` (RMS over standardised summary columns), ``distances`` (one per pool track,
        over the reference), ``out_of_domain`` and ``in_domain`` (counts).

    Raises
    ------
    ParameterError
        ``gate`` not a float >= 0, fewer than 2 labelled tracks, or a track without frames.
    """
    gate = check_gate(gate)
    if gate is None:
        raise ParameterError("domain_gate needs a gate >= 0; got None")
    if len(labelled) < 2:
        raise ParameterError(f"the domain gate needs at least 2 labelled tracks; got {len(labelled)}")
    if not len(pool):
        return np.zeros(0, dtype=bool), {"gate": gate, "reference": None, "distances": [], "out_of_domain": 0,
                                         "in_domain": 0}
    ref = GateReference.fit(labelled)
    dist = ref.distance(pool)
    keep = dist > gate
    return keep, {"gate": gate, "reference": ref.reference, "distances": [round(float(d), 4) for d in dist],
                  "out_of_domain": int(keep.sum()), "in_domain": int((~keep).sum())}
