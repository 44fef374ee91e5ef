"""``workbench runs list|table|compare|report|name|note``: training runs under ``experiments/``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from workbench.commands import NoLibraryError, add_json, missing_library_said, print_json, workspace_of

if TYPE_CHECKING:
    from pathlib import Path

    from workbench.experiments import Comparison


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``runs`` and its subcommands.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()`` object.
    """
    p = sub.add_parser("runs", help="list, compare and report training runs (experiments/)")
    p.add_argument("--experiments", default=None, metavar="DIR",
                   help="the experiments folder (default: <home>/experiments)")
    rs = p.add_subparsers(dest="runs_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    q = rs.add_parser("list", help="runs with their key params and headline metrics; 'started' is when the "
                                   "training job began (UTC), the run id's time when it finished; --json gives it as "
                                   "'started' and, the same value kept for older scripts, 'created'")
    q.add_argument("--kind", choices=("embeddings", "sections"), default=None)
    q.add_argument("--params", action="store_true", help="also every config parameter (a wide table)")
    add_json(q)
    q.set_defaults(func=_cmd_list)

    q = rs.add_parser("table", help="runs with chosen metric and parameter columns, filtered and sorted, with "
                                    "deltas against a baseline run and the best marked")
    q.add_argument("--kind", choices=("embeddings", "sections"), default=None)
    q.add_argument("--metric", "-m", action="append", default=None, metavar="NAME",
                   help="a metric column (repeat; dotted, bare names mean model.NAME; default: headline metrics)")
    q.add_argument("--param", "-p", action="append", default=None, metavar="NAME",
                   help="a parameter column (repeat; config.lr or lr, backbone, data.tracks)")
    q.add_argument("--baseline", default=None, metavar="RUN", help="add a delta column per metric against this run")
    q.add_argument("--sort", default=None, metavar="FIELD", help="sort by a metric, parameter, name or kind "
                                                                  "(metrics: best first)")
    q.add_argument("--ascending", action="store_true", help="sort ascending whatever the metric's direction")
    q.add_argument("--filter", default="", metavar="EXPR",
                   help="clauses joined by 'and': FIELD OP VALUE (OP: > >= < <= == != ~), or text to find in "
                        "run id, name and note; e.g. \"kind == sections and accuracy > 0.8\"")
    add_json(q)
    q.set_defaults(func=_cmd_table)

    q = rs.add_parser("compare", help="params (differences only unless --all), metrics with the best marked and "
                                      "deltas against a baseline, data changes (earlier run to later)")
    q.add_argument("runs", nargs="+", metavar="RUN", help="run ids or run folders")
    q.add_argument("--baseline", default=None, metavar="RUN", help="the run deltas are measured against "
                                                                    "(default: the oldest)")
    q.add_argument("--all", action="store_true", help="show every parameter, not only the differences (and, for runs "
                                                       "of different kinds, each kind's own parameters and metrics)")
    add_json(q)
    q.set_defaults(func=_cmd_compare)

    for field in ("name", "note"):
        q = rs.add_parser(field, help=f"set a run's {field} (shown in lists, tables and comparisons); '' clears it")
        q.add_argument("run", help="a run id or run folder")
        q.add_argument("text", help=f"the {field}")
        add_json(q)
        q.set_defaults(func=_cmd_notes, field=field)

    q = rs.add_parser("report", help="write experiments/<run>/report.html and print its path")
    q.add_argument("run", help="a run id or run folder")
    q.add_argument("--projection", choices=("pca", "tsne"), default="pca", help="embedding-space projection")
    q.add_argument("--no-search", action="store_true",
                   help="leave out the search before/after section (by default an embeddings run's report ranks "
                        "the workspace's library with the backbone and with the run's head)")
    add_json(q)
    q.set_defaults(func=_cmd_report)


def _experiments(args: argparse.Namespace) -> Path:
    """The experiments folder: ``--experiments``, else the workspace's (never the current folder's)."""
    from pathlib import Path

    return Path(args.experiments) if args.experiments is not None else workspace_of(args).experiments


