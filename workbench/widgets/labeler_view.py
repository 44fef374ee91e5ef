"""How the labeling widget looks: its controls, the track picture, the label table, the suggestion
rows and the message area. :class:`LabelerView` is mixed into :class:`~workbench.widgets.labeler.Labeler`,
which holds the state (traitlets) and the actions; nothing here changes a label.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import numpy as np
import traitlets

from workbench.errors import WorkbenchError
from workbench.labels import LABEL_COLORS, LABEL_TEXT_COLORS, LABELS, TRACK_STATUSES, Label, too_short_note
from workbench.labels.uncertain import unlike_note
from workbench.library import Track
from workbench.widgets.labeler_review import NUDGE_MS
from workbench.widgets.trackview import DISPLAY_SR, TrackView, load_display_audio

_CACHE_TRACKS = 3  # decoded tracks and rendered backgrounds kept in memory
_NONE = -1  # the "no label selected" entry of the selected-label menu (label ids are >= 1)
#: The page's overlap choices: (button text, Labels' overlap option).
OVERLAP_CHOICES = (("ask", "refuse"), ("keep mine", "keep"), ("replace", "replace"), ("split", "split"))


class LabelerView:
    """The drawing half of :class:`~workbench.widgets.labeler.Labeler` (a mixin: it reads the
    widget's state and calls its actions, and has no state of its own)."""

    def _build(self) -> None:
        """Create the controls once; :meth:`refresh` fills them."""
        self.add_class("wb-labeler")
        self._track_dd = _cls(w.Dropdown(options=[(t.name, t.id) for t in self.tracks], description="track",
                                         layout=w.Layout(width="420px")), "wb-track")
        self._prev_btn = _cls(w.Button(description="◀ prev", layout=w.Layout(width="80px")), "wb-prev")
        self._next_btn = _cls(w.Button(description="next ▶", layout=w.Layout(width="80px")), "wb-next")
        # "1 / 7" on one line: a flex item with no width wrapped it beside the track menu
        self._pos = _cls(w.HTML(layout=w.Layout(min_width="72px")), "wb-position")
        self._view = _cls(w.Image(format="png", layout=w.Layout(width="100%", max_width=f"{self.width_px}px")),
                          "wb-view")
        self._label_btns: dict[str, w.Button] = {}
        for i, name in enumerate(LABELS):
            b = w.Button(description=f"{i + 1} {name}", tooltip=f"{name} (key {i + 1})",
                         layout=w.Layout(width="96px"))
            b.style.button_color = LABEL_COLORS[name]
            b.style.text_color = LABEL_TEXT_COLORS[name]  # black or white: >= 4.5:1 (WCAG AA)
            b.on_click(self._guard(lambda _b, n=name: self.choose(n)))
            self._label_btns[name] = _cls(b, "wb-label", f"wb-label-{name}")
        self._start = _cls(w.BoundedIntText(description="start beat", min=0, max=0,
                                            layout=w.Layout(width="170px")), "wb-start")
        self._end = _cls(w.BoundedIntText(description="end beat", min=0, max=0, layout=w.Layout(width="170px")),
                         "wb-end")
        self._range = _cls(w.HTML(), "wb-range")
        self._add_btn = _cls(w.Button(description="add", button_style="primary", tooltip="add (Enter)",
                                      layout=w.Layout(width="80px")), "wb-add")
        self._undo_btn = _cls(w.Button(description="undo", tooltip="undo (Backspace)",
                                       layout=w.Layout(width="70px")), "wb-undo")
        self._redo_btn = _cls(w.Button(description="redo", layout=w.Layout(width="70px")), "wb-redo")
        self._play_btn = _cls(w.Button(description="▶ play", tooltip="play the selected beats",
                                       layout=w.Layout(width="80px")), "wb-play")
        self._selected_dd = _cls(w.Dropdown(description="selected", options=[("—", _NONE)], value=_NONE,
                                            layout=w.Layout(width="360px")), "wb-selected")
        self._delete_btn = _cls(w.Button(description="delete", button_style="danger", tooltip="delete (Del)",
                                         layout=w.Layout(width="80px")), "wb-delete")
        self._message = _cls(w.HTML(), "wb-message")
        self._table = _cls(w.HTML(), "wb-table")
        self._suggest_box = _cls(w.VBox(), "wb-suggestions")
        self._player_box = _cls(w.Box(), "wb-player")
        self._overlap_tb = _cls(w.ToggleButtons(options=list(OVERLAP_CHOICES), value="refuse",
                                                description="overlaps:", tooltips=[
                                                    "refuse and say which of my labels are in the way",
                                                    "keep my labels: store only on free beats",
                                                    "delete my labels in the way", "cut my labels around it"],
                                                style={"button_width": "92px"}), "wb-overlap")  # "keep mine" whole
        self._status_dd = _cls(w.Dropdown(description="status", options=[(x.replace("_", " "), x)
                                                                          for x in TRACK_STATUSES],
                                          layout=w.Layout(width="220px")), "wb-status")
        self._next_unlabelled_btn = _cls(w.Button(description="next unlabelled", layout=w.Layout(width="150px")),
                                         "wb-next-unlabelled")
        self._least_certain_btn = _cls(w.Button(description="least certain", tooltip="the track the model is "
                                                "least sure of (active learning)", layout=w.Layout(width="135px")),
                                       "wb-least-certain")
        grid_btns = [(f"bar {d:+d} beat", "wb-phase-" + n, lambda _b, d=d: self.shift_downbeats(d),
                      "move the downbeats (bar starts) by one beat") for d, n in ((-1, "earlier"), (1, "later"))]
        grid_btns += [(f"grid {m:+g} ms", "wb-nudge-" + n, lambda _b, m=m: self.nudge_grid(m), "move every beat")
                      for m, n in ((-NUDGE_MS, "earlier"), (NUDGE_MS, "later"))]
        self._grid_btns = []
        for text, name, fn, tip in grid_btns:
            b = _cls(w.Button(description=text, tooltip=tip, layout=w.Layout(width="110px")), name)
            b.on_click(self._guard(fn))
            self._grid_btns.append(b)
        traitlets.link((self._overlap_tb, "value"), (self, "overlap"))
        self._on_status_guarded = self._guard(lambda ch: self.set_status(ch["new"]))
        self._status_dd.observe(self._on_status_guarded, "value")
        self._next_unlabelled_btn.on_click(self._guard(lambda _b: self.next_unlabelled()))
        self._least_certain_btn.on_click(self._guard(lambda _b: self.next_least_certain()))

        self._prev_btn.on_click(self._guard(lambda _b: self.prev_track()))
        self._next_btn.on_click(self._guard(lambda _b: self.next_track()))
        self._add_btn.on_click(self._guard(lambda _b: self.add()))
        self._undo_btn.on_click(self._guard(lambda _b: self.undo()))
        self._redo_btn.on_click(self._guard(lambda _b: self.redo()))
        self._play_btn.on_click(self._guard(lambda _b: self.play()))
        self._delete_btn.on_click(self._guard(lambda _b: self.delete()))
        self._on_selected_guarded = self._guard(self._on_selected_dd)
        self._track_dd.observe(self._guard(self._on_track_dd), "value")
        self._selected_dd.observe(self._on_selected_guarded, "value")
        traitlets.link((self._start, "value"), (self, "start_beat"))
        traitlets.link((self._end, "value"), (self, "end_beat"))
        self.observe(self._guard(self._on_range), ["start_beat", "end_beat"])
        self.observe(self._on_label, "current_label")
        self.observe(self._on_message, ["message", "error", "notes"])

        try:  # keyboard and clicks on the picture; without ipyevents, buttons alone
            from ipyevents import Event
        except ImportError:  # pragma: no cover - ipyevents is in the notebook extra
            self._events: list[Any] = []
        else:
            buttons = w.HBox(list(self._label_btns.values()))
            self._events = [
                Event(source=self._view, watched_events=["keydown", "click"], prevent_default_action=True),
                Event(source=buttons, watched_events=["keydown"], prevent_default_action=False),
            ]
            for ev in self._events:
                ev.on_dom_event(self._guard(self._on_dom_event))
            self._buttons_row = buttons
        self.children = [
            # 1157 px of fixed widths: in a narrower notebook the row squeezed its buttons to "◀ ...", "ne...",
            # "next unl..."; wrapped, each keeps its width and the last ones go to a second line
            w.HBox([self._prev_btn, self._track_dd, self._next_btn, self._pos, self._status_dd,
                    self._next_unlabelled_btn, self._least_certain_btn], layout=w.Layout(flex_flow="row wrap")),
            self._view,
            getattr(self, "_buttons_row", w.HBox(list(self._label_btns.values()))),
            w.HBox([self._start, self._end, self._range]),
            w.HBox([self._add_btn, self._undo_btn, self._redo_btn, self._play_btn, self._selected_dd,
                    self._delete_btn]),
            w.HBox([self._overlap_tb, *self._grid_btns]),
            self._message,
            self._suggest_box,
            self._player_box,
            self._table,
        ]
        self._on_label()

    def _view_of(self, t: Track) -> tuple[TrackView, np.ndarray, int]:
        if t.id in self._views:
            self._views.move_to_end(t.id)
            return self._views[t.id]
        pending = self._prefetched.pop(t.id, None)
        y, sr = pending.result() if pending is not None else load_display_audio(t.path, sr=DISPLAY_SR)
        g = self.grid if self.grid is not None and self.grid.track_id == t.id else self.labels.grid(t)
        view = TrackView(y, sr=sr, beats_s=g.beats_s, downbeats_s=g.downbeats_s, duration_s=g.duration_s,
                         title=f"{t.name}  ·  {len(g.beats_s)} beats", width_px=self.width_px)
        self._views[t.id] = (view, y, sr)
        while len(self._views) > _CACHE_TRACKS:
            old, _ = self._views.popitem(last=False)
            _[0].close()
        return self._views[t.id]

    def _redraw(self, rows: Sequence[Label] | None = None) -> None:
        if self._hold or self.track is None or self.grid is None:
            return
        if rows is None:
            rows = self._rows
        try:
            view, _, _ = self._view_of(self.track)
        except WorkbenchError as exc:
            self._say("error", str(exc))
            return
        sel = None
        n = len(self.grid.beats_s)
        if n and self.end_beat > self.start_beat:
            sel = (self._time(self.start_beat), self._time(self.end_beat))
        self._view.value = view.render(sections=rows, suggestions=self.suggestions, selection=sel,
                                       highlight=self.selected_id)
        self._range.value = self._range_html()

    def _bars(self, start_beat: int, end_beat: int) -> str:
        """The bars beats ``[start_beat, end_beat)`` cover, e.g. "bars 3–6" (1-based, inclusive)."""
        from workbench.widgets.labeler_actions import bars_text

        return bars_text(self.grid, start_beat, end_beat)

    def _describe(self, r: Label) -> str:
        return f"#{r.id} {r.label} {r.start_beat}–{r.end_beat} ({r.start_s:.1f}–{r.end_s:.1f} s)"

    def _range_html(self) -> str:
        if self.grid is None or len(self.grid.beats_s) == 0 or self.end_beat <= self.start_beat:
            return "<span class='wb-range-text'>choose end beat &gt; start beat</span>"
        a, b = self.start_beat, self.end_beat
        return (f"<span class='wb-range-text'>{self._bars(a, b)} · "
                f"{self._time(a):.2f}–{self._time(b):.2f} s · {b - a} beats</span>")

    def _table_html(self, rows: Sequence[Label]) -> str:
        if not rows:
            return "<div class='wb-table-empty'>no labels on this track yet</div>"
        head = "".join(f"<th style='text-align:left;padding:2px 8px'>{h}</th>"
                       for h in ("#", "label", "beats", "bars", "seconds", "source"))
        body = []
        for r in rows:
            sel = " style='background:#e0f2fe'" if r.id == self.selected_id else ""
            conf = "" if r.confidence is None else f" ({r.confidence:.0%})"
            if r.model_name:  # an accepted suggestion: which model made it
                conf += html.escape(f" · {r.model_name} {r.model_version or ''}".rstrip())
            body.append(
                f"<tr class='wb-row' data-label-id='{r.id}' data-label='{r.label}'{sel}>"
                f"<td style='padding:2px 8px'>{r.id}</td>"
                f"<td style='padding:2px 8px'><span style='display:inline-block;width:10px;height:10px;"
                f"background:{r.color};margin-right:6px'></span>{html.escape(r.label)}</td>"
                f"<td style='padding:2px 8px'>{r.start_beat}–{r.end_beat}</td>"
                f"<td style='padding:2px 8px'>{self._bars(r.start_beat, r.end_beat)}</td>"
                f"<td style='padding:2px 8px'>{r.start_s:.2f}–{r.end_s:.2f}</td>"
                f"<td style='padding:2px 8px'>{html.escape(r.source)}{conf}</td></tr>")
        return (f"<table class='wb-table-rows' style='border-collapse:collapse;font-size:12px'>"
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")

    def _show_status(self) -> None:
        """Show :attr:`status` in its menu without storing it again."""
        self._status_dd.unobserve(self._on_status_guarded, "value")
        self._status_dd.value = self.status or None
        self._status_dd.observe(self._on_status_guarded, "value")

    def _suggestion_rows(self) -> list[w.Widget]:
        if not self.suggestions:  # a track under 8 beats gets none from a suggester: say why
            note = too_short_note(self.grid.n_beats) if self._suggest_fn is not None and self.grid is not None else None
            return [] if note is None else [_cls(w.HTML(html.escape(note)), "wb-suggest-note")]
        novelty = all(s.model_name == "novelty" for s in self.suggestions)
        what = ("novelty boundaries (no active section model: labels guessed)" if novelty else
                f"model suggestion{'' if len(self.suggestions) == 1 else 's'}" + "".join(f" of {s.model_name} {s.model_version or ''}".rstrip()
                                                 for s in self.suggestions[:1] if s.model_name))
        rule = next((s.uncertain_rule for s in self.suggestions if s.uncertain_below is not None), None)
        far = getattr(self.suggestions[0], "unlike_labelled", None)  # the track's distance, where unlike the labelled tracks
        rule = rule if far is None else f"{rule}; {unlike_note(far)}" if rule else unlike_note(far)
        rows: list[w.Widget] = [w.HBox([
            w.HTML(f"<b>{len(self.suggestions)} {html.escape(what)}</b> (dashed in the picture"
                   + ("" if rule is None else f"; {html.escape(rule)}") + ")"),
            _cls(w.Button(description="accept all", button_style="success",  # never squeezed by a long rule
                          layout=w.Layout(width="100px", flex="0 0 auto")), "wb-accept-all"),
            _cls(w.Button(description="reject all", layout=w.Layout(width="100px", flex="0 0 auto")), "wb-reject-all"),
        ])]
        rows[0].children[1].on_click(self._guard(lambda _b: self.accept_all()))
        rows[0].children[2].on_click(self._guard(lambda _b: self.reject_all()))
        for i, s in enumerate(self.suggestions):
            ok = _cls(w.Button(description="accept", layout=w.Layout(width="80px")), "wb-accept")
            no = _cls(w.Button(description="reject", layout=w.Layout(width="80px")), "wb-reject")
            ok.on_click(self._guard(lambda _b, i=i: self.accept(i)))
            no.on_click(self._guard(lambda _b, i=i: self.reject(i)))
            unsure = (f" <span class='wb-uncertain' title='{html.escape(s.uncertain_rule, quote=True)}' "
                      "style='color:#7c2d12;font-style:italic'>uncertain</span>" if s.uncertain else "")
            text = (f"<span style='border:2px dashed {s.color};padding:0 6px'>{html.escape(s.label)}</span> "
                    f"beats {s.start_beat}–{s.end_beat} ({s.start_s:.1f}–{s.end_s:.1f} s), "
                    f"confidence {s.confidence:.0%}{unsure}")
            rows.append(_cls(w.HBox([w.HTML(text), ok, no]), "wb-suggestion", *(("wb-suggestion-uncertain",)
                                                                               if s.uncertain else ())))
        return rows

    def _on_label(self, _change: dict[str, Any] | None = None) -> None:
        for name, b in self._label_btns.items():
            chosen = name == self.current_label
            b.style.font_weight = "bold" if chosen else "normal"
            b.layout.border = "3px solid #0f172a" if chosen else "3px solid transparent"
            if chosen:
                b.add_class("wb-chosen")
            else:
                b.remove_class("wb-chosen")

    def _on_message(self, _change: dict[str, Any]) -> None:
        parts = []
        if self.error:
            parts.append(f"<div class='wb-error' style='color:#b91c1c'>⚠ {html.escape(self.error)}</div>")
        if self.message:
            parts.append(f"<div class='wb-info' style='color:#166534'>{html.escape(self.message)}</div>")
        parts += [f"<div class='wb-note' style='color:#a16207'>note: {html.escape(n)}</div>" for n in self.notes]
        self._message.value = "".join(parts)


def _cls(widget: w.Widget, *names: str) -> Any:
    for n in names:
        widget.add_class(n)
    return widget
