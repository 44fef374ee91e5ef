"""What the demo (:func:`workbench.pipeline.run_demo`) hands back: where it put things, what it measured.

:class:`DemoResult` and its :meth:`~DemoResult.summary`; :class:`Headline`, one headline metric
next to its target; :func:`_headlines`, the numbers to look at first, from the runs' evaluation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.library import ScanSummary
from workbench.wording import score_text

if TYPE_CHECKING:
    from workbench.runs import Run


@dataclass
class Headline:
    """One headline metric next to its target (``passed`` None when there is no target)."""

    name: str
    value: float | None
    target: str
    passed: bool | None
    missing: str = "not recorded"  # shown when value is None

    def __str__(self) -> str:
        value = score_text(self.value, missing=self.missing)
        mark = {True: "✓", False: "✗", None: " "}[self.passed]
        return f"{mark} {self.name:<56} {value:>8}   target {self.target}"


@dataclass
class DemoResult:
    """Where the demo put things, what it measured, and how long each stage took (seconds)."""

    demo_folder: Path
    db_path: Path
    n_tracks: int
    seed: int
    synthesized: bool
    scan: ScanSummary
    styles: dict[str, int]
    total_duration_s: float
    analysis: str = ""
    accuracy: dict[str, float] = field(default_factory=dict)
    example: list[str] = field(default_factory=list)  # "similar to" with the backbone, before training
    example_ids: list[int] = field(default_factory=list)  # its matches' track ids, in rank order
    example_after: list[str] = field(default_factory=list)  # the same query with the head training activated
    example_after_ids: list[int] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    backbone: str = ""
    labels: str = ""
    unlabeled: list[str] = field(default_factory=list)
    runs: dict[str, Path] = field(default_factory=dict)
    reports: dict[str, Path] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)
    #: Models not exported because they fail a blocking gate: ``"<run_id>: <failing gates>"``.
    refused: list[str] = field(default_factory=list)
    suggestions: dict[str, list[str]] = field(default_factory=dict)
    headlines: list[Headline] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    #: The second, independently made set the section model is scored on (where it is), or why not.
    cross_generator: str = ""

    def to_dict(self) -> dict[str, object]:
        """For ``workbench demo --json``: the summary's contents as plain JSON values.

        Paths are text; ``scan`` is :meth:`ScanSummary.to_dict`'s ``counts``; ``headlines`` are
        ``{name, value, target, passed}`` (``passed`` None where there is no target; ``value`` NaN
        where a metric was not measured, which ``--json`` prints as null); seconds in
        ``total_duration_s`` and ``stage_seconds``.
        """
        return {"demo_folder": str(self.demo_folder), "db_path": str(self.db_path), "n_tracks": self.n_tracks,
                "seed": self.seed, "synthesized": self.synthesized, "scan": self.scan.counts(),
                "styles": dict(self.styles), "total_duration_s": round(self.total_duration_s, 3),
                "analysis": self.analysis, "accuracy": dict(self.accuracy), "backbone": self.backbone,
                "labels": self.labels, "unlabeled": list(self.unlabeled),
                "runs": {k: str(v) for k, v in self.runs.items()}, "reports": {k: str(v) for k, v in self.reports.items()},
                "exports": list(self.exports), "not_exported": list(self.refused), "versions": list(self.versions),
                "cross_generator": self.cross_generator or None,
                "suggestions": {k: list(v) for k, v in self.suggestions.items()},
                "headlines": [{"name": h.name, "value": h.value, "target": h.target, "passed": h.passed}
                              for h in self.headlines],
                "reused": list(self.reused), "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()}}

    def summary(self) -> str:
        """A human-readable summary of the run: where everything is, and the headline metrics."""
        c = self.scan.counts()
        lines = [
            "workbench demo: done",
            f"  demo library : {self.demo_folder}  ({self.n_tracks} tracks, seed {self.seed}, "
            f"{self.total_duration_s / 60:.1f} min of audio; "
            f"{'synthesized now' if self.synthesized else 'reused from an earlier run'})",
            "  styles       : " + ", ".join(f"{k} x{v}" for k, v in sorted(self.styles.items())),
            f"  database     : {self.db_path}",
            "  scan         : " + ", ".join(f"{n} {k}" for k, n in c.items()),
            f"  analysis     : {self.analysis.removeprefix('analysis: ')}",
            "  vs truth     : " + ", ".join(f"{k} {v:.0%}" for k, v in self.accuracy.items()),
            f"  backbone     : {self.backbone}",
        ]
        if self.labels:
            lines.append(f"  labels       : {self.labels}")
        for kind, path in self.runs.items():
            lines.append(f"  run ({kind:<10}): {path}")
        for kind, path in self.reports.items():
            lines.append(f"  report ({kind}): {path}")
        for line in self.exports:
            lines.append(f"  export       : {line}")
        for line in self.refused:
            lines.append(f"  not exported : {line}")
        for line in self.versions:
            lines.append(f"  registry     : {line}")
        if self.cross_generator:
            lines.append(f"  cross-generator set: {self.cross_generator}")
        for name, segments in self.suggestions.items():
            lines.append(f"  suggested for {name} (unlabelled): " + ", ".join(segments))
        lines += self.example
        if self.example_after:
            lines += self.example_after
            moved = sum(a != b for a, b in zip(self.example_ids, self.example_after_ids, strict=False))
            lines.append(f"    (the active head changed {moved} of the {len(self.example_after_ids)} places)")
        if self.headlines:
            lines.append("  headline metrics (held-out tracks):")
            lines += [f"    {h}" for h in self.headlines]
        if self.reused:
            lines.append("  reused from an earlier run: " + ", ".join(self.reused))
        lines.append("  stages (s)   : " + ", ".join(f"{k} {v:.1f}" for k, v in self.stage_seconds.items()))
        return "\n".join(lines)


def _headlines(runs: dict[str, Run], result: DemoResult) -> list[Headline]:
    """The numbers to look at first, from the runs' evaluation.json (written by the report)."""
    out = [Headline(f"analysis: {k}", v, "—", None) for k, v in result.accuracy.items()]
    for kind, run in runs.items():
        ev = json.loads((run.path / "evaluation.json").read_text())
        for g in ev.get("gates", []):
            out.append(Headline(f"{kind}: {g['name']}", g["value"], f"> {g['target']}", g["passed"]))
        model = run.metrics.get("model", {})
        if kind == "embeddings":  # held-out tracks, a query never matching its own track
            base = (run.metrics.get("baselines") or {}).get("backbone") or {}
            for name in ("map_at_r", "precision_at_5"):
                if isinstance(model.get(name), (int, float)) and isinstance(base.get(name), (int, float)):
                    out.append(Headline(f"embeddings: {name} head vs backbone ({score_text(base[name])})", model[name],
                                        "> backbone", model[name] > base[name]))
            out += _invariance_headlines(run.metrics, run_config=run.config)
        else:
            seg = ev.get("computed", {}).get("segmentation", {})
            majority = (run.metrics.get("baselines") or {}).get("majority") or {}
            for name in ("accuracy", "macro_f1"):
                if name in model and name in majority:
                    out.append(Headline(f"sections: {name} model vs always-majority ({score_text(majority[name])})",
                                        model[name], "> majority", model[name] > majority[name]))
            hit = seg.get("boundary_f_3s")
            if hit is not None:
                out.append(Headline("sections: boundary hit rate F @3 s (smoothed)", hit, "≥ 0.8", hit >= 0.8))
            out += _transfer_headlines(run.metrics) + _external_headlines(run.metrics)
    return out


