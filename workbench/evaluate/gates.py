"""Quality gates from the research, checked against a run's metrics.

Embedding models: precision@5 > 0.70, silhouette > 0.50, NMI > 0.60.
Section models: accuracy > 0.80, macro F1 > 0.75.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from workbench.errors import ParameterError

#: (metric key, target) per run kind; a gate passes when the value is strictly above the target.
QUALITY_GATES: dict[str, tuple[tuple[str, float], ...]] = {
    "embeddings": (("precision_at_5", 0.70), ("silhouette", 0.50), ("nmi", 0.60)),
    "sections": (("accuracy", 0.80), ("macro_f1", 0.75)),
}


class Gate(NamedTuple):
    """One gate: ``passed`` is None when the metric was not recorded."""

    name: str
    value: float | None
    target: float
    passed: bool | None


def model_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The model's own metrics: ``metrics["model"]`` when present, else the top level."""
    inner = metrics.get("model")
    return dict(inner) if isinstance(inner, Mapping) else dict(metrics)


def quality_gates(metrics: Mapping[str, Any], kind: str) -> list[Gate]:
    """Each gate of ``kind`` ("embeddings" | "sections") with the value from ``metrics``.

    ``metrics`` is flat ({"accuracy": 0.9}) or nested with the model's under ``"model"``.
    """
    if kind not in QUALITY_GATES:
        raise ParameterError(f"kind must be one of {tuple(QUALITY_GATES)}; got {kind!r}")
    flat = model_metrics(metrics)
    gates = []
    for name, target in QUALITY_GATES[kind]:
        v = flat.get(name)
        value = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        gates.append(Gate(name, value, target, None if value is None else value > target))
    return gates
