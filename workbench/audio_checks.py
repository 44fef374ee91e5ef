"""File and parameter checks of :mod:`workbench.audio`: container sizes, Ogg pages, sample rates, durations,
and libmpg123's diagnostics kept off the terminal (:func:`quiet_mpg123`).

Split out of :mod:`workbench.audio` (which re-exports every name here).
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import sys
import tempfile
import threading
from collections.abc import Iterator
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


#: A line libmpg123 writes to file descriptor 2 by itself, e.g. ``[src/libmpg123/layer3.c:INT123_do_layer3():1774]
#: error: part2_3_length (1984) too large for available bit count (1928)``.
MPG123_NOISE = re.compile(rb"^\[src/libmpg123/[^\]]*\] (error|warning|note): ")
_FD2_LOCK = threading.Lock()  # fd 2 is the process's: one redirection at a time


def looks_like_mp3(p: Path) -> bool:
    """Whether ``p`` is named ``.mp3`` or starts like one (an ID3 tag or an MPEG audio frame sync).

    Parameters
    ----------
    p : Path
        An audio file.
    """
    if p.suffix.lower() == ".mp3":
        return True
    try:
        with open(p, "rb") as fh:
            head = fh.read(3)
    except OSError:
        return False
    return head == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _flush_stderr() -> None:
    with contextlib.suppress(Exception):
        sys.stderr.flush()


@contextlib.contextmanager
def quiet_mpg123() -> Iterator[None]:
    """Keep libmpg123's own diagnostics off file descriptor 2 while the block runs; pass on everything else.

    libmpg123 (the MP3 decoder inside libsndfile) prints lines such as ``[src/libmpg123/layer3.c:...]
    error: part2_3_length (1984) too large for available bit count (1928)`` straight to fd 2 (past
    Python, into the terminal or a red block in a notebook) when a frame's bit reservoir spans two of
    libsndfile's reads. It recovers: ``asc/machine_wars.mp3`` decodes block by block to the same samples
    as in one read, which prints nothing (largest difference 2.4e-7). Lines matching
    :data:`MPG123_NOISE` are dropped; anything else written to fd 2 meanwhile is written back to it when
    the block ends (later, not lost). Where fd 2 cannot be duplicated the block runs unchanged.
    """
    _flush_stderr()
    with _FD2_LOCK:
        try:
            saved = os.dup(2)
        except OSError:
            saved = -1
        if saved < 0:
            yield
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                _flush_stderr()
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                kept = b"".join(line for line in sink.read().splitlines(keepends=True)
                                if not MPG123_NOISE.match(line))
                while kept:
                    kept = kept[os.write(2, kept):]
