"""Counts in words: ``"1 track"`` / ``"3 tracks"``, ``"1 track was"`` / ``"2 tracks were"``, ``agree``; held-out groups (``groups_are``).

The one place every layer words a count, so an error, a figure title, a report and the CLI all
agree (``workbench.commands.count_of`` is this one).
"""

from __future__ import annotations

from typing import Any


def count_of(n: int | float, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: ``count_of(1, "track")`` is ``"1 track"``,
    ``count_of(3, "track")`` is ``"3 tracks"``.

    Parameters
    ----------
    n : int or float
        How many.
    noun : str
        The noun in the singular.
    plural : str, optional
        The plural where it is not ``noun + "s"`` (``count_of(2, "class", "classes")``).

    Returns
    -------
    str
        ``"N noun"`` or ``"N nouns"``.
    """
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def count_verb(n: int | float, noun: str, singular: str, plural_verb: str, *, plural: str | None = None) -> str:
    """A count, its noun and a verb that agrees: ``count_verb(1, "track", "was", "were")`` is
    ``"1 track was"``, ``count_verb(2, "track", "was", "were")`` is ``"2 tracks were"``.

    Parameters
    ----------
    n, noun, plural
        As in :func:`count_of`.
    singular, plural_verb : str
        The verb after one (``"was"``, ``"needs"``) and after any other count (``"were"``, ``"need"``).

    Returns
    -------
    str
        ``"N noun verb"``.
    """
    return f"{count_of(n, noun, plural)} {agree(n, singular, plural_verb)}"


def agree(n: int | float, one: str, other: str) -> str:
    """``one`` when ``n`` is 1, else ``other``: the word that agrees with a count said elsewhere in
    the sentence (``f"{count_of(n, 'track')} without a beat {agree(n, 'is', 'are')} searched"``).

    Parameters
    ----------
    n : int or float
        How many.
    one, other : str
        The word after a count of one, and after any other count.

    Returns
    -------
    str
    """
    return one if n == 1 else other


def score_text(value: float | None, *, signed: bool = False, missing: str = "not recorded") -> str:
    """A score as every sentence, warning and table writes one: 4 fixed decimals (``"0.2880"`` beside ``"0.3729"``,
    never ``"0.288"`` beside ``"0.3729"``), so that two figures in one sentence read alike.

    Parameters
    ----------
    value : float or None
        The score (accuracy, macro F1, MAP@R, ECE, ...); None or NaN was not recorded.
    signed : bool
        Write a sign (a difference: ``"+0.0123"``).
    missing : str
        What None or NaN reads as.

    Returns
    -------
    str
    """
    if value is None or value != value:
        return missing
    return f"{value:+.4f}" if signed else f"{value:.4f}"


#: How a command's TRACK names a track, for an error that found none (not by its title: two can share one).
TRACK_NAMED = "a track is named by its id, content hash or path: `workbench tracks` lists them"


def rounded_shares(shares: dict[str, float], decimals: int) -> dict[str, float]:
    """Shares rounded to ``decimals`` places so that the printed figures add up to what the shares add up to (1 for
    weights): largest-remainder rounding. Rounding each alone can print 0.3333 three times for thirds (0.9999);
    here the share whose cut-off remainder is largest gets the last unit (ties: the first named), so one reads 0.3334.

    Parameters
    ----------
    shares : dict of str to float
        Non-negative shares (e.g. normalised term weights), in the order they are printed.
    decimals : int >= 0
        Places kept (4: ``0.3334``; 2 for whole percents).

    Returns
    -------
    dict of str to float
        The same keys in the same order; each value a multiple of ``10 ** -decimals``, their decimal sum
        ``round(sum(shares), decimals)`` exactly.
    """
    scale = 10 ** decimals
    units = {k: v * scale for k, v in shares.items()}
    floors = {k: int(u // 1) for k, u in units.items()}
    left = round(sum(units.values())) - sum(floors.values())
    by_remainder = sorted(units, key=lambda k: -(units[k] - floors[k]))  # a stable sort: ties keep their order
    for k in by_remainder[:max(0, left)]:
        floors[k] += 1
    return {k: floors[k] / scale for k in shares}


def groups_are(groups: Any) -> str:
    """What a sections run's held-out groups were, in words: ``"folders"`` where every group is a folder
    (``"folder:NAME"``, :func:`workbench.train.sections.library_data.track_groups`: a library with no crates),
    ``"crates and folders"`` where both, ``"crates"`` where none is.

    Parameters
    ----------
    groups : mapping or sequence of str
        The group names (``transfer.leave_one_group_out.groups``' keys).
    """
    folders = sum(str(g).startswith("folder:") for g in groups)
    return "folders" if groups and folders == len(groups) else "crates and folders" if folders else "crates"
