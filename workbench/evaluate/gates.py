"""Gates on a run's metrics: the research targets (reported) and the blocking gates (enforced).

Research targets (:func:`quality_gates`, reported next to the metrics, never blocking):
embedding models: precision@5 > 0.70, silhouette > 0.50, NMI > 0.60; section models:
accuracy > 0.80, macro F1 > 0.75.

Blocking gates (:func:`blocking_gates`; export and activation refuse a model that fails one unless
forced): the model must beat its baselines measured on the same held-out tracks (embeddings:
``map_at_r`` above the untrained backbone's; sections: ``macro_f1`` above and ``accuracy`` at
least the majority class's, on the smoothed sections it suggests where the run recorded them
(``model_smoothed``; else its unsmoothed windows, said so: :func:`served_metrics`), and its boundaries not below the unsupervised novelty baseline's
beyond noise, boundary F @3 s of the smoothed sections it suggests, a paired one-sided test over the held-out tracks,
:func:`boundary_gate`; these live in :mod:`workbench.evaluate.gates_sections`), and must not be
worse than the version active now on its headline metric when both were measured on the same held-out track hashes
(:func:`headline_figures`). Embedding models must also keep
their invariance (``metrics["invariance"]``, see :func:`invariance_gates`): under each transform of
:data:`workbench.evaluate.invariance.GATE_TRANSFORMS` (pitch ±1 semitone, tempo ±4 %, gain ±6 dB)
the model's mean cosine to its own transformed copy is at least the backbone's minus
:data:`~workbench.evaluate.invariance.INVARIANCE_TOLERANCE` (0.05). And search must not get worse
(:func:`search_gate`): precision@3 by folder through similar-track search, the head (or a CNN run's CNN) not worse than the backbone
beyond noise (a one-sided sign test over the queries, :func:`search_sign_test`), on the run's held-out tracks (measured where the classes are folders or crates and at least 6 held-out tracks can be
queried; otherwise the gate says why it was not measured and does not block).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from workbench.errors import ParameterError, WorkbenchError
from workbench.evaluate.gate_types import NOISE_ALPHA, BlockingGate, compare, mapping, number
from workbench.evaluate.gates_sections import (  # noqa: F401 (re-exported: the sections gates' names)
    BOUNDARY_GATE,
    SMOOTHED_SAID,
    UNSMOOTHED_SAID,
    boundary_gate,
    judged_alike,
    served_metrics,
)
from workbench.validate import check_choice
from workbench.wording import count_of

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
    """The model's own metrics: ``metrics["model"]`` when present, else the top level.

    Parameters
    ----------
    metrics : Mapping[str, Any]
        A run's metrics, flat or with the model's under ``"model"``.

    Returns
    -------
    dict
        A shallow copy.
    """
    inner = metrics.get("model")
    return dict(inner) if isinstance(inner, Mapping) else dict(metrics)


def quality_gates(metrics: Mapping[str, Any], kind: str) -> list[Gate]:
    """Each gate of ``kind`` ("embeddings" | "sections") with the value from ``metrics``.

    ``metrics`` is flat ({"accuracy": 0.9}) or nested with the model's under ``"model"``.

    Parameters
    ----------
    metrics : Mapping[str, Any]
        A run's metrics.
    kind : {"embeddings", "sections"}

    Returns
    -------
    list of Gate
        One per target in :data:`QUALITY_GATES` for ``kind``; ``passed`` is None when the metric
        is missing or not a number.

    Raises
    ------
    ParameterError
        If ``kind`` is not a run kind.
    """
    check_choice("kind", kind, QUALITY_GATES)
    flat = model_metrics(metrics)
    gates = []
    for name, target in QUALITY_GATES[kind]:
        v = flat.get(name)
        value = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        gates.append(Gate(name, value, target, None if value is None else value > target))
    return gates


# ---------------------------------------------------------------------------------------------
# Blocking gates: what export and activation refuse (unless forced)
# ---------------------------------------------------------------------------------------------

#: Model type -> run kind.
KIND_OF_MODEL_TYPE: dict[str, str] = {"dj_section": "sections", "embedding": "embeddings", "head": "embeddings"}
#: The metric a model is compared on with the active version, per run kind.
HEADLINE_METRIC: dict[str, str] = {"embeddings": "map_at_r", "sections": "macro_f1"}
#: (metric, comparison, baseline) that must hold against a baseline on the same held-out data.
BASELINE_GATES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "embeddings": (("map_at_r", ">", "backbone"),),
    "sections": (("macro_f1", ">", "majority"), ("accuracy", ">=", "majority")),
}


class GateFailedError(WorkbenchError, ValueError):
    """A model fails a blocking gate; ``gates`` holds the failing :class:`BlockingGate` s."""

    def __init__(self, message: str, *, gates: Sequence[BlockingGate] = ()) -> None:
        super().__init__(message)
        self.gates = tuple(gates)


def held_out_hashes(metrics: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The sorted content hashes of the held-out tracks a run's metrics were measured on, or None.

    Parameters
    ----------
    metrics : Mapping[str, Any]
        A run's ``metrics.json`` (``{"held_out": {"track_hashes": [...]}}``).

    Returns
    -------
    tuple of str or None
        None when not recorded or empty.
    """
    held = metrics.get("held_out") if isinstance(metrics, Mapping) else None
    hashes = held.get("track_hashes") if isinstance(held, Mapping) else None
    if not isinstance(hashes, (list, tuple)) or not hashes:
        return None
    return tuple(sorted(str(h) for h in hashes))


