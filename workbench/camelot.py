"""Musical keys: pitch classes, key names and Camelot wheel notation.

Keys are ``(tonic_pc, mode)`` with ``tonic_pc`` in 0..11 (C=0) and ``mode`` in
``{"major", "minor"}``. Camelot codes are ``"1A"``..``"12A"`` (minor) and ``"1B"``..``"12B"``
(major); neighbours on the wheel mix harmonically.

:data:`CAMELOT_CODES` is the one table of codes (wheel order). Where a key is stored as a small
integer (the similarity index's int8 key column, also saved to disk) it goes through the
compact key encoding of :func:`index_of` / :func:`code_at`, which is *not* a position in
:data:`CAMELOT_CODES`.
"""

from __future__ import annotations

import numbers
import re

from workbench.errors import ParameterError

PITCH_CLASSES: tuple[str, ...] = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES: tuple[str, ...] = ("major", "minor")

_ALIASES = {
    "C": 0, "B#": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4, "E#": 5,
    "F": 5, "F#": 6, "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11,
    "CB": 11,
}
#: All 24 Camelot codes in wheel order: 1A, 1B, 2A, 2B, ... 12A, 12B.
CAMELOT_CODES: tuple[str, ...] = tuple(f"{n}{m}" for n in range(1, 13) for m in "AB")

#: Number of Camelot codes (and of compact key indices, 0..23).
N_KEYS: int = 24
# The compact key encoding: "1A".."12A" -> 0..11, "1B".."12B" -> 12..23. Saved similarity indexes
# hold these integers, so the order must never change. Read it only through index_of / code_at.
_KEY_ENCODING: tuple[str, ...] = tuple(f"{n}{letter}" for letter in "AB" for n in range(1, 13))
_KEY_INDEX: dict[str, int] = {code: i for i, code in enumerate(_KEY_ENCODING)}

_CAMELOT_RE = re.compile(r"^\s*(1[0-2]|[1-9])\s*([ABab])\s*$")


def key_name(tonic_pc: int, mode: str) -> str:
    """Return the key's name, e.g. ``key_name(9, "minor") == "A minor"``.

    Parameters
    ----------
    tonic_pc : int in 0..11
        The tonic's pitch class (C=0, C#=1, ...).
    mode : {"major", "minor"}

    Returns
    -------
    str

    Raises
    ------
    ParameterError
        If ``tonic_pc`` or ``mode`` is out of range.
    """
    _check_key(tonic_pc, mode)
    return f"{PITCH_CLASSES[tonic_pc]} {mode}"


def parse_key(name: str) -> tuple[int, str]:
    """Parse ``"A minor"``, ``"F# major"``, ``"Bbm"`` or a Camelot code into ``(tonic_pc, mode)``.

    Parameters
    ----------
    name : str
        A key name (``#``/``b`` or ``♯``/``♭``; ``major``, ``maj``, ``minor``, ``min``, ``m``;
        no mode means major) or a Camelot code.

    Returns
    -------
    tonic_pc : int in 0..11
    mode : {"major", "minor"}

    Raises
    ------
    ParameterError
        If ``name`` is neither.
    """
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(f"key must be a key name such as 'A minor' or a Camelot code such as '8A'; got {name!r}")
    if _CAMELOT_RE.match(name):
        return from_camelot(name)
    text = name.strip().replace("♯", "#").replace("♭", "b")
    m = re.match(r"^([A-Ga-g])([#b]?)\s*(major|minor|maj|min|m)?$", text)
    if not m:
        raise ParameterError(f"key must be a key name such as 'A minor' or a Camelot code such as '8A'; got {name!r}")
    tonic = _ALIASES[(m.group(1) + m.group(2)).upper()]
    word = m.group(3) or "major"
    mode = "minor" if word in ("minor", "min", "m") else "major"
    return tonic, mode


