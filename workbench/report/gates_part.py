"""The report's "Quality gates" section: the gates that block export and activation, then the
research targets, which are reported and never block.

Export (``workbench export``) and activation (``workbench models activate|rollback``) check the
blocking gates of :func:`workbench.evaluate.gates.blocking_gates` (better than the baselines on
the same held-out tracks, a section model's boundaries not below novelty's beyond noise, invariance kept, search by folder not worse than the backbone's on the held-out
tracks, not worse than the active version). The research
targets of :func:`workbench.evaluate.gates.quality_gates` (precision@5 > 0.70, silhouette > 0.50,
NMI > 0.60; accuracy > 0.80, macro F1 > 0.75) are where the research wants a model to get: a
model below one is still exported. The report used to show only the targets, as failing "quality
gates", next to an export that passed: the two tables now say which is which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.report import html as H

#: What a sections run's ``model.*`` figures (research targets, confusion matrix, per-class scores) score.
WINDOWS_SAID = "unsmoothed windows"


def gates_part(metrics: Mapping[str, Any], kind: str, targets: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """The section's HTML and the blocking gates as ``evaluation.json`` records them.

    Parameters
    ----------
    metrics : Mapping
        The run's ``metrics.json``.
    kind : {"embeddings", "sections"}
        The run kind.
    targets : sequence of workbench.evaluate.gates.Gate
        The research targets with their values (:func:`workbench.evaluate.gates.quality_gates`).

    Returns
    -------
    (str, list of dict)
        The HTML (two tables) and one dict per blocking gate (:meth:`BlockingGate.as_dict`).
    """
    from workbench.evaluate.gates import blocking_gates

    blocking = blocking_gates(metrics, kind) if isinstance(metrics, Mapping) else []
    # value and reference with 4 decimals, as every score the report writes (.4g wrote "0.925" under "0.8976")
    rows = [(g.name, g.metric, _score(g.value), f"{g.op} {g.reference}", _score(g.target), g.status)
            for g in blocking]
    cls = [("", "", "", "", "", {"pass": "pass", "fail": "fail"}.get(g.status, "na")) for g in blocking]
    out = ['<h3>Blocking gates</h3><p class="meta">Export and activation refuse a model that fails one '
           "(unless forced). The comparison with the version active in the registry is checked at export.</p>",
           H.table(rows, ("gate", "metric", "value", "must be", "reference value", "result"), cls)]
    # a sections run's targets score its unsmoothed windows (model.*), not the smoothed sections the gates judge
    scored = f" ({WINDOWS_SAID})" if kind == "sections" else ""
    rows = [(f"{g.name}{scored}", _score(g.value), f"> {g.target:g}", "met" if g.passed else ("below target" if g.passed is False
                                                                          else H.NOT_RECORDED)) for g in targets]
    cls = [("", "", "", "pass" if g.passed else "na") for g in targets]
    out += ['<h3>Research targets (informational)</h3><p class="meta">Where the research wants a model to get; '
            "a model below one is reported, not held back: these never block export or activation.</p>",
            H.table(rows, ("metric", "value", "target", "result"), cls)]
    return "".join(out), [g.as_dict() for g in blocking]


def _score(value: Any) -> Any:
    """A gate's number as :func:`workbench.report.html.number` writes a score (a count as an integer); else as is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return H.number(value)
    return value
