"""``workbench train embeddings|sections`` and ``workbench jobs [--watch]``.

Training runs as a job (:mod:`workbench.train.jobs`): the command prints the job id, the run
folder and the headline metrics; ``workbench jobs`` lists jobs, ``--watch`` redraws the table
every second until no job is running.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.commands import add_json, count_of, open_library, print_json

if TYPE_CHECKING:
    import os

    from workbench.job_records import Job

#: ``workbench train embeddings --help``: where the classes come from.
CLASSES_HELP = """\
Fine-tune the embedding head so that tracks of the same class sit close together.

Classes (--classes, or --set classes_from=...), "auto" by default, which takes the first of:
  crates  the crates you made (workbench.crates.Crates(library).add(name, tracks));
          a track in several crates goes to the smallest one holding 2+ tracks
  folder  the sub-folder each track sits in under the folder you scanned
  self    self-supervised: each track its own class (its windows and an augmented
          view are positives, other tracks negatives)
that gives at least 2 classes with 2+ tracks each (self: 2 tracks). Only when asked:
  artist  the artist tag
From Python, config={"classes_from": {track_id: class, ...}} takes your own mapping.

Metrics are measured on held-out tracks, a query never matching windows of its own
track, next to two baselines on the same queries: the untrained backbone and a random
head. The command prints the class source, tracks per class, and model vs baselines.
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``jobs`` to the CLI.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()`` object.
    """
    p = sub.add_parser("train", help="train a head on the library (runs as a job; see `workbench jobs`)")
    what = p.add_subparsers(dest="target", metavar="WHAT")
    p.set_defaults(func=lambda args, p=p: (p.print_help(), 2)[1])  # bare `train`: what it trains, as `runs` and `crates`
    helps = {"embeddings": "the triplet embedding head (vibe similarity) on section embeddings",
             "sections": "the DJ-section classifier on the labelled sections"}
    descriptions = {"embeddings": CLASSES_HELP}
    for name, text in helps.items():
        q = what.add_parser(name, help=text, description=descriptions.get(name),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == "embeddings":
            q.add_argument("--classes", default=None, choices=("auto", "crates", "folder", "artist", "self"),
                           help="where the classes come from (default auto: crates, else sub-folders, else self); "
                                "same as --set classes_from=...")
            q.add_argument("--finetune-backbone", action="store_true", default=None,
                           help="train OpenL3's last blocks too, on audio, at their own learning rate (off by default; "
                                "OpenL3 only); same as --set finetune_backbone=true")
            q.add_argument("--backbone-lr", type=float, default=None,
                           help="learning rate of the fine-tuned blocks (default 1e-5; the head keeps --lr)")
            q.add_argument("--finetune-blocks", type=int, default=None,
                           help="how many of OpenL3's 4 convolution blocks, from the last, are fine-tuned (default 2)")
        if name == "sections":
            q.add_argument("--external", action="append", default=[], metavar="DIR",
                           help="a folder of tracks with truth JSON beside them (<stem>.json with \"sections\"), scored "
                                "by the final model next to its baselines (cross-generator figures); repeatable")
        q.add_argument("--backbone", default=None, choices=("auto", "features", "openl3", "cnn"),
                       help="what the head is trained on (default auto: OpenL3 when its weights are found, else "
                            "the feature frontend); same as --set backbone=...")
        q.add_argument("--size", type=int, default=None, choices=(512, 6144), help="OpenL3 embedding size (default 512)")
        if name == "embeddings":
            q.add_argument("--distill", default=None, choices=("features",),
                           help="with --backbone cnn: train the CNN to reproduce the feature frontend's triplet head "
                                "(trained first in the same run, on the same training tracks), with the student's "
                                "defaults: class term 0.5, mean of the last 4 epochs, rhythm branch of 96 lags, views "
                                "without time stretch (--set distill_rhythm_lags=0 etc. turns one off); same as "
                                "--set distill=...")
        q.add_argument("--weights", default=None, help="an OpenL3 weight file (default: <home>/models/openl3/ or "
                                                       "$WORKBENCH_OPENL3_WEIGHTS)")
        q.add_argument("--epochs", type=int, default=None, help="training epochs")
        q.add_argument("--seed", type=int, default=None, help="random seed")
        q.add_argument("--lr", type=float, default=None, help="learning rate")
        q.add_argument("--batch-size", type=int, default=None, help="examples per batch")
        q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any other config key (value read as JSON, else text); repeatable")
        q.add_argument("--experiments", default=None, metavar="DIR",
                       help="the experiments folder (default: <home>/experiments, where `runs list` looks)")
        add_json(q)
        q.set_defaults(func=_cmd_train, train_kind=name)

    p = sub.add_parser("jobs", help="training jobs: state, progress, epoch, loss, result")
    p.add_argument("--watch", action="store_true", help="redraw every second until no job is running")
    p.add_argument("--limit", type=int, default=20, help="newest jobs shown (default 20)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between redraws with --watch")
    add_json(p)
    p.set_defaults(func=_cmd_jobs)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["epochs=3", "margin=0.2", "name=x"]`` → ``{"epochs": 3, "margin": 0.2, "name": "x"}``.

    Parameters
    ----------
    items : list of str
        ``KEY=VALUE`` strings (``--set``); a value is read as JSON when it parses, else kept as
        a string; ``-`` in a key becomes ``_``.

    Returns
    -------
    dict

    Raises
    ------
    ParameterError
        If an item has no ``=`` or an empty key.
    """
    from workbench.errors import ParameterError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--set must be KEY=VALUE; got {item!r}")
        try:
            out[key.strip().replace("-", "_")] = json.loads(text)
        except json.JSONDecodeError:
            out[key.strip().replace("-", "_")] = text
    return out