def _transfer_headlines(metrics: dict) -> list[Headline]:
    """Sections: the leave-one-crate-out (the demo's crates are styles) figures next to the in-domain ones.

    Parameters
    ----------
    metrics : dict
        A sections run's ``metrics.json``.
    """
    loso = (metrics.get("transfer") or {}).get("leave_one_group_out") or {}
    if not loso or "skipped" in loso:
        return [Headline("sections: held-out crates (leave one out)", None, loso.get("skipped", "turned off"), None)]
    smooth, inside = loso["model_smoothed"], (metrics.get("model_smoothed") or {}).get("accuracy")
    base = {k: v["accuracy"] for k, v in loso["baselines"].items()}
    best = max(base.values(), default=0.0)
    inside_text = score_text(inside, missing="n/a")
    out = [Headline(f"sections: accuracy on held-out crates, smoothed (in-domain {inside_text}; "
                    + ", ".join(f"{k} {score_text(v)}" for k, v in base.items()) + ")", smooth["accuracy"], "≥ 0.85",
                    smooth["accuracy"] >= 0.85 and smooth["accuracy"] >= best)]
    seg = loso.get("segments") or {}
    if "smoothed" in seg:
        nov = (seg.get("novelty") or {}).get("boundary_f_3s")
        hit = seg["smoothed"]["boundary_f_3s"]
        out.append(Headline("sections: boundary F @3 s on held-out crates (novelty baseline "
                            + (f"{score_text(nov)})" if nov is not None else "n/a)"), hit, "≥ 0.85", hit >= 0.85))
    return out


