"""The pieces every blocking gate is made of: :class:`BlockingGate`, the noise level, and reading a run's figures.

One home below :mod:`workbench.evaluate.gates` (every gate, what export and activation check) and
:mod:`workbench.evaluate.gates_sections` (the section model's gates), so that both build their gates alike;
:mod:`workbench.evaluate.gates` re-exports :class:`BlockingGate`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from workbench.wording import score_text

#: One-sided level of the gates that test over queries or tracks (search, boundaries): a model is refused only when
#: it is worse beyond sampling noise, p below this.
NOISE_ALPHA = 0.05


class BlockingGate(NamedTuple):
    """One blocking gate of a model.

    ``status`` is ``"pass"``, ``"fail"``, ``"not recorded"`` (the metric or the baseline is
    missing: blocks, as a failure does), ``"unknown"`` (the run did not record the figure the gate
    needs, e.g. no held-out segments scored, so it can be neither passed nor failed; reported with why, does not block),
    ``"not comparable"`` (the active version was measured
    on other held-out tracks: reported, does not block) or ``"not measured"`` (the run said why it
    could not measure it, e.g. too few held-out queries for the search gate: reported, does not block).

    ``metric`` names the figure compared, then, after ``"; "`` where there is one, how it was judged (the test over
    queries or tracks and its figures): :attr:`figure` is the first part, :attr:`how` the rest.
    """

    name: str
    metric: str
    value: float | None
    op: str
    reference: str
    target: float | None
    status: str

    @property
    def blocking(self) -> bool:
        """Whether this gate holds the model back (failed or not recorded)."""
        return self.status in ("fail", "not recorded")

    @property
    def figure(self) -> str:
        """The figure the gate compares (``"boundary F @3 s of smoothed sections"``), without how it was judged."""
        return self.metric.split("; ", 1)[0]

    @property
    def how(self) -> str:
        """How the gate judged its figure: the rest of its metric (a test and its figures, or why it is unknown);
        ``""`` when the metric is the figure alone."""
        return self.metric.split("; ", 1)[1] if "; " in self.metric else ""

    @property
    def said_name(self) -> str:
        """The gate's name as its verdict reads: on a failure what failed ("not better than majority", "boundaries
        below novelty", "worse than dj_section_v1"), else :attr:`name` (a failed gate named by what it asks read as
        a claim that held)."""
        if self.status != "fail":
            return self.name
        if f" {self.name} ".find(" not ") >= 0:
            return " ".join(self.name.replace("not ", "", 1).split())
        return f"not {self.name}" if self.name.startswith("better than") else f"{self.name} not met"

    @property
    def said_op(self) -> str:
        """The comparison as the verdict reads: on a failure the one that holds (``0.5218 < 0.6656``, not
        ``0.5218 >= 0.6656 -> fail``), else :attr:`op`."""
        if self.status != "fail":
            return self.op
        return {">=": "<", ">": "<="}.get(self.op) or (self.op.removeprefix("not ") if self.op.startswith("not ")
                                                        else f"not {self.op}")

    def __str__(self) -> str:
        v, t = score_text(self.value, missing="-"), score_text(self.target, missing="-")  # 4 decimals, alike
        # the figure next to its value, how it was judged after the verdict ("boundary F @3 s ... 0.2115 < ...
        # -> fail (the means ... are compared ...)"), not the judging text run into the value; a failure says what
        # failed ("not better than majority: ... 0.5218 < baselines.majority 0.6656"), not what was asked
        how = f" ({self.how})" if self.how else ""
        return f"{self.said_name}: {self.figure} {v} {self.said_op} {self.reference} {t} -> {self.status}{how}"

    def as_dict(self) -> dict[str, Any]:
        """The gate as ``evaluation.json`` and ``--json`` record it: its fields and ``blocking``."""
        return {**self._asdict(), "blocking": self.blocking}


def number(v: object) -> float | None:
    """``v`` as a float when it is a finite number (not a bool), else None.

    Parameters
    ----------
    v : object
        A figure read from a run's metrics.
    """
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v)):
        return float(v)
    return None


def mapping(v: object) -> Mapping[str, Any]:
    """``v`` when it is a mapping, else an empty one (a metrics key that is absent or of another shape).

    Parameters
    ----------
    v : object
        A value read from a run's metrics.
    """
    return v if isinstance(v, Mapping) else {}


def compare(value: float | None, op: str, target: float | None) -> str:
    """``"pass"`` or ``"fail"`` of ``value op target``; ``"not recorded"`` when either is None.

    Parameters
    ----------
    value, target : float or None
        The model's figure and the reference's.
    op : {">", ">="}
        The comparison that passes.
    """
    if value is None or target is None:
        return "not recorded"
    return "pass" if (value > target if op == ">" else value >= target) else "fail"