def _cmd_train(args: argparse.Namespace) -> int:
    from workbench.train import jobs

    overrides = parse_overrides(args.set)
    for key in ("epochs", "seed", "lr", "batch_size"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    if getattr(args, "classes", None) is not None:
        overrides["classes_from"] = args.classes
    for key in ("finetune_backbone", "backbone_lr", "finetune_blocks"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    for key, value in (("backbone", args.backbone), ("size", args.size), ("openl3_weights", args.weights),
                       ("distill", getattr(args, "distill", None))):
        if value is not None:
            overrides[key] = value
    entry = jobs.train_embeddings_job if args.train_kind == "embeddings" else jobs.train_sections_job
    from pathlib import Path

    external = {Path(d).resolve().name or d: d for d in getattr(args, "external", None) or []}
    with open_library(args) as lib:
        job, run_path = entry(lib, config=overrides or None, experiments_root=args.experiments,
                              progress=not (args.quiet or args.json), **({"external": external} if external else {}))
        qa_line = qa_left_out_line(lib, run_path) if args.train_kind == "sections" else None
        names = {t.id: t.name for t in lib.tracks()}  # the tracks a run left out, by name
    from workbench.runs import load_run

    if args.json:
        print_json({"job_id": job.id, "kind": job.kind, "state": job.state, "epoch": job.epoch,
                    "total_epochs": job.total_epochs, "loss": job.loss, "run_id": job.run_id, "path": run_path,
                    "metrics": job.metrics, "warnings": load_run(run_path).metrics.get("warnings") or []})
        return 0
    run = load_run(run_path) if run_path else None
    metrics = run.metrics if run else {}
    print(job_line(job, run.kept_epoch if run else None))
    print(f"run {job.run_id}: {run_path}")
    if qa_line:  # (embeddings_lines says the embeddings run's, with its classes)
        print(qa_line)
    if args.train_kind == "embeddings":
        for line in embeddings_lines(run_path, names):
            print(line)
    if external:
        from workbench.pipeline_summary import _external_headlines

        for h in _external_headlines(metrics):
            print(f"  {h}")
    line = jobs.headline(job.metrics, max_items=6)
    if line:
        print(f"metrics: {line}")
    if args.train_kind != "embeddings":  # (embeddings_lines says the embeddings run's)
        for line in sections_lines(metrics) + sections_option_lines(metrics):
            print(line)
        for w in metrics.get("warnings") or []:
            print(f"warning: {w}")
    return 0


def qa_left_out_line(library: Any, run_path: Any) -> str | None:
    """The labelled tracks a sections run left out for their QA flags, by name; None when none were.

    ``train sections`` said "tracks 10" with 12 tracks labelled and never why.

    Parameters
    ----------
    library : workbench.library.Library
        The library the run trained on (for the tracks' names).
    run_path : str or path or None
        The run folder (its ``data.json`` ``qa_excluded``).

    Returns
    -------
    str or None
    """
    from workbench.errors import TrackNotFoundError
    from workbench.runs import load_run

    ids = (load_run(run_path).data.get("qa_excluded") or []) if run_path else []
    if not ids:
        return None
    names = []
    for i in ids:
        try:
            names.append(library.track(int(i)).name)
        except TrackNotFoundError:
            names.append(f"track {i}")
    return (f"{len(ids)} labelled track{'s' if len(ids) != 1 else ''} left out by QA flags: {', '.join(names)} "
            "(`workbench qa` says why; `workbench qa keep TRACK` trains on one anyway)")


def job_line(job: Any, kept_epoch: int | None) -> str:
    """The first line ``train`` prints: the job, its epochs and last loss, and which epoch's model was kept.

    A run that stopped early keeps its best epoch's weights; "9/10 epochs, loss 0.0421" alone read as
    if the model were the last epoch's.

    Parameters
    ----------
    job : workbench.jobs.Job
        The finished job.
    kept_epoch : int or None
        The epoch whose weights its run kept: :attr:`workbench.runs.Run.kept_epoch` (the one reader
        of the run's record, checked against its history); None when unknown.

    Returns
    -------
    str
    """
    line = f"job {job.id} {job.state}: {job.kind}, {job.epoch or 0}/{job.total_epochs or 0} epochs"
    from workbench.job_records import loss_epoch, loss_text

    if loss_text(job):
        line += f", loss {loss_text(job)}"
    if kept_epoch is not None and kept_epoch != (job.epoch or 0):
        whose = "the last epoch's; " if loss_epoch(job) == job.epoch else ""  # an earlier epoch's loss says its epoch
        line += f" ({whose}the model kept is epoch {kept_epoch}'s, the best on validation)"
    return line


def sections_lines(metrics: dict[str, Any]) -> list[str]:
    """A sections run's model beside its baselines on the held-out tracks, and its export gates.

    ``train sections`` printed six figures in one line, without "always the majority class",
    the baseline the export gate holds it to; ``train embeddings`` prints this table already.

    Parameters
    ----------
    metrics : dict
        The run's ``metrics.json``.

    Returns
    -------
    list of str
        Lines to print; figures the run did not record read ``n/a``.
    """
    from workbench.evaluate.gates import blocking_gates

    n = len((metrics.get("held_out") or {}).get("track_hashes") or metrics.get("test_tracks") or [])
    rows = {"model": metrics.get("model") or {}, "model_smoothed": metrics.get("model_smoothed") or {},
            **(metrics.get("baselines") or {})}
    lines = [f"{'held-out (' + count_of(n, 'track') + ')':<20} {'accuracy':>9} {'macro F1':>9}"]
    lines += [f"{name:<20} {_fmt(m.get('accuracy')):>9} {_fmt(m.get('macro_f1')):>9}"
              for name, m in rows.items() if isinstance(m, dict) and m]
    gates = blocking_gates(metrics, "sections")
    lines.append("export gates (each says what it judged): " + "; ".join(_gate_said(g) for g in gates))
    return lines


def _gate_said(gate: Any) -> str:
    """One blocking gate of :func:`sections_lines`: its figure, value, comparison and status, then how it judged."""
    how = gate.how  # the boundary gate's test over tracks, or why it is unknown
    if gate.status == "unknown":
        return f"{gate.figure}: {how}"
    ref = gate.reference.removeprefix("baselines.").removeprefix("segments.")
    return (f"{gate.figure} {_fmt(gate.value)} {gate.said_op} {ref} {_fmt(gate.target)}: {gate.status}"
            + (f" ({how})" if how else ""))


def sections_option_lines(metrics: dict[str, Any]) -> list[str]:
    """What a sections run's optional self-training and label families did, one line each (none when off).

    Parameters
    ----------
    metrics : dict
        The run's ``metrics.json``.
    """
    lines = []
    st = metrics.get("self_training")
    if st:
        lines.append(f"self-training: {st.get('pseudo_windows', 0)} pseudo-labelled windows on "
                     f"{st.get('pseudo_tracks', 0)} of {st.get('pool_tracks', 0)} unlabelled tracks (confidence >= "
                     f"{st.get('threshold')}, weight {st.get('weight')}; never scored)")
    families = (metrics.get("label_families") or {}).get("families")
    if families:
        lines.append("label families: " + "; ".join(f"{'/'.join(f['labels'])} ({f['tracks']:g} tracks)"
                                                   for f in families.values()))
    return lines


def embeddings_lines(run_path: str | os.PathLike[str], names: Mapping[int, str] | None = None) -> list[str]:
    """The class source with tracks per class, a distilled run's teacher and student options, and model vs baselines on the
    held-out tracks.

    Parameters
    ----------
    run_path : str or os.PathLike
        An embeddings run folder (or id).
    names : mapping of int to str or None
        Track names by id: the tracks left out are named (``13 Nebula``), not only numbered.

    Returns
    -------
    list of str
        Lines to print; metrics the run did not record read ``n/a``.
    """
    from workbench.runs import load_run

    run = load_run(run_path)
    source = run.data.get("class_source") or {}
    lines = []
    if source:
        counts = source.get("tracks_per_class") or {}
        if source.get("source") == "self":
            lines.append(f"classes: self-supervised, each of {source.get('n_tracks')} tracks its own class")
        else:
            lines.append(f"classes: from {source.get('source')}, {len(counts)} classes; tracks per class: "
                         + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if source.get("tried"):
            lines.append("  passed over: " + "; ".join(f"{k} ({v})" for k, v in source["tried"].items()))
        if source.get("dropped"):
            lines.append(f"  left out (no class, or alone in theirs): tracks {_ids(source['dropped'], names)}")
        if source.get("qa_excluded"):
            lines.append(f"  left out by QA flags (`workbench qa`; `qa keep TRACK` keeps one): tracks "
                         f"{_ids(source['qa_excluded'], names)}")
    backbone = (run.info.get("backbone") or {}).get("name") or run.config.get("backbone")
    if backbone:
        lines.append(f"backbone: {backbone}")
    distill = run.metrics.get("distill") or {}
    if distill:  # --distill: the teacher and the student options in effect (docs/runs.md)
        from workbench.train.cnn_student import describe_student

        lines.append(f"distilled from {distill.get('teacher')}; teacher held-out MAP@R "
                     f"{_fmt(distill.get('teacher_test_map_at_r'))}; {describe_student(distill.get('student_options'))}")
    rows = {"model": run.metrics.get("model") or {}, **(run.metrics.get("baselines") or {})}
    lines.append(f"{'held-out':<12} {'MAP@R':>7} {'P@1':>7} {'P@5':>7} {'track MAP@R':>12}")
    for name, m in rows.items():
        lines.append(f"{name:<12} " + " ".join(f"{_fmt(m.get(k)):>{w}}" for k, w in
                                               (("map_at_r", 7), ("precision_at_1", 7), ("precision_at_5", 7),
                                                ("track_map_at_r", 12))))
    from workbench.evaluate.gates import invariance_gates

    gates = invariance_gates(run.metrics)
    if any(g.status != "not recorded" for g in gates):
        lines.append(f"{'invariance':<12} {'head':>7} {'backbone':>9}  gate (head >= backbone - 0.05)")
        for g in gates:
            base = None if g.target is None else g.target + 0.05
            lines.append(f"  {g.name.removeprefix('invariance '):<10} {_fmt(g.value):>7} {_fmt(base):>9}  {g.status}")
    else:
        lines.append("invariance: not recorded (invariance_clips=0?); the invariance gate blocks activation")
    from workbench.evaluate.gates import search_gate, searched_model

    g = search_gate(run.metrics)
    if g.status == "not measured":
        lines.append(f"search gate: not measured ({g.metric}); it does not block activation")
    elif g.status != "not recorded":
        trained = searched_model(run.metrics.get("search") or {}, run_config=run.config)  # a CNN run's: the CNN
        lines.append(f"search gate: {g.metric}: {trained} {_fmt(g.value)} vs {g.reference} {_fmt(g.target)} -> {g.status}"
                     + (" (blocks activation)" if g.blocking else ""))
    lines += [f"warning: {w}" for w in run.metrics.get("warnings") or []]  # e.g. the head adds nothing to search
    return lines


def _ids(values: Any, names: Mapping[int, str] | None = None) -> str:
    return ", ".join(f"{v} {names[v]}" if names and v in names else str(v) for v in values)


def _fmt(value: Any) -> str:
    # 4 decimals, as the "metrics:" line above the table, `runs list` and the report write a score
    return f"{value:.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "n/a"


def format_jobs(jobs: Sequence[Job]) -> str:
    """A plain-text table of jobs (newest first) for the terminal.

    Parameters
    ----------
    jobs : sequence of Job

    Returns
    -------
    str
        One header line and one line per job (progress as a 16-character bar and a percentage).
    """
    from workbench.train.jobs import headline

    wide = max([16, *(len(j.loss_text) for j in jobs)])  # an earlier epoch's loss says its epoch: the column widens
    lines = [f"{'id':>4}  {'kind':10}  {'state':10}  {'progress':23}  {'epoch':>7}  {'loss':>{wide}}  result"]
    for j in jobs:
        filled = int(round(16 * j.progress))
        bar = f"[{'#' * filled}{'.' * (16 - filled)}] {100 * j.progress:3.0f}%"
        epoch = f"{j.epoch or 0}/{j.total_epochs}" if j.total_epochs else ""
        loss = j.loss_text
        result = j.error if j.state == "failed" else (f"{j.run_id}  {headline(j.metrics)}" if j.run_id else "")
        lines.append(f"{j.id:>4}  {j.kind:10}  {j.state:10}  {bar:23}  {epoch:>7}  {loss:>{wide}}  {result or ''}")
    if not jobs:
        lines.append("(no training jobs yet)")
    return "\n".join(lines)


def _cmd_jobs(args: argparse.Namespace) -> int:
    import dataclasses

    from workbench.errors import ParameterError
    from workbench.train.jobs import list_jobs

    if args.interval <= 0:
        raise ParameterError(f"--interval must be > 0 (seconds); got {args.interval!r}")
    if args.json and args.watch:
        raise ParameterError("--json prints the jobs once: it cannot be combined with --watch")
    tty = sys.stdout.isatty()
    with open_library(args) as lib:
        if args.json:
            print_json([dataclasses.asdict(j) for j in list_jobs(lib, limit=args.limit)])
            return 0
        while True:
            jobs = list_jobs(lib, limit=args.limit)
            if args.watch and tty:
                sys.stdout.write("\x1b[H\x1b[J")  # home and clear: redraw in place
            print(format_jobs(jobs), flush=True)
            if not args.watch or not any(j.running for j in jobs):
                return 0
            time.sleep(args.interval)
            if not tty:
                print()
