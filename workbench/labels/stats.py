"""Label statistics and training readiness, as the seed's training screen shows them."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from workbench.labels.core import LABELS, SOURCES, LabelError
from workbench.validate import check_int

#: How to make labels, said where there are none.
HOW_TO_LABEL = ("draw them in notebooks/02_label_sections.ipynb, or add a file of them with "
                "`workbench labels import FILE` (JSON, CSV or JAMS)")


@dataclass(frozen=True)
class LabelStats:
    """Counts per label and readiness for training.

    ``counts`` has all seven labels (0 when absent). ``avg_per_track`` is labels per covered
    track. ``ready`` holds when at least ``min_classes`` labels are in use and every label in
    use has at least ``min_per_class`` examples; ``missing`` says what is short, in the seed's
    words (``"Need more labels: drop 3/10, build 5/10"``, ``"Need 2+ classes"``).
    """

    counts: dict[str, int]
    total: int
    tracks_covered: int
    tracks_total: int
    avg_per_track: float
    ready: bool
    missing: list[str]
    min_per_class: int
    min_classes: int

    def table(self) -> list[tuple[str, int, int, bool]]:
        """Rows ``(label, count, min_per_class, count >= min_per_class)`` in :data:`LABELS` order."""
        return [(name, n, self.min_per_class, n >= self.min_per_class) for name, n in self.counts.items()]

    def coverage(self, how_to_label: str = HOW_TO_LABEL) -> str:
        """How many tracks are labelled, and labels per labelled track; with no label, says so and ``how_to_label``.

        Parameters
        ----------
        how_to_label : str
            The sentence that says how to make labels where there are none (the labeler's grid
            names the labeler above it).
        """
        if self.total == 0:
            return f"no labels yet (0/{self.tracks_total} tracks labelled): {how_to_label}"
        return (f"{self.tracks_covered}/{self.tracks_total} tracks labelled, "
                f"{self.avg_per_track:.1f} labels per labelled track")

    def __str__(self) -> str:
        counted = (f"{self.total} labels on {self.tracks_covered}/{self.tracks_total} tracks "
                   f"({self.avg_per_track:.1f} per labelled track)" if self.total else self.coverage())
        head = f"{counted}; " + ("ready for training" if self.ready else "not ready: " + "; ".join(self.missing))
        rows = [f"  {name:<7} {n:>5} / {m:<4} {'ok' if ok else '--'}" for name, n, m, ok in self.table()]
        return "\n".join([head, *rows])


def check_threshold(name: str, value: object, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, else :class:`LabelError`.

    Parameters
    ----------
    name : str
        How the message names the value.
    value : int
        The value to check.
    minimum : int
        The least allowed value.
    """
    return check_int(name, value, min=minimum, error=LabelError)


def compute_stats(conn: sqlite3.Connection, *, min_per_class: int, min_classes: int,
                  sources: tuple[str, ...] | None = None) -> LabelStats:
    """Statistics of the labels in ``conn`` (only those from ``sources`` when given).

    Parameters
    ----------
    conn : sqlite3.Connection
        The library's database.
    min_per_class : int >= 1
        Labels a used class needs before training is ready.
    min_classes : int >= 1
        Classes needed before training is ready.
    sources : tuple of str, str or None
        Count only labels from these sources (see :data:`SOURCES`); None: all.

    Raises
    ------
    LabelError
        A source is not one of :data:`SOURCES`.
    """
    where, params = "", ()  # type: tuple[str, tuple[str, ...]]
    if sources is not None:
        if isinstance(sources, str):
            sources = (sources,)
        for s in sources:
            if s not in SOURCES:
                raise LabelError(f"sources must be a subset of {', '.join(SOURCES)}; got {s!r}")
        where, params = f"WHERE source IN ({','.join('?' * len(sources))})", tuple(sources)
    counts = dict.fromkeys(LABELS, 0)
    for row in conn.execute(f"SELECT label, COUNT(*) FROM labels {where} GROUP BY label", params):
        counts[row[0]] = int(row[1])
    covered = int(conn.execute(f"SELECT COUNT(DISTINCT track_id) FROM labels {where}", params).fetchone()[0])
    tracks_total = int(conn.execute("SELECT COUNT(*) FROM tracks WHERE missing_since IS NULL").fetchone()[0])
    total = sum(counts.values())
    used = [name for name, n in counts.items() if n > 0]
    short = [f"{name} {counts[name]}/{min_per_class}" for name in used if counts[name] < min_per_class]
    missing = []
    if short:
        missing.append("Need more labels: " + ", ".join(short))
    if len(used) < min_classes:
        missing.append(f"Need {min_classes}+ classes")
    return LabelStats(counts=counts, total=total, tracks_covered=covered, tracks_total=tracks_total,
                      avg_per_track=total / covered if covered else 0.0, ready=not missing, missing=missing,
                      min_per_class=min_per_class, min_classes=min_classes)