def blocking_gates(metrics: Mapping[str, Any], kind: str, *, active_metrics: Mapping[str, Any] | None = None,
                   active_name: str = "active version") -> list[BlockingGate]:
    """The blocking gates of a model from its run's ``metrics.json`` (see ``docs/runs.md``).

    Parameters
    ----------
    metrics : dict
        ``{"model": {...}, "baselines": {name: {...}}, "held_out": {"track_hashes": [...]}}``.
    kind : {"embeddings", "sections"} or a model type ("head", "embedding", "dj_section")
    active_metrics : dict, optional
        The metrics of the version active now (same layout); compared on the headline metric
        (``map_at_r`` for embeddings, ``macro_f1`` for sections) when both were measured on the
        same held-out track hashes, else the gate reads ``"not comparable"``.
    active_name : str
        How the active version is named in the gate (``"dj_section_v2"``).

    Returns
    -------
    list of BlockingGate
        Embeddings: ``map_at_r > baselines.backbone``; sections: ``macro_f1 > baselines.majority``,
        ``accuracy >= baselines.majority`` and the boundaries not below novelty's (:func:`boundary_gate`); then
        the comparison with the active version; then, for embeddings, the invariance gates (:func:`invariance_gates`) and the search gate
        (:func:`search_gate`).
    """
    kind = KIND_OF_MODEL_TYPE.get(kind, kind)
    if kind not in BASELINE_GATES:
        raise ParameterError(f"kind must be one of {tuple(BASELINE_GATES)} or a model type "
                             f"{tuple(KIND_OF_MODEL_TYPE)}; got {kind!r}")
    if not isinstance(metrics, Mapping):
        raise ParameterError(f"metrics must be a dict (a run's metrics.json); got {type(metrics).__name__}")
    model = mapping(metrics.get("model"))
    baselines = mapping(metrics.get("baselines"))
    gates = []
    served, said = served_metrics(metrics) if kind == "sections" else (model, "")
    for metric, op, base in BASELINE_GATES[kind]:
        ref = mapping(baselines.get(base))
        value, target = number(served.get(metric)), number(ref.get(metric))
        gates.append(BlockingGate(f"better than {base}", metric + said, value, op, f"baselines.{base}", target,
                                  compare(value, op, target)))
    if kind == "sections":
        gates.append(boundary_gate(metrics))
    if active_metrics is not None:
        metric, value, target, said = headline_figures(metrics, active_metrics, kind)
        mine, theirs = held_out_hashes(metrics), held_out_hashes(active_metrics)
        if mine is None or theirs is None or mine != theirs:
            status = "not comparable"
        else:
            status = compare(value, ">=", target)
        gates.append(BlockingGate(f"not worse than {active_name}", metric + said, value, ">=", active_name, target,
                                  status))
    if kind == "embeddings":
        gates += invariance_gates(metrics)
        gates.append(search_gate(metrics))
    return gates


def headline_figures(metrics: Mapping[str, Any], active_metrics: Mapping[str, Any], kind: str
                     ) -> tuple[str, float | None, float | None, str]:
    """The headline metric of a model and of the version active now, as the two are compared.

    Sections: ``macro_f1`` of the smoothed sections where both runs recorded them, else of both runs' unsmoothed
    windows, never one of each (:func:`~workbench.evaluate.gates_sections.judged_alike`); embeddings: ``map_at_r``.
    The blocking gate "not worse than the active version" and the auto-activation
    (:func:`workbench.export.activation.activation_decision`) both compare through this.

    Parameters
    ----------
    metrics, active_metrics : Mapping[str, Any]
        The new run's metrics and the active version's.
    kind : {"embeddings", "sections"} or a model type ("head", "embedding", "dj_section")

    Returns
    -------
    tuple of (str, float or None, float or None, str)
        The metric, the new model's value and the active version's (None: not recorded), and how the figure is said
        after the metric (``" of smoothed sections"``, ``" of unsmoothed windows"``; ``""`` for embeddings).
    """
    kind = KIND_OF_MODEL_TYPE.get(kind, kind)
    check_choice("kind", kind, HEADLINE_METRIC)
    metric = HEADLINE_METRIC[kind]
    if kind == "sections":
        return (metric, *judged_alike(metrics, active_metrics, metric))
    return (metric, number(mapping(metrics.get("model")).get(metric)),
            number(mapping(active_metrics.get("model")).get(metric)), "")


