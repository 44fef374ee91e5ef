"""Grid corrections from the labeler: move a track's bar phase or nudge its beats, labels kept on their beats.

A mixin of :class:`~workbench.labels.api.Labels`. The correction itself is the track's locked
correction (:func:`workbench.analysis.corrections.shift_downbeats`,
:func:`~workbench.analysis.corrections.nudge_grid`), which every consumer sees through
:func:`workbench.analysis.track_analysis`.

Labels are stored in beats. A phase shift moves only which beats start a bar: labels stay on
their beats (and seconds), their bar numbers change. A nudge moves every beat by the same time:
labels stay on the same beats and their seconds follow the grid (re-timed here, in one
transaction, with the track's rejections); an undo afterwards restores labels at the new grid's
seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.analysis import corrections
from workbench.analysis.corrections import Correction
from workbench.library import Track

if TYPE_CHECKING:
    from workbench.labels.api import Labels


class GridFixes:
    """Correct a track's grid and keep its labels on their beats (mixed into :class:`~workbench.labels.api.Labels`)."""

    def shift_downbeats(self: Labels, track: Track | int | str, beats: int) -> Correction:
        """Move the track's downbeats by ``beats`` beats (its bar phase); labels stay on their beats.

        Parameters
        ----------
        track : Track, int or str
            The track.
        beats : int, not a multiple of 4
            ``1``: every bar starts one beat later; ``-1``: one earlier.

        Returns
        -------
        Correction
            The track's stored correction.

        Raises
        ------
        ParameterError
            ``beats`` is a multiple of 4 or not an int, or the track has no beats.
        """
        t = self._track(track)
        c = corrections.shift_downbeats(self.library, t, beats)
        self._regrid(t.id)
        return c

    def nudge_grid(self: Labels, track: Track | int | str, offset_ms: float) -> Correction:
        """Move every beat of the track by ``offset_ms`` ms (added to earlier nudges); labels' seconds follow.

        Parameters
        ----------
        track : Track, int or str
            The track.
        offset_ms : float in [-500, 500], not 0
            Positive: the grid moves later.

        Returns
        -------
        Correction
            The track's stored correction (``grid_offset_s`` the total nudge).

        Raises
        ------
        ParameterError
            An offset out of range, a total past +-1 s, a beat pushed out of the track, or no beats.
        """
        t = self._track(track)
        c = corrections.nudge_grid(self.library, t, offset_ms)
        self._regrid(t.id)
        return c

    def _regrid(self: Labels, track_id: int) -> None:
        """Forget the track's cached grid and suggestions; re-time its labels and rejections to the new grid."""
        self._grids.pop(track_id, None)
        self._suggested = {k: v for k, v in self._suggested.items() if k[1] != track_id}
        g = self.grid(track_id)
        with self.library.store.transaction() as conn:
            for table in ("labels", "label_rejections"):
                spans = conn.execute(f"SELECT id, start_beat, end_beat FROM {table} WHERE track_id = ?",
                                     (track_id,)).fetchall()
                conn.executemany(f"UPDATE {table} SET start_s = ?, end_s = ? WHERE id = ?",
                                 [(*g.span_s(min(s, g.n_beats), min(e, g.n_beats)), i) for i, s, e in spans])
