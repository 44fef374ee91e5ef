"""What one :meth:`workbench.library.Library.scan` reports: :class:`ScanSummary` and :class:`ScanFailure`.

Split out of :mod:`workbench.library`, which re-exports both names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.audio import display_path


@dataclass(frozen=True)
class ScanFailure:
    """A file the scan could not read, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class ScanSummary:
    """What one :meth:`Library.scan` did. Paths are absolute."""

    folder: str
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (this path, copy of)
    failed: list[ScanFailure] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The number of files in each outcome."""
        return {
            "added": len(self.added),
            "unchanged": len(self.unchanged),
            "moved": len(self.moved),
            "changed": len(self.changed),
            "missing": len(self.missing),
            "duplicates": len(self.duplicates),
            "failed": len(self.failed),
        }

    def __str__(self) -> str:
        parts = ", ".join(f"{n} {k}" for k, n in self.counts().items())
        lines = [f"scan of {display_path(self.folder)}: {parts}"]
        lines += [f"  failed: {display_path(f.path)}: {f.reason}" for f in self.failed]
        lines += [f"  duplicate, not added: {display_path(p)}: the same audio as {display_path(of)}"
                  for p, of in self.duplicates]
        lines += [f"  moved: {display_path(old)} -> {display_path(new)}" for old, new in self.moved]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """For ``workbench scan --json``: the folder, the counts and every path by outcome."""
        return {"folder": self.folder, "counts": self.counts(), "added": list(self.added),
                "unchanged": list(self.unchanged), "moved": [{"from": a, "to": b} for a, b in self.moved],
                "changed": list(self.changed), "missing": list(self.missing),
                "duplicates": [{"path": a, "copy_of": b} for a, b in self.duplicates],
                "failed": [{"path": f.path, "reason": f.reason} for f in self.failed]}
