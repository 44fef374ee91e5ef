"""The data diff between two runs: tracks and labels added or removed, label counts, fingerprint.

Split out of :mod:`workbench.experiments`, which re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.runs import Run

@dataclass(frozen=True)
class DataDiff:
    """What changed in the data from run ``base`` to run ``other``.

    ``labels_added``/``labels_removed`` are None when either run did not record ``data.json["labels"]``.
    ``label_counts`` maps each class to (count in base, count in other).
    """

    base: str
    other: str
    fingerprint_changed: bool | None
    tracks_added: list[str]
    tracks_removed: list[str]
    labels_added: list[dict[str, Any]] | None
    labels_removed: list[dict[str, Any]] | None
    label_counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line per change, for the CLI and notebooks."""
        lines = [f"data {self.base} -> {self.other}:"]
        fp = {None: "not recorded", True: "changed", False: "same"}[self.fingerprint_changed]
        lines.append(f"  fingerprint: {fp}")
        lines.append(f"  tracks: +{len(self.tracks_added)} -{len(self.tracks_removed)}"
                     + (f" (added {', '.join(self.tracks_added[:5])}{' ...' if len(self.tracks_added) > 5 else ''})"
                        if self.tracks_added else ""))
        if self.labels_added is None:
            lines.append("  labels added/removed: not recorded")
        else:
            lines.append(f"  labels: +{len(self.labels_added)} -{len(self.labels_removed or [])}")
        changed = {k: v for k, v in self.label_counts.items() if v[0] != v[1]}
        if changed:
            lines.append("  label counts: " + ", ".join(f"{k} {a}->{b}" for k, (a, b) in changed.items()))
        return "\n".join(lines)

    def to_html(self) -> str:
        from workbench.report.html import esc

        return "<pre>" + esc(self.summary()) + "</pre>"


def _label_key(label: Mapping[str, Any]) -> tuple:
    return (str(label.get("track_hash")), str(label.get("label")), round(float(label.get("start_s", 0)), 2),
            round(float(label.get("end_s", 0)), 2))


def data_diff(base: Run, other: Run) -> DataDiff:
    """Tracks and labels added or removed between two runs' ``data.json``.

    Parameters
    ----------
    base, other : Run
        The earlier and the later run (``data.json`` of each).

    Returns
    -------
    DataDiff
        Tracks by content hash (shown by name); labels by (track hash, label, start and end in
        seconds rounded to 10 ms).
    """
    def tracks(run: Run) -> dict[str, str]:
        """Content hash (or id) -> name (or id) of the run's tracks.

        Parameters
        ----------
        run : Run
        """
        return {str(t.get("content_hash") or t.get("id")): str(t.get("name") or t.get("id"))
                for t in run.data.get("tracks") or []}

    ta, tb = tracks(base), tracks(other)
    la, lb = base.data.get("labels"), other.data.get("labels")
    if la is not None and lb is not None:
        ka = {_label_key(x): x for x in la}
        kb = {_label_key(x): x for x in lb}
        added: list | None = [kb[k] for k in kb if k not in ka]
        removed: list | None = [ka[k] for k in ka if k not in kb]
    else:
        added = removed = None
    ca, cb = base.data.get("label_counts") or {}, other.data.get("label_counts") or {}
    counts = {k: (int(ca.get(k, 0)), int(cb.get(k, 0))) for k in dict.fromkeys([*ca, *cb])}
    fa, fb = base.data.get("fingerprint"), other.data.get("fingerprint")
    return DataDiff(base=base.run_id, other=other.run_id,
                    fingerprint_changed=None if fa is None or fb is None else fa != fb,
                    tracks_added=[tb[h] for h in tb if h not in ta], tracks_removed=[ta[h] for h in ta if h not in tb],
                    labels_added=added, labels_removed=removed, label_counts=counts)