def _external_headlines(metrics: dict) -> list[Headline]:
    """Sections on each other set the run was scored on (a second generator), next to its baselines.

    Accuracy (majority, logistic regression and novelty beside it), boundary F @3 s and @0.5 s
    (novelty beside them), intro/outro confusion and the suggestions' ECE as served: over scored windows
    (a suggestion counts once per window, what the confidence map is fitted for; the line names the
    windows), and per suggestion as the user judges it (each once, right when half its windows are; with
    its count and the ECE a calibrated map shows at that count).

    Parameters
    ----------
    metrics : dict
        A sections run's ``metrics.json``.
    """
    out = []
    for name, e in ((metrics.get("transfer") or {}).get("external") or {}).items():
        if "skipped" in e:
            out.append(Headline(f"sections: {name} (other generator)", None, e["skipped"], None))
            continue
        acc = e["model_smoothed"]["accuracy"]
        base = {k: v["accuracy"] for k, v in e["baselines"].items()}
        out.append(Headline(f"sections: accuracy on {name} (other generator, {e.get('tracks', '?')} tracks), "
                            "smoothed (" + ", ".join(f"{k} {score_text(v)}" for k, v in base.items()) + ")", acc, "≥ 0.85",
                            acc >= 0.85 and acc >= max(base.values(), default=0.0)))
        seg = e.get("segments") or {}
        for key, label, target in (("boundary_f_3s", "F @3 s", 0.85), ("boundary_f_0.5s", "F @0.5 s", 0.6)):
            hit, nov = (seg.get("smoothed") or {}).get(key), (seg.get("novelty") or {}).get(key)
            if hit is not None:
                out.append(Headline(f"sections: boundary {label} on {name} (novelty "
                                    + ("n/a)" if nov is None else f"{score_text(nov)})"), hit, f"≥ {target:g}",
                                    hit >= target and (nov is None or hit >= nov)))
        io = (e.get("intro_outro_confusion") or {}).get("model_smoothed")
        if io is not None:
            out.append(Headline(f"sections: intro/outro confusion on {name}", io, "< 0.05", io < 0.05))
        sug = (e.get("calibration") or {}).get("suggestions") or {}
        ece = sug.get("ece_before") if sug.get("ece_after") is None else sug["ece_after"]
        if ece is not None:
            n = sum((sug.get("reliability_after") or sug.get("reliability_before") or {}).get("count") or ())
            out.append(Headline(f"sections: suggestion ECE on {name}, as served, per scored window ("
                                + (f"{n} windows; " if n else "") + "a long suggestion counts more)", ece, "< 0.05",
                                ece < 0.05))
        span = (sug.get("span") or {}).get("after") or {}
        if span.get("ece") is not None:  # each suggestion once; the floor: what a calibrated map shows at this count
            out.append(Headline(f"sections: same, per suggestion as the user judges it ({span['n_suggestions']} "
                                f"suggestions; calibrated floor {score_text(span['floor'])})", span["ece"], "< 0.05",
                                span["ece"] < 0.05))
    return out


def _fmt3(value: float | None) -> str:
    return score_text(value, missing="n/a")


def _invariance_headlines(metrics: dict, *, run_config: dict | None = None) -> list[Headline]:
    """The invariance gate: the head's cosine to its own transformed copy next to the backbone's, per transform; then
    the search gate (precision@3 by folder, head vs backbone, on held-out tracks) when the run recorded it; the run's
    config, when given, says which model a record older than its ``trained`` field measured."""
    from workbench.evaluate.gates import invariance_gates, search_gate, searched_model
    from workbench.evaluate.invariance import INVARIANCE_TOLERANCE as TOL

    out = []
    for g in invariance_gates(metrics):
        base = "n/a" if g.target is None else f"{score_text(g.target + TOL)}"
        out.append(Headline(f"embeddings: {g.name} head vs backbone ({base})", g.value, f"≥ backbone - {TOL:g}",
                            None if g.status == "not recorded" else g.status == "pass"))
    g = search_gate(metrics)
    kind = searched_model(metrics.get("search") or {}, run_config=run_config)
    if g.status == "not measured":  # said, with why; it does not block
        out.append(Headline(f"embeddings: search P@3 by folder, {kind} vs backbone ({(metrics.get('search') or {}).get('reason')}; "
                            "does not block)", None,
                            "≥ backbone", None, missing="not measured"))
    elif g.status != "not recorded":  # a run older than the gate: nothing to show
        rule = "≥ backbone" if g.op == ">=" else "≥ backbone, or worse only within noise (sign test over queries)"
        out.append(Headline(f"embeddings: search P@3 by folder, {kind} vs backbone ({_fmt3(g.target)}, "
                            f"{(metrics.get('search') or {}).get('n_queries')} held-out)", g.value, rule,
                            g.status == "pass"))
    return out


def similar_block(search: Any, track: Any, *, k: int = 3) -> tuple[list[str], list[int]]:
    """The summary's "similar to" block for ``track``: a line naming the model, then the ``k`` nearest.

    Parameters
    ----------
    search : workbench.search.LibrarySearch
        An updated search; its ``model_said`` names the model in the heading.
    track : workbench.library.Track
        The query.
    k : int
        How many matches.

    Returns
    -------
    lines : list of str
        The heading and one line per match (score, name, explanation).
    ids : list of int
        The matches' track ids, best first.
    """
    found = search.similar(track, k=k)
    lines = [f"  similar to {track.name}, ranked by {search.model_said}:"]
    lines += [f"    {r.match.score:.2f}  {r.track.name:24}  {r.match.explanation}" for r in found]
    return lines, [r.track.id for r in found]
