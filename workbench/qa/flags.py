"""QA flags: each a measured value, the threshold it crossed, and what to do about it.

:data:`RULES` lists every flag with its threshold and unit; a track is flagged when its measure
crosses the threshold. Flags marked ``excludes`` keep a track out of training sets (a clipped,
silent, transcoded or duplicated track teaches the model the defect) unless the user keeps it
(:func:`workbench.qa.keep_track`); the others ask for review only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Two fingerprints differing in at most this share of bits are the same recording.
DUPLICATE_BER = 0.35


@dataclass(frozen=True)
class Rule:
    """One QA flag: the measure it reads, the threshold, the direction and the advice."""

    name: str
    measure: str
    threshold: float
    unit: str
    above: bool
    excludes: bool
    advice: str

    def crossed(self, value: float | None) -> bool:
        """Whether ``value`` crosses the threshold (``None``: not measured, never flagged).

        Parameters
        ----------
        value : float or None

        Returns
        -------
        bool
        """
        if value is None:
            return False
        return value >= self.threshold if self.above else value <= self.threshold


RULES: tuple[Rule, ...] = (
    Rule("long_silence", "inner_silence_s", 3.0, "s", True, True,
         "a silence inside the track: a gap between two pieces, or a broken rip"),
    Rule("silent_ends", "longest_silence_s", 10.0, "s", True, True,
         "a long silent lead-in or tail: trim it"),
    Rule("clipping", "clipped_share", 0.005, "share of samples", True, True,
         "flattened peaks: find an unclipped source or lower the master"),
    Rule("dc_offset", "dc_offset", 0.01, "full scale", True, True,
         "a constant offset: high-pass the file"),
    Rule("near_mono", "side_to_mid_db", -30.0, "dB side/mid", False, False,
         "both channels carry the same signal (a mono source saved as stereo)"),
    Rule("phase_cancelling", "lr_correlation", -0.3, "correlation", False, True,
         "left and right cancel when summed to mono: one channel is inverted"),
    Rule("low_bandwidth", "bandwidth_hz", 15000.0, "Hz", False, True,
         "no content above this frequency: a low-bitrate or upsampled transcode"),
    Rule("no_beat", "has_beat", 0.0, "", False, False,
         "no beat grid: check it is rhythmic, or set the tempo (`workbench correct`)"),
    Rule("unsteady_tempo", "tempo_stability", 0.5, "stability", False, False,
         "the tempo wanders (live or rubato): the beat grid may not fit"),
    Rule("low_key_confidence", "key_confidence", 0.2, "confidence", False, False,
         "the key is uncertain (a weak tonal centre, or the key modulates); drums-only audio has no key and is not flagged"),
    Rule("duplicate", "duplicate_ber", DUPLICATE_BER, "bit error rate", False, True,
         "the same recording as another track: keep one"),
)
RULE_NAMES: tuple[str, ...] = tuple(r.name for r in RULES)


@dataclass(frozen=True)
class Flag:
    """A flag raised on one track: the rule, the measured value and, for duplicates, the other track."""

    name: str
    value: float
    threshold: float
    unit: str
    excludes: bool
    advice: str
    other_track_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"name": self.name, "value": round(float(self.value), 6), "threshold": self.threshold,
                "unit": self.unit, "excludes": self.excludes, "advice": self.advice,
                "other_track_id": self.other_track_id}

    def __str__(self) -> str:
        other = f" (track {self.other_track_id})" if self.other_track_id is not None else ""
        if not self.unit:  # a yes/no measure (no_beat): "0 <= 0" says nothing
            return f"{self.name}{other}: {self.advice}"
        cmp = ">=" if _rule(self.name).above else "<="
        value = f"{self.value:.0f}" if abs(self.value) >= 1000 else f"{self.value:.4g}"  # 11025 Hz, not 1.102e+04
        return f"{self.name}: {value} {cmp} {self.threshold:g} {self.unit}{other}: {self.advice}"


def _rule(name: str) -> Rule:
    for r in RULES:
        if r.name == name:
            return r
    raise KeyError(name)


def evaluate_flags(measures: dict[str, Any], *, extra: dict[str, float | None] | None = None,
                   rules: tuple[Rule, ...] = RULES,
                   other: Callable[[str], int | None] | None = None) -> list[Flag]:
    """The flags a track's measures raise.

    Parameters
    ----------
    measures : dict
        :meth:`~workbench.qa.measures.AudioMeasures.to_dict` of the track.
    extra : dict or None
        More measures by name (from the track's analysis: ``has_beat`` as 0/1,
        ``tempo_stability``, ``key_confidence``; ``duplicate_ber``); ``None`` values are unknown.
    rules : tuple of Rule
        The rules to apply.
    other : callable or None
        ``other(rule_name)``: the other track of a duplicate.

    Returns
    -------
    list of Flag
    """
    values = {**measures, **(extra or {})}
    out = []
    for r in rules:
        v = values.get(r.measure)
        if isinstance(v, bool):
            v = float(v)
        if r.crossed(v):
            out.append(Flag(r.name, float(v), r.threshold, r.unit, r.excludes, r.advice,
                            other(r.name) if other is not None else None))
    return out
