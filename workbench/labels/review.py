"""Model suggestions in the label store: accept (with an explicit overlap choice), reject, what is pending.

A mixin of :class:`~workbench.labels.api.Labels` (it holds no state of its own). The rules:

- **Suggestions never destroy work.** :meth:`Review.accept` and :meth:`Review.accept_all` take
  ``overlap`` = ``"refuse"`` (default: nothing stored; the error names each user label in the
  way and the choices), ``"keep"`` (keep mine: the suggestion goes on the free beats only, in
  pieces if need be; refused when nothing is free), ``"replace"`` (delete mine) or ``"split"``
  (cut mine around it).
- **Provenance.** An accepted suggestion is stored with ``source="model"``, its calibrated
  ``confidence`` (None for a guess: :attr:`Suggestion.guessed`), ``model_name``, ``model_version`` and
  ``accepted_at`` (see :class:`~workbench.labels.core.Label`); a person editing it later makes it ``source="user"``.
- **Rejections are stored** (table ``label_rejections``): :meth:`Review.pending` hides a rejected
  suggestion for the same track and model version, and training can read them
  (:meth:`Review.rejections`).
- **Both are undoable** per track (:meth:`Labels.undo`): undoing an accept deletes the label(s)
  and restores what ``replace``/``split`` changed, so the suggestion is pending again; undoing a
  reject deletes the rejection, so it is shown again.

A suggestion is *pending* unless it was rejected, or a label accepted from it (same model and
version, same label, inside its beats) is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from workbench.labels import engine, rows
from workbench.labels.core import ADD_OVERLAP_OPTIONS, Label, LabelError, Rejection, Suggestion, check_choice
from workbench.library import Track
from workbench.store import utc_now

if TYPE_CHECKING:
    from workbench.labels.api import Labels

#: A suggester: ``track -> list[Suggestion]`` (see :func:`workbench.widgets.suggest.active_suggester`).
Suggest = Callable[[Track], Sequence[Suggestion]]


def _check_suggestion(s: object, name: str = "suggestion") -> Suggestion:
    if not isinstance(s, Suggestion):
        raise LabelError(f"{name} must be a workbench.labels.Suggestion; got {type(s).__name__}")
    return s


def _from_accepted(label: Label, s: Suggestion) -> bool:
    """True when ``label`` was accepted from ``s`` (same model, label, inside its beats)."""
    return (label.accepted and label.track_id == s.track_id and label.label == s.label
            and (label.model_name or "", label.model_version or "") == (s.model_name or "", s.model_version or "")
            and s.start_beat <= label.start_beat and label.end_beat <= s.end_beat)


class Review:
    """Accept and reject model suggestions (mixed into :class:`~workbench.labels.api.Labels`)."""

    def accept(self: Labels, suggestion: Suggestion, *, overlap: str = "refuse") -> Label:
        """Store a model's :class:`Suggestion` as a label a person accepted, with its provenance.

        Parameters
        ----------
        suggestion : Suggestion
            A model's suggestion.
        overlap : {"refuse", "keep", "replace", "split"}
            What to do with the stored labels it overlaps (module docstring); the default
            refuses, naming them and the choices.

        Returns
        -------
        Label
            The stored label (with ``"keep"`` the first piece; more pieces get a
            :class:`LabelWarning` naming them, and :meth:`accept_all` returns every piece).

        Raises
        ------
        LabelError
            Not a suggestion, an unknown ``overlap``, an overlap under ``"refuse"``, or no free
            beats under ``"keep"``: nothing is stored.
        """
        return self._accept([_check_suggestion(suggestion)], overlap, "accept")[0]

    def accept_all(self: Labels, suggestions: Iterable[Suggestion], *, overlap: str = "refuse") -> list[Label]:
        """Accept every suggestion with the same ``overlap`` choice: all or nothing, one undo step.

        Parameters
        ----------
        suggestions : iterable of Suggestion
            Usually :meth:`pending` of one track.
        overlap : {"refuse", "keep", "replace", "split"}
            As in :meth:`accept`; under ``"refuse"`` the error lists every suggestion that
            overlaps a stored label.

        Returns
        -------
        list of Label
            Every label stored, in order.

        Raises
        ------
        LabelError
            As for :meth:`accept`; nothing is stored.
        """
        items = [_check_suggestion(s, f"suggestions[{i}]") for i, s in enumerate(suggestions)]
        if not items:
            return []
        return self._accept(items, overlap, "accept all")

    def _accept(self: Labels, items: list[Suggestion], overlap: object, verb: str) -> list[Label]:
        check_choice("overlap", overlap, ADD_OVERLAP_OPTIONS)
        specs, notes = [], []
        for s in items:
            spec, more = self._validate(self.grid(s.track_id), s.label, s.start_beat, s.end_beat, "model",
                                        None if s.guessed else s.confidence)  # a guess has no confidence
            specs.append({**spec, "model_name": s.model_name, "model_version": s.model_version})
            notes += more
        changes: list[rows.Change] = []
        stored: list[Label] = []
        with self.library.store.transaction() as conn:
            now = utc_now()
            if overlap == "refuse":
                clashes = []
                for spec in specs:
                    existing = rows.on_track(conn, spec["track_id"])
                    hits = rows.overlapping(existing, spec["start_beat"], spec["end_beat"])
                    if hits:
                        clashes.append(engine.overlap_message(
                            spec, hits, engine.free_spans(existing, spec["start_beat"], spec["end_beat"]), keep=True))
                if clashes:
                    head = "" if len(clashes) == 1 else f"{len(clashes)} suggestions overlap your labels: "
                    raise LabelError(head + "; ".join(clashes) + "; nothing was accepted")
            for spec in specs:
                pieces = self._insert_all(conn, {**spec, "accepted_at": now}, overlap=str(overlap), now=now,
                                          changes=changes)
                notes += engine.kept_note(spec, pieces)
                stored += pieces
        what = items[0].describe() if len(items) == 1 else f"{len(items)} suggestions"
        self._record(f"{verb} {what}", changes)
        self._warn(notes)
        return stored

    def reject(self: Labels, suggestion: Suggestion) -> Rejection:
        """Reject a suggestion: stored, so it is not shown again for this track and model version.

        Parameters
        ----------
        suggestion : Suggestion
            A model's suggestion.

        Returns
        -------
        Rejection
            The stored rejection (the one stored before, when it was rejected already).

        Raises
        ------
        LabelError
            Not a suggestion, or its beats are outside the track's grid.
        """
        return self._reject([_check_suggestion(suggestion)], "reject")[0]

    def reject_all(self: Labels, suggestions: Iterable[Suggestion]) -> list[Rejection]:
        """Reject every suggestion: one undo step.

        Parameters
        ----------
        suggestions : iterable of Suggestion
            Usually :meth:`pending` of one track.

        Returns
        -------
        list of Rejection
        """
        items = [_check_suggestion(s, f"suggestions[{i}]") for i, s in enumerate(suggestions)]
        return self._reject(items, "reject all") if items else []

    def _reject(self: Labels, items: list[Suggestion], verb: str) -> list[Rejection]:
        for s in items:
            self._validate(self.grid(s.track_id), s.label, s.start_beat, s.end_beat, "model", s.confidence)
        changes: list[rows.Change] = []
        out = []
        with self.library.store.transaction() as conn:
            now = utc_now()
            for s in items:
                old = next((r for r in rows.rejections(conn, s.track_id) if r.matches(s)), None)
                if old is not None:
                    out.append(old)
                    continue
                g = self._grids[s.track_id]
                r = rows.write(conn, Rejection(0, s.track_id, s.label, s.start_beat, s.end_beat,
                                               *g.span_s(s.start_beat, s.end_beat), s.confidence, s.model_name or "",
                                               s.model_version or "", now), insert=True)
                changes.append(rows.Change(None, r))
                out.append(r)
        if changes:
            self._record(f"{verb} {items[0].describe() if len(items) == 1 else f'{len(items)} suggestions'}", changes)
        return out  # type: ignore[return-value]

    def rejections(self: Labels, *, track: Track | int | str | None = None) -> list[Rejection]:
        """The stored rejections (of ``track``, or all): what training reads as "not this label here".

        Parameters
        ----------
        track : Track, int, str or None
            One track's; None: every track's.
        """
        return rows.rejections(self.library.conn, self._track_id(track))

    def pending(self: Labels, track: Track | int | str, suggestions: Iterable[Suggestion]) -> list[Suggestion]:
        """The suggestions of ``track`` still to decide: not rejected, not accepted (module docstring).

        Parameters
        ----------
        track : Track, int or str
            The track.
        suggestions : iterable of Suggestion
            Suggestions (those of other tracks are left out).
        """
        tid = self._track_id(track)
        rejected = rows.rejections(self.library.conn, tid)
        accepted = [x for x in rows.on_track(self.library.conn, tid) if x.accepted]  # type: ignore[arg-type]
        return [s for s in suggestions if s.track_id == tid and not any(r.matches(s) for r in rejected)
                and not any(_from_accepted(x, s) for x in accepted)]

    def _raw_suggestions(self: Labels, track_id: int, suggest: Suggest | None, refresh: bool) -> list[Suggestion]:
        fn = suggest if suggest is not None else self.suggest
        if fn is None:
            raise LabelError("no suggester: pass suggest= (a function track -> list of Suggestion, e.g. "
                             "workbench.widgets.suggest.active_suggester(library)) here or to Labels(...)")
        if not callable(fn):
            raise LabelError(f"suggest must be a function track -> list of Suggestion; got {fn!r}")
        key = (fn, track_id)
        if refresh or key not in self._suggested:
            self._suggested[key] = [s for s in fn(self.library.track(track_id)) if s.track_id == track_id]
        return list(self._suggested[key])

    def suggestions(self: Labels, track: Track | int | str, *, suggest: Suggest | None = None,
                    refresh: bool = False) -> list[Suggestion]:
        """The pending suggestions of ``track`` (:meth:`pending` of what the suggester says).

        The suggester's answer is kept per track (a model runs once per track and instance);
        an undo of an accept or a reject shows the suggestion again without running it.

        Parameters
        ----------
        track : Track, int or str
            The track.
        suggest : callable or None
            ``track -> list[Suggestion]``; None: the one given to ``Labels(..., suggest=...)``.
        refresh : bool
            Ask the suggester again.

        Raises
        ------
        LabelError
            No suggester given here or to the constructor.
        """
        tid = self._track_id(track)
        return self.pending(tid, self._raw_suggestions(tid, suggest, refresh))  # type: ignore[arg-type]
