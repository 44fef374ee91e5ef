"""Section labels: the seven DJ labels, their colours, and the label value objects.

(The label store, validation, statistics, undo/redo and import/export are being added here.)
"""

from __future__ import annotations

from dataclasses import dataclass

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

#: Where a label came from.
SOURCES: tuple[str, ...] = ("user", "model", "import")


@dataclass(frozen=True)
class Label:
    """One stored section label.

    ``start_beat``/``end_beat`` index the track's beat grid (``beats`` in seconds from the
    analysis); ``end_beat == len(beats)`` means "to the end of the track". ``start_s``/``end_s``
    are the times of those beats (the track's duration for the end).
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

    @property
    def color(self) -> str:
        return LABEL_COLORS[self.label]

    @property
    def n_beats(self) -> int:
        return self.end_beat - self.start_beat


@dataclass(frozen=True)
class Suggestion:
    """A section proposed by a model, not stored until a person accepts it.

    Same beat/second conventions as :class:`Label`; ``confidence`` in [0, 1].
    """

    track_id: int
    label: str
    start_beat: int
    end_beat: int
    start_s: float
    end_s: float
    confidence: float

    @property
    def color(self) -> str:
        return LABEL_COLORS[self.label]
