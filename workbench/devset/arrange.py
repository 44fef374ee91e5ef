"""Section arrangements for the development set: which parts play in each bar, and the section truth.

With ``sections=True`` (:func:`~workbench.devset.make_track`) a track is arranged as DJ tracks
are, in whole 4-bar phrases, and its truth JSON gets ``sections`` (``[{start_s, end_s, label}]``,
the labels of :data:`workbench.labels.LABELS`) and ``arrangement``:

- ``"edm"`` (every style but hip-hop and trap): intro, build, drop, break, build, drop, outro,
  or the short form intro, build, drop, outro (one track in four);
- ``"song"`` (hip-hop, trap): intro, verse, chorus, verse, chorus, outro.

What plays (:class:`BarParts`): an intro has the kick and hats only (its first half hats only
when it lasts 8 bars or more), a build no kick and no bass but the chords and a snare roll that
doubles its rate in the second half, a drop (and a chorus) every part, a break the chords and the
lead only, an outro the drums and the bass, a verse everything but the lead. A crash marks the
first beat of every drop and chorus. The arrangement is drawn from its own seed sequence, so
the tempo, key and condition of track ``k`` are the same whatever ``sections`` is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Bars of a phrase; every section lasts whole phrases.
PHRASE_BARS = 4
#: Longest arranged track, in seconds (long sections shrink a phrase at a time until it fits).
MAX_DURATION_S = 110.0
#: Styles arranged as songs (verse / chorus); every other style as an EDM track (build / drop / break).
SONG_STYLES = frozenset({"hiphop", "trap"})
#: Drum roles of an intro (and of an outro): no snare, clap or crash.
INTRO_DRUMS = frozenset({"kick", "hat", "ohat", "ride", "shaker", "rim"})

#: Each form: (label, choices of length in phrases) in order.
FORMS: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
    "edm": (("intro", (2, 4)), ("build", (1, 2)), ("drop", (2, 4)), ("break", (2, 3)), ("build", (1, 2)),
            ("drop", (2, 4)), ("outro", (2, 4))),
    "edm_short": (("intro", (2, 4)), ("build", (1, 2)), ("drop", (3, 4)), ("outro", (2, 4))),
    "song": (("intro", (1, 2)), ("verse", (2, 4)), ("chorus", (2,)), ("verse", (2, 4)), ("chorus", (2,)),
             ("outro", (1, 2))),
}


@dataclass(frozen=True)
class BarParts:
    """What plays in one bar: ``drums`` the drum roles allowed (None: all), ``bass``, ``chords``,
    ``lead`` on or off, ``roll`` snare hits per beat of a build (0 none), ``gain`` velocity
    factor, ``crash`` a crash on its first beat, ``label`` the section it belongs to."""

    label: str
    drums: frozenset[str] | None
    bass: bool
    chords: bool
    lead: bool
    roll: int = 0
    gain: float = 1.0
    crash: bool = False


def draw_arrangement(style: str, *, bar_s: float, seed: int, style_index: int, k: int,
                     held_out: bool) -> tuple[str, list[tuple[str, int]]]:
    """The form and the ``(label, bars)`` of each section of track ``k``.

    Parameters
    ----------
    style : str
        The style's name.
    bar_s : float > 0
        Seconds per bar.
    seed : int >= 0
        The set's seed.
    style_index : int >= 0
        The style's index in ``STYLE_NAMES``.
    k : int >= 0
        The track's index within its style.
    held_out : bool
        The track's split (held-out tracks draw from their own sequence).

    Returns
    -------
    form : {"edm", "edm_short", "song"}
    plan : list of (str, int)
        Section label and length in bars (multiples of :data:`PHRASE_BARS`), at most
        :data:`MAX_DURATION_S` long in all when the shortest form allows it.
    """
    rng = np.random.default_rng([int(seed), int(style_index), int(k), 1 if held_out else 0, 18])
    if style in SONG_STYLES:
        form = "song"
    else:
        form = "edm_short" if rng.random() < 0.25 else "edm"
    plan = [[label, int(rng.choice(choices)) * PHRASE_BARS] for label, choices in FORMS[form]]
    while sum(b for _, b in plan) * bar_s > MAX_DURATION_S:
        longest = max(range(len(plan)), key=lambda i: (plan[i][1], -i))
        if plan[longest][1] <= PHRASE_BARS:
            break
        plan[longest][1] -= PHRASE_BARS
    return form, [(label, bars) for label, bars in plan]


def bar_parts(plan: list[tuple[str, int]], *, drums_only: bool = False) -> list[BarParts]:
    """What plays in every bar of an arrangement (see the module doc).

    Parameters
    ----------
    plan : list of (str, int)
        Section label and length in bars, in order.
    drums_only : bool
        A drums-only track: its breaks keep the hats (else they would be silent).

    Returns
    -------
    list of BarParts
        One per bar.
    """
    out: list[BarParts] = []
    for label, bars in plan:
        for i in range(bars):
            first = i == 0
            if label == "intro":
                drums = frozenset({"hat", "ohat", "shaker", "ride"}) if bars >= 8 and i < bars // 2 else INTRO_DRUMS
                out.append(BarParts(label, drums, False, False, False, gain=0.8))
            elif label == "build":
                out.append(BarParts(label, frozenset({"hat", "shaker", "snare", "clap"}), False, True, False,
                                    roll=2 if i < bars // 2 else 4, gain=0.75 + 0.25 * i / max(1, bars - 1)))
            elif label in ("drop", "chorus"):
                out.append(BarParts(label, None, True, True, True, crash=first))
            elif label == "break":
                drums = frozenset({"hat", "shaker", "ride"}) if drums_only else frozenset()
                out.append(BarParts(label, drums, False, True, True, gain=0.7))
            elif label == "outro":
                out.append(BarParts(label, INTRO_DRUMS, True, False, False, gain=0.85))
            else:  # verse
                out.append(BarParts(label, None, True, True, False, gain=0.85))
    return out


def sections_truth(plan: list[tuple[str, int]], downbeats_s: np.ndarray, *, duration_s: float) -> list[dict]:
    """The section truth: each section from its first downbeat to the next section's (first from 0, last to the end).

    Parameters
    ----------
    plan : list of (str, int)
        Section label and length in bars.
    downbeats_s : np.ndarray [shape=(n_bars + 1,)]
        Onset of every bar, one past the last.
    duration_s : float
        The track's length in seconds.

    Returns
    -------
    list of dict
        ``{"start_s", "end_s", "label", "bars"}``, times rounded to 1 ms.
    """
    out, bar = [], 0
    for label, bars in plan:
        start = 0.0 if bar == 0 else float(downbeats_s[bar])
        out.append({"start_s": round(start, 4), "end_s": 0.0, "label": label, "bars": bars})
        bar += bars
    for a, b in zip(out, out[1:], strict=False):
        a["end_s"] = b["start_s"]
    out[-1]["end_s"] = round(float(duration_s), 4)
    return out