def _cmd_list(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.experiments import HEADLINE_METRICS, runs_table
    from workbench.runs import FINISHED_HEADING, STARTED_HEADING, read_run_notes, started_text

    root = _experiments(args)
    ws = workspace_of(args)
    if args.experiments is None and not root.is_dir() and not ws.db.is_file():
        raise NoLibraryError(f"{missing_library_said(args)} (and no runs under {root})")
    df = runs_table(root, kind=args.kind)
    base = ["run_id", "kind", "created", "backbone", "tracks"]
    metric_cols = [c for c in HEADLINE_METRICS if c in df.columns]
    if args.json:
        params = [c for c in df.columns if c not in base and c not in metric_cols]
        out = []
        for _, row in df.iterrows():
            rec: dict[str, Any] = {c: row[c] for c in base}
            rec["started"] = rec["created"]  # the human table's 'started'; 'created' is kept for older scripts
            rec["finished"] = _finished(root, row["run_id"])  # the time in the run id
            rec["path"] = str(root / str(row["run_id"]))
            rec.update(read_run_notes(root / str(row["run_id"])))
            rec["metrics"] = {c: row[c] for c in metric_cols if row[c] == row[c] and row[c] is not None}
            if args.params:
                rec["params"] = {c: row[c] for c in params}
            out.append(rec)
        print_json(out)
        return 0
    if df.empty:
        print(f"no runs under {root} yet")
        return 0
    if not args.params:  # the run, what it learned from, and its headline metrics; --params for the config
        df = df[[c for c in (*base, *HEADLINE_METRICS) if c in df.columns]]
    df = df.rename(columns={"created": STARTED_HEADING})  # run.json's created_at is the job's start, not the run id's
    # "2026-12-07 01:34:05", as the runs view shows it, with the seconds: runs a minute apart are told apart
    df[STARTED_HEADING] = [started_text(t, seconds=True) for t in df[STARTED_HEADING]]
    # the run id's time is when the run was written (its job's end): shown beside the start the rows are sorted by,
    # so that an id that reads later above an earlier one is explained by the table itself
    df.insert(df.columns.get_loc(STARTED_HEADING) + 1, FINISHED_HEADING,
              [started_text(_finished(root, r), seconds=True) for r in df["run_id"]])
    names = [read_run_notes(root / str(r))["name"] for r in df["run_id"]]
    if any(names):  # no run named yet: no empty column
        df.insert(1, "name", names)
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.float_format", "{:.4f}".format):
        print(df.to_string(index=False, na_rep="-"))  # '-': a metric this kind of run does not have; 4 decimals, as
        # `runs compare`, `runs table` and the notebooks' runs table write a score
    if (df["kind"] == "sections").any() and {"accuracy", "macro_f1"} & set(df.columns):
        print(SECTIONS_SCORED)
    return 0


#: What `runs list` says under a sections run's accuracy and macro_f1 (the gates and `suggest` read other figures).
SECTIONS_SCORED = ("sections runs' accuracy and macro_f1: the unsmoothed windows; the gates and `suggest` judge the "
                   "smoothed sections (`runs compare RUN` and the report give both)")


def _finished(root: Path, run_id: object) -> str | None:
    """When run ``run_id`` under ``root`` was written (``run.json``'s ``finished_at``, ISO UTC): its id's time."""
    from workbench.runs import load_run

    return load_run(root / str(run_id)).info.get("finished_at")


def _every_kind_records(runs: list[Any], names: Any, recorded: Any) -> list[bool]:
    """For each of ``names``, whether a run of every kind among ``runs`` has it (a value of None or NaN counts: the
    run records the key, it just has no value for it; a key no run of some kind has is that other kind's own).

    Parameters
    ----------
    runs : list of Run
    names : iterable of str
        Parameter or metric names (a comparison table's index).
    recorded : callable
        ``recorded(run) -> dict`` of the run's names (:func:`~workbench.experiments.run_params`,
        :func:`~workbench.experiments.scalar_metrics`).
    """
    by_kind: dict[str, set[str]] = {}
    for r in runs:
        by_kind.setdefault(r.kind, set()).update(recorded(r))
    shared = set.intersection(*by_kind.values())
    return [name in shared for name in names]


def _cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.experiments import compare, run_params, scalar_metrics
    from workbench.report import html as H

    c = compare(args.runs, root=_experiments(args), differences_only=not args.all, baseline=args.baseline)
    if args.json:
        print_json(compare_record(c))
        return 0
    kinds = sorted({r.kind for r in c.runs})
    params, metrics = c.params, c.metrics
    if len(kinds) > 1:  # a sections run's labels and an embeddings run's classes read as one "label counts" diff
        print(f"note: these runs are of different kinds ({', '.join(kinds)}): their parameters, metrics and data "
              "hardly compare; compare runs of one kind (`workbench runs list --kind sections`)")
        if not args.all:  # each kind's own rows ("-" in the other runs) were ~250 lines of one column
            params = params[_every_kind_records(c.runs, params.index, run_params)]
            metrics = metrics[_every_kind_records(c.runs, metrics.index, scalar_metrics)]
            print(f"left out: {len(c.params) - len(params)} parameters and {len(c.metrics) - len(metrics)} metrics "
                  "that only one kind of run records (--all shows them, --json has every one)")
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.max_colwidth", 40):
        one = len(c.runs) < 2  # nothing to differ from: every parameter, no delta
        print("parameters" + (" (one run: every one; name a second run to see what differs)" if one else
                              " (differences only; --all for every one)" if c.differences_only else "")
              + "; -: not set in that run:")
        shown_params = params.where(params.notna(), "-")  # as the metrics below and `runs list` write it, not None
        print(shown_params.to_string() if len(params) else "  (no differences)")
        print()
        best = c.best.loc[metrics.index]
        counts = c.counts  # as integers: "+3", not "+3.0000"
        shown = pd.DataFrame({col: [("-" if v != v else H.number(v, count=m in counts)) for m, v in values.items()]
                              for col, values in metrics.items()}, index=metrics.index)  # as `runs list` writes it
        shown = shown.where(~best, shown + " *") if len(shown) else shown
        for col, d in c.deltas.loc[metrics.index].items():
            if col != c.baseline:
                shown[f"Δ {col}"] = [("" if v != v else H.number(v, signed=True, count=m in counts)) for m, v in d.items()]
        print("metrics (-: not recorded):" if one else
              f"metrics (* best, only where higher or lower is known to be better; -: not recorded; Δ: minus the "
              f"baseline {c.baseline}):")
        print(shown.to_string() if len(shown) else "  (none recorded)" if len(c.metrics) == len(metrics) else
              "  (none that every run records)")
    for d in c.data_diffs:
        print()
        print(d.summary())
    delta = c.confusion_delta
    if delta is not None:
        print()
        print(f"confusion matrix change (row rates, {c.confusion_other} minus the baseline {c.baseline}):")
        print(delta.round(2).to_string())
    return 0


def compare_record(c: Comparison) -> dict[str, Any]:
    """A :class:`~workbench.experiments.Comparison` as ``workbench runs compare --json`` prints it.

    Parameters
    ----------
    c : Comparison
        From :func:`workbench.experiments.compare`.

    Returns
    -------
    dict
        ``runs``, ``baseline``, ``names`` ({run: name}), ``differences_only``, ``params`` and ``metrics``
        ({name: {run: value}}), ``deltas`` ({name: {run: value minus the baseline's}}), ``best``
        ({metric: [runs]}, only metrics with a direction), ``data_diffs`` (earlier run to later) and
        ``confusion_delta`` (None when not comparable).
    """
    import dataclasses

    metrics, best = c.metrics, c.best
    delta = c.confusion_delta
    return {
        "runs": c.run_ids,
        "baseline": c.baseline,
        "names": {r.run_id: r.notes["name"] for r in c.runs},
        "differences_only": c.differences_only,
        "params": {str(name): {run: row[run] for run in c.run_ids} for name, row in c.params.iterrows()},
        "metrics": {str(name): {run: row[run] for run in c.run_ids} for name, row in metrics.iterrows()},
        "deltas": {str(name): {run: (None if row[run] != row[run] else float(row[run])) for run in c.run_ids}
                   for name, row in c.deltas.iterrows()},
        "best": {str(name): [run for run in c.run_ids if bool(row[run])] for name, row in best.iterrows()
                 if bool(row.any())},
        "data_diffs": [dataclasses.asdict(d) for d in c.data_diffs],
        "confusion_delta": None if delta is None else {str(i): {str(j): float(v) for j, v in r.items()}
                                                       for i, r in delta.iterrows()},
    }


def _cmd_report(args: argparse.Namespace) -> int:
    from workbench.commands import open_library
    from workbench.report import report

    db = workspace_of(args).db
    bar = not (args.json or getattr(args, "quiet", False))
    if args.no_search or not db.is_file():  # no library to search: the section says it was not recorded
        path = report(args.run, root=_experiments(args), projection=args.projection, progress=bar)
    else:
        with open_library(args) as lib:  # the search before/after section needs the library the run was trained on
            path = report(args.run, root=_experiments(args), projection=args.projection, library=lib, progress=bar)
    if not args.json:
        print(path)
        return 0
    folder = path.parent
    print_json({"run_id": folder.name, "report": path, "evaluation": folder / "evaluation.json",
                "plots": sorted((folder / "plots").glob("*.png"))})
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.report import html as H
    from workbench.report.runs_view import runs_view
    from workbench.runs import STARTED_HEADING, started_text

    root = _experiments(args)
    view = runs_view(root, kind=args.kind, metrics=args.metric, params=args.param, baseline=args.baseline,
                     sort_by=args.sort, descending=False if args.ascending else None, filter=args.filter)
    if args.json:
        print_json(view.to_json())
        return 0
    if not view.runs:
        print(f"no runs under {root}" + (f" match {args.filter!r}" if args.filter else " yet"))
        return 0
    df = view.frame.drop(columns=["note", "report"] + ([] if view.frame["name"].astype(bool).any() else ["name"]))
    df = df.rename(columns={"created": STARTED_HEADING})  # as `runs list` heads the job's start
    df[STARTED_HEADING] = df[STARTED_HEADING].map(started_text)  # "2026-12-07 01:34", not the ISO value --json keeps
    best = view.best
    for m in view.metrics:  # scores with 4 decimals, counts as integers, as the notebooks' runs table
        df[m] = [H.number(v, count=m in view.counts) + (" *" if rid in best.get(m, ()) else "")
                 if v == v and v is not None else "-" for rid, v in zip(df["run_id"], df[m], strict=True)]
        if view.baseline is not None:  # the baseline's own Δ says "baseline", not "+0.0000"
            df[f"Δ {m}"] = ["baseline" if rid == view.baseline else "-" if v is None or v != v
                            else H.number(v, signed=True, count=m in view.counts)
                            for rid, v in zip(df["run_id"], df[f"Δ {m}"], strict=True)]
    with pd.option_context("display.max_columns", None, "display.width", 220, "display.float_format", "{:.4f}".format):
        print(df.to_string(index=False, na_rep="-"))  # '-': not recorded, as `runs list` writes it
    print("* best (only metrics where higher or lower is known to be better); -: not recorded"
          + (f"; Δ: minus the baseline {view.baseline}" if view.baseline else ""))
    return 0


def _cmd_notes(args: argparse.Namespace) -> int:
    from workbench.runs import set_run_notes

    notes = set_run_notes(args.run, root=_experiments(args), **{args.field: args.text})
    if args.json:
        print_json({"run": args.run, **notes})
    else:
        print(f"{args.run}: {args.field} = {notes[args.field]!r}")
    return 0
