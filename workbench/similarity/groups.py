"""How the user organised the library: each track's group (crate or folder), and the tracks a run held out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.library import Library, Track


def track_groups(library: Library, tracks: Iterable[Track] | None = None) -> tuple[dict[int, str], str]:
    """Each track's group, and what the groups are (``"crate"`` or ``"folder"``).

    Parameters
    ----------
    library : Library
        The library.
    tracks : iterable of Track or None
        Default: every track.
    """
    from workbench.crates import Crates

    selected = list(library.tracks() if tracks is None else tracks)
    membership = Crates(library).membership()
    if any(membership.get(t.id) for t in selected):
        return {t.id: (membership.get(t.id) or ["(no crate)"])[0] for t in selected}, "crate"
    return {t.id: Path(t.path).parent.name for t in selected}, "folder"


def held_out_hashes(library: Library, run_id: str) -> list[str] | None:
    """The held-out track hashes a run recorded, or None when its folder or metrics cannot be read.

    Parameters
    ----------
    library : Library
        The library whose workspace holds the run.
    run_id : str
        The run.
    """
    from workbench.errors import WorkbenchError
    from workbench.runs import load_run

    try:
        run = load_run(run_id, root=library.workspace.experiments)
    except (OSError, ValueError, WorkbenchError):
        return None
    return (run.metrics.get("held_out") or {}).get("track_hashes") or None