#: One-sided level of the search gate's sign test: a head is refused only when it is worse beyond sampling noise.
SEARCH_GATE_ALPHA = NOISE_ALPHA


def search_sign_test(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The search record's queries paired: on how many the head is better, worse, equal, and the sign test's p.

    ``p`` is the one-sided exact binomial (sign) test of "the head is worse on more queries than it is better on"
    (queries where both find as many matches are left out; :func:`scipy.stats.binomtest`): the chance of at least
    that many worse queries if each were worse or better by a coin toss.

    Parameters
    ----------
    record : Mapping[str, Any]
        ``metrics["search"]`` with ``per_query`` (``model`` and ``backbone``: matches in the query's group among
        the k, one per query, paired).

    Returns
    -------
    dict or None
        ``better``, ``worse``, ``equal`` (queries) and ``p``; None when the record has no per-query matches (written
        before session 15) or they do not pair.
    """
    per = mapping(record.get("per_query"))
    model, base = per.get("model"), per.get("backbone")
    if not (isinstance(model, list) and isinstance(base, list) and model and len(model) == len(base)
            and all(number(v) is not None for v in [*model, *base])):
        return None
    better = sum(float(m) > float(b) for m, b in zip(model, base, strict=True))
    worse = sum(float(m) < float(b) for m, b in zip(model, base, strict=True))
    from scipy.stats import binomtest

    p = float(binomtest(worse, better + worse, 0.5, alternative="greater").pvalue) if better + worse else 1.0
    return {"better": better, "worse": worse, "equal": len(model) - better - worse, "p": p}


def searched_model(record: Mapping[str, Any], *, run_config: Mapping[str, Any] | None = None) -> str:
    """Which kind of model a run's search record measured against its backbone: ``"head"`` or ``"cnn"``.

    Read from structured fields first: the record's ``trained`` (written since session 16), else the run's
    ``config.json`` when the caller has it (``backbone: "cnn"``, :func:`workbench.runs.is_cnn_run`); only a record
    older than ``trained`` read without its run falls back to its ``baseline`` in words (a CNN run's says "the
    backbone the CNN replaces", :func:`workbench.similarity.compare.baseline_said`; a CNN run whose search could not
    be measured then wrote none, and is read as a head's).

    Parameters
    ----------
    record : Mapping[str, Any]
        ``metrics["search"]``.
    run_config : Mapping[str, Any] or None
        The run's ``config.json`` (``run.config``), or None where only the metrics are at hand.

    Returns
    -------
    str
    """
    trained = record.get("trained")
    if trained in ("head", "cnn"):
        return str(trained)
    if run_config is not None:
        return "cnn" if run_config.get("backbone") == "cnn" else "head"
    return "cnn" if "the CNN replaces" in str(record.get("baseline") or "") else "head"


def search_gate(metrics: Mapping[str, Any]) -> BlockingGate:
    """Search precision@3 by folder with the head not worse than the backbone's beyond noise, on the run's held-out tracks.

    Parameters
    ----------
    metrics : Mapping[str, Any]
        A run's metrics with ``{"search": {"status": "measured", "model": p, "backbone": p, "n_queries": n,
        "k": 3}}`` (:func:`workbench.train.embeddings_search.search_record`: same index contents and weights
        for both, queries the held-out tracks, the query's own track never counted); its ``baseline``
        (``"features-v1: ..."``, a CNN run's: the feature frontend the CNN replaces) names the reference.

    Returns
    -------
    BlockingGate
        Named ``"search not worse than backbone"``; its metric names the model it gates (``head`` or ``cnn``,
        :func:`searched_model`). It fails only when that model is worse beyond sampling noise:
        precision below the backbone's and worse on more queries than it is better on, one-sided sign test
        (:func:`search_sign_test`) p < :data:`SEARCH_GATE_ALPHA`; its metric says the counts, ``p`` and the rule.
        A record without per-query matches (before session 15) is read as it was written for: ``model >= backbone``.
        ``"not measured"`` (does not block) when the run
        recorded why it could not measure it (classes not from folders or crates, fewer than
        :data:`~workbench.train.embeddings_search.MIN_SEARCH_QUERIES` held-out queries); ``"not recorded"``
        (blocks) when the run has no record (trained before the gate).
    """
    record = mapping(metrics.get("search"))
    k = record.get("k", 3)
    n = record.get("n_queries")
    metric = f"precision@{k} by {record.get('groups_by', 'folder')}" + (f" ({n} held-out queries)" if n else "")
    if record.get("status") == "not measured":
        return BlockingGate("search not worse than backbone", f"{metric}: {record.get('reason', 'not measured')}",
                            None, ">=", "backbone", None, "not measured")
    value, target = number(record.get("model")), number(record.get("backbone"))
    named = str(record.get("baseline") or "").split(":")[0]  # a CNN run's baseline is the feature frontend it replaces
    reference = f"backbone {named}" if named else "backbone"
    test = search_sign_test(record)
    kind = searched_model(record)
    if test is None:  # recorded before the per-query matches: the plain comparison it was written for
        return BlockingGate("search not worse than backbone", f"{metric}, per-query matches not recorded: {kind} >= backbone",
                            value, ">=", reference, target, compare(value, ">=", target))
    said = (f"{metric}; per query the {kind} is better on {test['better']}, worse on {test['worse']}, equal on "
            f"{test['equal']}: one-sided sign test p = {test['p']:.3g} (blocks only when the {kind} is worse and "
            f"p < {SEARCH_GATE_ALPHA:g}: worse beyond noise)")
    status = "not recorded" if value is None or target is None else (
        "fail" if value < target and test["p"] < SEARCH_GATE_ALPHA else "pass")
    return BlockingGate("search not worse than backbone", said, value, "not worse beyond noise than", reference, target,
                        status)


def invariance_gates(metrics: Mapping[str, Any]) -> list[BlockingGate]:
    """One gate per transform of :data:`~workbench.evaluate.invariance.GATE_TRANSFORMS`: the model keeps the
    backbone's invariance, ``invariance[t]["model"] >= invariance[t]["backbone"] - 0.05``.

    Parameters
    ----------
    metrics : Mapping[str, Any]
        A run's metrics with ``{"invariance": {transform: {"backbone": cos, "model": cos}}}``
        (mean cosine of held-out windows to their transformed copies).

    Returns
    -------
    list of BlockingGate
        Named ``"invariance <transform>"``; ``"not recorded"`` (blocking) for a transform the run
        did not measure, or in the older ``{augmentation: {strength: cos}}`` layout.
    """
    from workbench.evaluate.invariance import GATE_TRANSFORMS, INVARIANCE_TOLERANCE

    recorded = mapping(metrics.get("invariance"))
    gates = []
    for name in GATE_TRANSFORMS:
        entry = mapping(recorded.get(name))
        value, base = number(entry.get("model")), number(entry.get("backbone"))
        target = None if base is None else base - INVARIANCE_TOLERANCE
        gates.append(BlockingGate(f"invariance {name}", "cosine to own copy", value, ">=",
                                  f"backbone - {INVARIANCE_TOLERANCE:g}", target, compare(value, ">=", target)))
    return gates


def failing(gates: Sequence[BlockingGate]) -> list[BlockingGate]:
    """The gates that block (failed, or not recorded).

    Parameters
    ----------
    gates : sequence of BlockingGate
    """
    return [g for g in gates if g.blocking]


def refusal_message(what: str, gates: Sequence[BlockingGate], *, forcing: str = "export or activate it anyway") -> str:
    """The message export and activation give when ``gates`` block ``what``.

    Parameters
    ----------
    what : str
        The model as it is named in the message ("head_v3").
    gates : sequence of BlockingGate
        All gates of the model; only the blocking ones are listed.
    forcing : str
        What ``--force`` does here, after "Pass --force (force=True in Python) to" (an export registers
        the version inactive, an activation activates it).

    Returns
    -------
    str
        Several lines: the failing gates, a note on unrecorded gates, and how to force.
    """
    bad = failing(gates)
    lines = [f"{what} fails {count_of(len(bad), 'blocking gate')}:"] + [f"  - {g}" for g in bad]
    if any(g.status == "not recorded" for g in bad):
        lines.append("  (gates not recorded: the run's metrics.json has no model metric, baseline, invariance or search "
                     "record for them; "
                     "runs trained before baselines were recorded cannot be checked - train again)")
    lines.append(f"Pass --force (force=True in Python) to {forcing}; the model's metadata "
                 "and card will say it was forced and which gates failed.")
    return "\n".join(lines)