def to_camelot(tonic_pc: int, mode: str) -> str:
    """Camelot code of a key: C major -> ``"8B"``, A minor -> ``"8A"``.

    Parameters
    ----------
    tonic_pc : int in 0..11
        The tonic's pitch class (C=0).
    mode : {"major", "minor"}

    Returns
    -------
    str
        ``"1A"``..``"12A"`` (minor) or ``"1B"``..``"12B"`` (major).

    Raises
    ------
    ParameterError
        If ``tonic_pc`` or ``mode`` is out of range.
    """
    _check_key(tonic_pc, mode)
    major_pc = tonic_pc if mode == "major" else (tonic_pc + 3) % 12
    number = (major_pc * 7 + 7) % 12 + 1
    return f"{number}{'B' if mode == 'major' else 'A'}"


def from_camelot(code: str) -> tuple[int, str]:
    """Inverse of :func:`to_camelot`: ``"8A"`` -> ``(9, "minor")``.

    Parameters
    ----------
    code : str
        ``"1A"``..``"12B"``; case and spaces forgiven.

    Returns
    -------
    tonic_pc : int in 0..11
    mode : {"major", "minor"}

    Raises
    ------
    ParameterError
        If ``code`` is not a Camelot code.
    """
    m = _CAMELOT_RE.match(code) if isinstance(code, str) else None
    if not m:
        raise ParameterError(f"Camelot code must be 1A..12A or 1B..12B; got {code!r}")
    number, letter = int(m.group(1)), m.group(2).upper()
    major_pc = ((number - 1 - 7) * 7) % 12  # 7 is its own inverse mod 12
    if letter == "B":
        return major_pc, "major"
    return (major_pc - 3) % 12, "minor"


def camelot_distance(a: str, b: str) -> tuple[int, bool]:
    """Steps around the wheel between two codes (0..6) and whether the letter differs.

    Parameters
    ----------
    a, b : str
        Camelot codes.

    Returns
    -------
    steps : int in 0..6
        Shortest distance around the wheel, ignoring the letter.
    letter_differs : bool
        Whether one is A (minor) and the other B (major).

    Raises
    ------
    ParameterError
        If either is not a Camelot code.
    """
    na, la = _split(a)
    nb, lb = _split(b)
    d = abs(na - nb) % 12
    return min(d, 12 - d), la != lb


def index_of(code: object, *, name: str = "camelot") -> int:
    """The compact key index 0..23 of a Camelot code (``number - 1`` for A, ``12 + number - 1`` for B).

    This is the integer the similarity index stores (and saves) per track; it is **not** the
    code's position in :data:`CAMELOT_CODES`. Case and surrounding spaces are forgiven
    (``" 8a"`` -> 7).

    Parameters
    ----------
    code : str
        A Camelot code ``"1A"``..``"12A"`` or ``"1B"``..``"12B"``.
    name : str
        How the error message calls the argument.

    Raises
    ------
    ParameterError
        ``code`` is not such a code.
    """
    idx = _KEY_INDEX.get(code) if isinstance(code, str) else None
    if idx is None:
        idx = _KEY_INDEX.get(code.strip().upper()) if isinstance(code, str) else None
        if idx is None:
            raise ParameterError(f"{name} must be a Camelot code 1A..12A or 1B..12B; got {code!r}")
    return idx


def code_at(index: int) -> str:
    """The Camelot code of a compact key index 0..23 (inverse of :func:`index_of`): 7 -> ``"8A"``.

    Parameters
    ----------
    index : int in 0..23
        The compact key index.

    Returns
    -------
    str
        The code, ``"1A"``..``"12B"``.

    Raises
    ------
    ParameterError
        ``index`` is not an integer in 0..23.
    """
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= int(index) < N_KEYS:
        raise ParameterError(f"key index must be an integer in 0..{N_KEYS - 1}; got {index!r}")
    return _KEY_ENCODING[int(index)]


def _split(code: str) -> tuple[int, str]:
    m = _CAMELOT_RE.match(code) if isinstance(code, str) else None
    if not m:
        raise ParameterError(f"Camelot code must be 1A..12A or 1B..12B; got {code!r}")
    return int(m.group(1)), m.group(2).upper()


def _check_key(tonic_pc: int, mode: str) -> None:
    if not isinstance(tonic_pc, int) or not 0 <= tonic_pc <= 11:
        raise ParameterError(f"tonic_pc must be an int in 0..11 (C=0); got {tonic_pc!r}")
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {MODES}; got {mode!r}")
