"""Section-label values: the seven DJ labels, their colours, the label value objects and the beat grid.

A label spans whole beats of its track's beat grid: ``[start_beat, end_beat)``, where beat
``i`` starts at ``beats_s[i]`` and the index ``len(beats_s)`` means "the end of the track".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench import validate
from workbench.errors import WorkbenchError

#: The seven DJ section labels in canonical order (a classifier's class index is the position).
LABELS: tuple[str, ...] = ("intro", "build", "drop", "break", "outro", "verse", "chorus")

#: Display colour of each label (hex RGB), from the seed design.
LABEL_COLORS: dict[str, str] = {
    "intro": "#22c55e",
    "build": "#eab308",
    "drop": "#ef4444",
    "break": "#a855f7",
    "outro": "#3b82f6",
    "verse": "#4b5563",
    "chorus": "#ec4899",
}

def relative_luminance(color: str) -> float:
    """WCAG 2.x relative luminance of a ``#rrggbb`` colour, in [0, 1].

    Parameters
    ----------
    color : str
        ``"#rrggbb"``.
    """
    if not (isinstance(color, str) and len(color) == 7 and color[0] == "#"):
        raise LabelError(f"color must be '#rrggbb'; got {color!r}")
    try:
        rgb = [int(color[i:i + 2], 16) / 255.0 for i in (1, 3, 5)]
    except ValueError as exc:
        raise LabelError(f"color must be '#rrggbb'; got {color!r}") from exc
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG 2.x contrast ratio of two ``#rrggbb`` colours, 1 to 21 (AA body text needs >= 4.5).

    Parameters
    ----------
    fg, bg : str
        ``"#rrggbb"`` colours (order does not matter).
    """
    a, b = sorted((relative_luminance(fg), relative_luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


#: Text colour on each label colour: black or white, whichever contrasts more (all >= 4.5:1, WCAG AA).
LABEL_TEXT_COLORS: dict[str, str] = {
    name: max(("#000000", "#ffffff"), key=lambda fg, bg=bg: contrast_ratio(fg, bg))
    for name, bg in LABEL_COLORS.items()
}

#: Where a label came from.
SOURCES: tuple[str, ...] = ("user", "model", "import")

#: What to do when a new label overlaps stored ones (:meth:`Labels.update`, :meth:`Labels.import_`).
OVERLAP_OPTIONS: tuple[str, ...] = ("refuse", "replace", "split")

#: What :meth:`Labels.add`, :meth:`Labels.accept` and :meth:`Labels.accept_all` may do when the new
#: label overlaps stored ones: ``refuse`` (raise, naming them and these choices), ``keep`` (keep
#: the stored labels: the new one goes on the free beats only), ``replace`` (delete them) or
#: ``split`` (cut them around the new one).
ADD_OVERLAP_OPTIONS: tuple[str, ...] = ("refuse", "keep", "replace", "split")

#: A track's labelling status. Stored by :meth:`Labels.set_status`; without a stored one a track
#: is ``unlabelled`` (no labels) or ``in_progress`` (some).
TRACK_STATUSES: tuple[str, ...] = ("unlabelled", "in_progress", "done", "skipped")

#: ``model_name`` of the suggestions no model made (the novelty fallback: boundaries found, labels guessed).
GUESSED_BY: str = "novelty"

#: A label shorter than this many beats is refused.
MIN_BEATS: int = 4

#: A label shorter than this many beats is stored with a :class:`LabelWarning`.
WARN_BEATS: int = 8


def too_short_note(n_beats: int) -> str | None:
    """Why a track gets no section suggestion: it is shorter than :data:`WARN_BEATS` beats; None for a longer one.

    Parameters
    ----------
    n_beats : int
        The track's beats (its beat grid's length).
    """
    if n_beats >= WARN_BEATS:
        return None
    return (f"no suggestions: the track is {n_beats} beats, shorter than {WARN_BEATS} beats, the shortest section "
            "the labeler stores without a warning; label it by hand if it needs a label")


#: Snapping a time to the beat grid by more than this many seconds gets a note.
SNAP_NOTE_S: float = 0.01


class LabelError(WorkbenchError, ValueError):
    """Bad label input, or an edit that cannot be made; the message names the value and what is allowed."""


class LabelRowsError(LabelError):
    """Entries of a label file that cannot be imported, every one of them in file order (nothing was imported).

    ``problems`` pairs each bad entry's place in the file (``"row 3"``, ``"tracks[0].labels[2]"``)
    with what is wrong (the value and what is allowed); ``json_details`` is what ``--json`` adds.
    """

    def __init__(self, path: object, problems: list[tuple[str, str]], *, shown: int = 20) -> None:
        import re

        in_file_order = sorted(problems, key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p[0])])
        self.path, self.problems = str(path), in_file_order
        n = len(self.problems)
        said = [why if why.startswith(f"{where}:") else f"{where}: {why}" for where, why in in_file_order]
        if n == 1:  # one bad entry reads as one line, as every other refusal
            super().__init__(f"{self.path}: {said[0]}; nothing was imported")
            return
        lines = [f"{self.path}: {n} bad entries; nothing was imported (fix them all and import again):"]
        lines += [f"  {line}" for line in said[:shown]]
        if n > shown:
            lines.append(f"  ... and {n - shown} more (--json lists every one)")
        super().__init__("\n".join(lines))

    @property
    def json_details(self) -> dict:
        """``{"path", "problems": [{"where", "problem"}, ...]}``, every bad entry, for ``--json`` output."""
        return {"path": self.path, "problems": [{"where": w, "problem": why.removeprefix(f"{w}: ")}
                                                for w, why in self.problems]}


