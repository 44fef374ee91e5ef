"""File and parameter checks of :mod:`workbench.audio`: container sizes, Ogg pages, sample rates, durations.

Split out of :mod:`workbench.audio` (which re-exports every name here).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from workbench.errors import CorruptAudioError, ParameterError


def _check_container_size(p: Path) -> None:
    """WAV and AIFF headers state the file's length; libsndfile reads a cut file silently."""
    with open(p, "rb") as fh:
        head = fh.read(12)
    if len(head) < 12:
        return
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        declared = struct.unpack("<I", head[4:8])[0] + 8
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        declared = struct.unpack(">I", head[4:8])[0] + 8
    else:
        return
    if declared in (8, 0xFFFFFFFF + 8):  # streaming writers leave the size unset
        return
    actual = p.stat().st_size
    if actual < declared:
        raise CorruptAudioError(
            f"{p}: truncated: the header declares {declared} bytes but the file has {actual}",
            path=str(p),
        )


def _check_ogg_pages(p: Path) -> None:
    """An Ogg file's frame count comes from its last page, so a cut file looks whole to
    libsndfile; walk the page headers and refuse a file whose last page runs past its end."""
    size = p.stat().st_size
    pos = 0
    with open(p, "rb") as fh:
        while pos < size:
            fh.seek(pos)
            head = fh.read(27)
            if len(head) < 27 or head[:4] != b"OggS":
                if head[:4] != b"OggS"[: len(head)]:
                    return  # not a page here (trailing tags or junk): no verdict
                break  # a page header cut short
            table = fh.read(head[26])
            if len(table) < head[26]:
                break
            end = pos + 27 + head[26] + sum(table)
            if end > size:
                break
            pos = end
        else:
            return
    raise CorruptAudioError(
        f"{p}: truncated: the last Ogg page (at byte {pos}) runs past the end of the file ({size} bytes)",
        path=str(p),
    )


def _check_rate(sr: object, name: str, *, allow_none: bool = False) -> None:
    if sr is None and allow_none:
        return
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        allowed = "a positive int (Hz) or None" if allow_none else "a positive int (Hz)"
        raise ParameterError(f"{name} must be {allowed}; got {sr!r}")


def _check_min_duration(min_duration_s: object) -> None:
    if (
        isinstance(min_duration_s, bool)
        or not isinstance(min_duration_s, (int, float))
        or not np.isfinite(min_duration_s)
        or min_duration_s < 0
    ):
        raise ParameterError(f"min_duration_s must be a finite float >= 0; got {min_duration_s!r}")
