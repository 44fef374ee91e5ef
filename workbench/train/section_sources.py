"""Where section rows come from: the library's stored labels, a demo's truth files, whole tracks.

Each source gives plain dicts ``{track_id, label, start_s, end_s}`` (seconds) that
:func:`workbench.train.datasets.section_windows` cuts into windows; :func:`_section_dict` reads one
from a dict or any object with those attributes and checks its span.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.library import Library, Track


def _section_dict(s: Any) -> dict[str, Any]:
    if isinstance(s, Mapping):
        get = s.get
    else:
        def get(k: str, default: Any = None) -> Any:
            """The attribute ``k`` of the section object.

            Parameters
            ----------
            k : str
                Attribute name.
            default : object
                Returned when it is missing.
            """
            return getattr(s, k, default)
    try:
        d = {"track_id": int(get("track_id")), "label": str(get("label")), "start_s": float(get("start_s")),
             "end_s": float(get("end_s"))}
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"a section needs track_id, label, start_s and end_s; got {s!r:.200}") from exc
    if not d["end_s"] > d["start_s"] >= 0:
        raise ParameterError(f"a section needs 0 <= start_s < end_s (seconds); got {s!r:.200}")
    return d


def library_sections(library: Library) -> list[dict[str, Any]]:
    """Every stored section label a person stands behind, as ``{track_id, label, start_s, end_s}``.

    Read via ``workbench.labels.Labels``: the user's and imported labels, and model suggestions
    a person accepted. Labels a model stored that nobody accepted (``source='model'`` without
    ``accepted_at``) are left out: a model is not trained on its own unreviewed output.

    Parameters
    ----------
    library : Library
        The library whose labels are read.

    Raises
    ------
    ParameterError
        No label store, or a stored label without ``0 <= start_s < end_s``.
    """
    try:
        from workbench.labels import Labels
    except ImportError as exc:
        raise ParameterError("no label store in this workbench (workbench.labels.Labels); pass sections as a list "
                             "of {track_id, label, start_s, end_s} dicts") from exc
    return [_section_dict(s) for s in Labels(library).all()
            if s.source != "model" or getattr(s, "accepted_at", None) is not None]


def demo_sections(library: Library, tracks: Iterable[Track] | None = None) -> list[dict[str, Any]]:
    """The ground-truth sections of demo tracks (from the JSON beside each file), as section dicts.

    Parameters
    ----------
    library : Library
        The demo library.
    tracks : iterable of Track, optional
        Default: every track of the library. Tracks without a readable JSON file are skipped.

    Returns
    -------
    list of dict
        ``{track_id, label, start_s, end_s}``, times in seconds.
    """
    out = []
    for t in library.tracks() if tracks is None else tracks:
        truth = Path(t.path).with_suffix(".json")
        if not truth.is_file():
            continue
        try:
            sections = json.loads(truth.read_text(encoding="utf-8")).get("sections") or []
        except (OSError, ValueError, AttributeError):
            continue
        out += [{"track_id": t.id, "label": s["label"], "start_s": float(s["start_s"]), "end_s": float(s["end_s"])}
                for s in sections]
    return out


def whole_tracks(library: Library, tracks: Iterable[Track] | None = None) -> list[dict[str, Any]]:
    """One section per track covering all of it (label ``"track"``), to cut whole tracks into windows.

    Parameters
    ----------
    library : Library
        The library.
    tracks : iterable of Track, optional
        Default: every track of the library.

    Returns
    -------
    list of dict
        ``{track_id, "track", 0.0, duration_s}`` (at least 1 ms long).
    """
    return [{"track_id": t.id, "label": "track", "start_s": 0.0, "end_s": float(max(t.duration_s, 1e-3))}
            for t in (library.tracks() if tracks is None else tracks)]
