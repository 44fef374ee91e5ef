"""Each track's labelling status, and which track to label next (active learning).

A mixin of :class:`~workbench.labels.api.Labels`. A track's status is one of
:data:`~workbench.labels.core.TRACK_STATUSES`: stored by :meth:`TrackStatus.set_status` (table
``track_status``, schema v6; a stored status always wins), else derived: ``unlabelled`` without
labels, ``in_progress`` with some.

``next_track(mode="least_certain")`` is the active-learning proposal: among the tracks not
``done`` or ``skipped``, the one whose current suggestions the model is least sure of --
the lowest :meth:`TrackStatus.certainty`, the beat-weighted mean of its suggestions' calibrated
confidences (each the mean probability of its label over its beats after smoothing, i.e. the
mean max-probability). The unsupervised fallback's suggestions have confidence 0: with no
model every track is equally uncertain and the order is the library's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError
from workbench.labels.core import TRACK_STATUSES, LabelError, check_choice
from workbench.library import Track
from workbench.store import transaction, utc_now

if TYPE_CHECKING:
    from workbench.labels.api import Labels
    from workbench.labels.review import Suggest

#: What :meth:`TrackStatus.next_track` can look for.
NEXT_MODES: tuple[str, ...] = ("unlabelled", "least_certain")


class TrackStatus:
    """Per-track status and the next track to label (mixed into :class:`~workbench.labels.api.Labels`)."""

    def statuses(self: Labels, tracks: list[Track] | None = None) -> dict[int, str]:
        """Track id -> status for ``tracks`` (default every track of the library), in one read.

        Parameters
        ----------
        tracks : list of Track or None
            The tracks; None: ``library.tracks()``.
        """
        ts = self.library.tracks() if tracks is None else tracks
        conn = self.library.conn
        stored = dict(conn.execute("SELECT track_id, status FROM track_status").fetchall())
        labelled = {r[0] for r in conn.execute("SELECT DISTINCT track_id FROM labels")}
        return {t.id: stored.get(t.id) or ("in_progress" if t.id in labelled else "unlabelled") for t in ts}

    def status(self: Labels, track: Track | int | str) -> str:
        """The status of ``track``: stored, else ``unlabelled`` (no labels) or ``in_progress``.

        Parameters
        ----------
        track : Track, int or str
            The track (object, id, content hash or path).
        """
        t = self._track(track)
        return self.statuses([t])[t.id]

    def set_status(self: Labels, track: Track | int | str, status: str | None) -> str:
        """Store the status of ``track`` (``None``: forget it, back to the derived one); returns the status now.

        Parameters
        ----------
        track : Track, int or str
            The track.
        status : {"unlabelled", "in_progress", "done", "skipped"} or None
            The status to store.

        Raises
        ------
        LabelError
            An unknown status.
        """
        if status is not None:
            check_choice("status", status, TRACK_STATUSES)
        t = self._track(track)
        with transaction(self.library.conn) as conn:
            if status is None:
                conn.execute("DELETE FROM track_status WHERE track_id = ?", (t.id,))
            else:
                conn.execute("INSERT INTO track_status (track_id, status, updated_at) VALUES (?,?,?) "
                             "ON CONFLICT (track_id) DO UPDATE SET status = excluded.status, "
                             "updated_at = excluded.updated_at", (t.id, status, utc_now()))
        return self.status(t)

    def certainty(self: Labels, track: Track | int | str, *, suggest: Suggest | None = None) -> float | None:
        """How sure the model is of ``track``: beat-weighted mean confidence of its suggestions (module docstring).

        Uses every suggestion the suggester gives (rejected and accepted ones too: it measures
        the model, not the work left).

        Parameters
        ----------
        track : Track, int or str
            The track.
        suggest : callable or None
            ``track -> list[Suggestion]``; None: the one given to ``Labels(..., suggest=...)``.

        Returns
        -------
        float in [0, 1] or None
            None when the suggester gives nothing for the track.

        Raises
        ------
        LabelError
            No suggester.
        """
        found = self._raw_suggestions(self._track(track).id, suggest, False)
        beats = sum(s.end_beat - s.start_beat for s in found)
        return None if not beats else sum(s.confidence * (s.end_beat - s.start_beat) for s in found) / beats

    def next_track(self: Labels, mode: str = "unlabelled", *, after: Track | int | str | None = None,
                   suggest: Suggest | None = None) -> Track | None:
        """The next track to label: the next ``unlabelled`` one, or the ``least_certain`` one.

        Parameters
        ----------
        mode : {"unlabelled", "least_certain"}
            ``unlabelled``: the first track with that status after ``after`` in the library's
            order (wrapping round). ``least_certain``: the track, not ``done`` or ``skipped``
            and not ``after``, of lowest :meth:`certainty` (ties: library order after
            ``after``); tracks the suggester fails on are passed over.
        after : Track, int, str or None
            The track shown now (never proposed); None: start from the first.
        suggest : callable or None
            For ``least_certain``; None: the one given to ``Labels(..., suggest=...)``.

        Returns
        -------
        Track or None
            None when no track qualifies.

        Raises
        ------
        LabelError
            An unknown mode, or ``least_certain`` without a suggester.
        """
        check_choice("mode", mode, NEXT_MODES)
        tracks = self.library.tracks()
        here = None if after is None else self._track(after).id
        i = next((k for k, t in enumerate(tracks) if t.id == here), -1)
        order = [t for t in tracks[i + 1:] + tracks[:i + 1] if t.id != here]
        status = self.statuses(tracks)
        if mode == "unlabelled":
            return next((t for t in order if status[t.id] == "unlabelled"), None)
        if suggest is None and self.suggest is None:
            raise LabelError("mode='least_certain' needs a suggester: pass suggest= (e.g. "
                             "workbench.widgets.suggest.active_suggester(library)) or Labels(..., suggest=...)")
        best: tuple[float, int] | None = None
        for k, t in enumerate(order):
            if status[t.id] in ("done", "skipped"):
                continue
            try:
                c = self.certainty(t, suggest=suggest)
            except WorkbenchError:
                continue
            if c is not None and (best is None or c < best[0]):
                best = (c, k)
        return None if best is None else order[best[1]]