class LabelWarning(UserWarning):
    """A label was stored but deserves a look: shorter than 8 beats, or snapped to the beat grid."""


def check_label(label: object, *, name: str = "label") -> str:
    """``label`` as one of :data:`LABELS` (case and surrounding spaces ignored), else :class:`LabelError`.

    Parameters
    ----------
    label : str
        The label as given.
    name : str
        How the message names the value.
    """
    value = label.strip().lower() if isinstance(label, str) else label
    if value not in LABELS:
        raise LabelError(f"{name} must be one of {', '.join(LABELS)}; got {label!r}")
    return value  # type: ignore[return-value]


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed`` (strings), else :class:`LabelError`
    (:func:`workbench.validate.check_choice` with the labels' error).

    Parameters
    ----------
    name : str
        How the message names the value.
    value : object
        The value to check.
    allowed : tuple of str
        The allowed values.
    """
    return validate.check_choice(name, value, allowed, error=LabelError)


def check_beat(name: str, value: object) -> int:
    """A beat index as an ``int`` (numpy integers accepted), else :class:`LabelError`.

    Parameters
    ----------
    name : str
        How the message names the value.
    value : int
        The beat index (not range-checked here).
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise LabelError(f"{name} must be an int (a beat index of the track's grid); got {value!r}")
    return int(value)


def check_confidence(confidence: object, source: str) -> float | None:
    """Confidence only for ``source == "model"``, a number in [0, 1].

    Parameters
    ----------
    confidence : float in [0, 1] or None
        None: no confidence (allowed for every source).
    source : str
        The label's source; only ``"model"`` may carry a confidence.
    """
    if confidence is None:
        return None
    if source != "model":
        raise LabelError(f"confidence is only for source 'model'; got confidence={confidence!r} with source={source!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating, np.integer)) \
            or not 0.0 <= float(confidence) <= 1.0:
        raise LabelError(f"confidence must be a number in [0, 1]; got {confidence!r}")
    return float(confidence)


def _check_span(start_beat: int, end_beat: int) -> None:
    if start_beat < 0:
        raise LabelError(f"start_beat must be >= 0; got {start_beat}")
    if end_beat <= start_beat:
        raise LabelError(f"end_beat must be after start_beat; got start_beat={start_beat}, end_beat={end_beat}")


@dataclass(frozen=True)
class Label:
    """One stored section label.

    ``start_beat``/``end_beat`` index the track's beat grid (``beats`` in seconds from the
    analysis); ``start_beat == 0`` means "from the start of the track" (0 s) and
    ``end_beat == len(beats)`` "to the end of the track". ``start_s``/``end_s`` are the times of
    those edges (:meth:`BeatGrid.span_s`: 0 s, a beat's time, or the track's duration).

    Provenance (schema v6): a label made by accepting a model's :class:`Suggestion` is stored
    with ``source="model"``, the suggestion's (calibrated) ``confidence``, ``model_name`` and
    ``model_version`` of the model that made it and ``accepted_at`` (when a person accepted it).
    When a person later changes its label or beats it becomes ``source="user"`` (confidence
    dropped) and keeps ``model_name``/``model_version``/``accepted_at``: "a suggestion of that
    model, corrected by hand". Labels a person drew have all three ``None``.
    """

    id: int
    track_id: int
    label: str
    start_beat: int
    end_beat: int
    start_s: float
    end_s: float
    source: str
    confidence: float | None
    created_at: str
    updated_at: str
    model_name: str | None = None
    model_version: str | None = None
    accepted_at: str | None = None

    def __post_init__(self) -> None:
        check_label(self.label)
        check_choice("source", self.source, SOURCES)
        _check_span(self.start_beat, self.end_beat)

    @property
    def color(self) -> str:
        return LABEL_COLORS[self.label]

    @property
    def accepted(self) -> bool:
        """True when the label came from an accepted model suggestion (perhaps corrected since)."""
        return self.accepted_at is not None

    @property
    def n_beats(self) -> int:
        return self.end_beat - self.start_beat

    def describe(self) -> str:
        """``"drop beats 64-96 on track 3"``."""
        return f"{self.label} beats {self.start_beat}-{self.end_beat} on track {self.track_id}"


@dataclass(frozen=True)
class Suggestion:
    """A section proposed by a model, not stored until a person accepts it.

    Same beat/second conventions as :class:`Label`; ``confidence`` in [0, 1]; ``uncertain``:
    the (calibrated) confidence is below the model's threshold ``uncertain_below``, or no model made
    it (``uncertain_below`` None); :attr:`uncertain_rule` says the rule in words
    (:func:`workbench.labels.uncertain.uncertain_rule`).
    ``model_name``/``model_version`` name what made it (``"dj_section"``/``"v3"``, a run
    ``"sections run"``/``<run id>``, or ``"novelty"``/``"foote"`` for the unsupervised fallback);
    they go with the label when it is accepted and with the rejection when it is rejected
    (a rejected suggestion is not shown again for the same track and model version).
    ``family``: the label family the track was decoded in (``"intro/build/drop/break/outro"``)
    where the model decodes per family (``label_families="learned"``), else None.
    ``confidence_mapped``: False where the model kept no calibration map (its confidence is only
    temperature-scaled, not a measured chance of being right). ``unlike_labelled``: the track's distance to
    the model's training tracks where it is farther than any held-out track its confidence map was fitted
    on (config ``confidence_map_domain``), else None. ``served_by``: which head of a model trained with
    ``self_training_route`` made it (``"base (labels only)"`` or ``"self-trained"``), else None.
    """

    track_id: int
    label: str
    start_beat: int
    end_beat: int
    start_s: float
    end_s: float
    confidence: float
    uncertain: bool = False
    model_name: str | None = None
    model_version: str | None = None
    family: str | None = None
    uncertain_below: float | None = None
    confidence_mapped: bool = True
    unlike_labelled: float | None = None
    served_by: str | None = None

    def __post_init__(self) -> None:
        check_label(self.label)
        _check_span(self.start_beat, self.end_beat)
        check_confidence(self.confidence, "model")
        below = self.uncertain_below
        if below is not None and (isinstance(below, bool) or not isinstance(below, (int, float, np.floating, np.integer))
                                  or not 0.0 <= float(below) <= 1.0):  # named as itself, not as "confidence"
            raise LabelError(f"uncertain_below must be a number in [0, 1] or None; got {below!r}")

    @property
    def guessed(self) -> bool:
        """Whether no model made it (the novelty fallback, ``model_name`` :data:`GUESSED_BY`): its confidence 0 ranks
        it, but is no measure, so the label accepted from it has no confidence (None)."""
        return self.model_name == GUESSED_BY

    @property
    def uncertain_rule(self) -> str:
        """The rule that set ``uncertain``, in words (``"uncertain: confidence under 80 %, ..."``)."""
        from workbench.labels.uncertain import uncertain_rule

        return uncertain_rule(self.uncertain_below, mapped=self.confidence_mapped)

    @property
    def color(self) -> str:
        return LABEL_COLORS[self.label]

    def describe(self) -> str:
        """``"verse beats 16-48 on track 3 (dj_section v2, 71%)"``."""
        model = " ".join(x for x in (self.model_name, self.model_version) if x)
        return (f"{self.label} beats {self.start_beat}-{self.end_beat} on track {self.track_id} "
                f"({model + ', ' if model else ''}{self.confidence:.0%})")


@dataclass(frozen=True)
class Rejection:
    """A suggestion a person rejected (table ``label_rejections``, schema v6).

    Not shown again for the same track, model and model version; training reads them as
    "not this label on these beats". Beats and seconds as in :class:`Label`; ``model_name`` and
    ``model_version`` are ``""`` when the suggestion named none.
    """

    id: int
    track_id: int
    label: str
    start_beat: int
    end_beat: int
    start_s: float
    end_s: float
    confidence: float | None
    model_name: str
    model_version: str
    rejected_at: str

    def __post_init__(self) -> None:
        check_label(self.label)
        _check_span(self.start_beat, self.end_beat)

    def matches(self, s: Suggestion) -> bool:
        """True when ``s`` is the suggestion that was rejected (same track, label, beats and model).

        Parameters
        ----------
        s : Suggestion
            A suggestion as the suggester made it.
        """
        return (self.track_id, self.label, self.start_beat, self.end_beat, self.model_name, self.model_version) == (
            s.track_id, s.label, s.start_beat, s.end_beat, s.model_name or "", s.model_version or "")

    def describe(self) -> str:
        """``"rejected verse beats 16-48 on track 3"``."""
        return f"rejected {self.label} beats {self.start_beat}-{self.end_beat} on track {self.track_id}"


@dataclass(frozen=True, eq=False)
class BeatGrid:
    """A track's beat grid as labels use it; times in seconds.

    Beat ``i`` starts at ``beats_s[i]``; the index ``n_beats`` (``len(beats_s)``) is the end of
    the track, at ``duration_s``. ``downbeats_s`` are the bar starts (a subset of the beats).
    A label's edges are :meth:`span_s`: beat 0 as an edge is the track's start (0 s).
    """

    track_id: int
    beats_s: np.ndarray
    downbeats_s: np.ndarray
    duration_s: float

    def __post_init__(self) -> None:
        beats = np.asarray(self.beats_s, dtype=float).reshape(-1)
        downbeats = np.asarray(self.downbeats_s, dtype=float).reshape(-1)
        if beats.size == 0:
            raise LabelError(f"track {self.track_id} has no beats: it cannot be labelled on a beat grid")
        if not np.all(np.isfinite(beats)) or np.any(np.diff(beats) <= 0) or beats[0] < 0:
            raise LabelError(f"beats_s of track {self.track_id} must be finite, >= 0 and increasing")
        if not (isinstance(self.duration_s, (int, float)) and math.isfinite(self.duration_s)
                and self.duration_s > beats[-1]):
            raise LabelError(f"duration_s must be after the last beat ({beats[-1]:.3f} s); got {self.duration_s!r}")
        beats.setflags(write=False)
        downbeats.setflags(write=False)
        object.__setattr__(self, "beats_s", beats)
        object.__setattr__(self, "downbeats_s", downbeats)
        object.__setattr__(self, "duration_s", float(self.duration_s))

    @property
    def n_beats(self) -> int:
        """The number of beats; also the beat index of the track's end."""
        return int(self.beats_s.size)

    def _check_index(self, beat: object) -> int:
        b = check_beat("beat", beat)
        if not 0 <= b <= self.n_beats:
            raise LabelError(f"beat must be in 0..{self.n_beats} (the track has {self.n_beats} beats); got {b}")
        return b

    def time_of(self, beat: int) -> float:
        """Start time of ``beat`` in seconds (``duration_s`` for ``beat == n_beats``).

        Parameters
        ----------
        beat : int in [0, n_beats]
            A beat index.
        """
        b = self._check_index(beat)
        return self.duration_s if b == self.n_beats else float(self.beats_s[b])

    def edge_s(self, beat: int) -> float:
        """Time in seconds of a label edge on ``beat``: 0.0 for beat 0, ``duration_s`` for ``n_beats``.

        The one convention of stored labels, rejections and suggestions: a span from beat 0
        starts the track (the time before the first beat belongs to it), as one to ``n_beats``
        ends it; any other edge is its beat's time (:meth:`time_of`).

        Parameters
        ----------
        beat : int in [0, n_beats]
            A beat index.
        """
        b = self._check_index(beat)
        return 0.0 if b == 0 else self.time_of(b)

    def span_s(self, start_beat: int, end_beat: int) -> tuple[float, float]:
        """``(start_s, end_s)`` of the span ``[start_beat, end_beat)`` (:meth:`edge_s` of each end).

        Parameters
        ----------
        start_beat, end_beat : int in [0, n_beats]
            Beat indices.
        """
        return self.edge_s(start_beat), self.edge_s(end_beat)

    def nearest_beat(self, t_s: float) -> int:
        """The beat index (0..``n_beats``, the last meaning the track's end) nearest to ``t_s``.

        Parameters
        ----------
        t_s : float
            A finite time in seconds.
        """
        if isinstance(t_s, bool) or not isinstance(t_s, (int, float, np.floating, np.integer)) \
                or not math.isfinite(t_s):
            raise LabelError(f"t_s must be a finite time in seconds; got {t_s!r}")
        times = np.append(self.beats_s, self.duration_s)
        return int(np.argmin(np.abs(times - float(t_s))))

    def bar_of(self, beat: int) -> int:
        """1-based bar number of ``beat``, counted from the downbeats.

        Beats before the first downbeat (a pickup) are in bar 1; without downbeats, bars of 4 beats.

        Parameters
        ----------
        beat : int in [0, n_beats]
            A beat index.
        """
        b = self._check_index(beat)
        if self.downbeats_s.size == 0:
            return b // 4 + 1
        t = self.time_of(b)
        return max(1, int(np.searchsorted(self.downbeats_s, t + 1e-6, side="right")))
