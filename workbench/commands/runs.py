"""``workbench runs list|compare|report``: training runs under ``experiments/``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from workbench.commands import NoLibraryError, add_json, print_json, workspace_of

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

    q = rs.add_parser("list", help="runs with their key params and headline metrics")
    q.add_argument("--kind", choices=("embeddings", "sections"), default=None)
    q.add_argument("--params", action="store_true", help="also every config parameter (a wide table)")
    add_json(q)
    q.set_defaults(func=_cmd_list)

    q = rs.add_parser("compare", help="params (differences only unless --all), metrics with the best marked, "
                                      "data changes")
    q.add_argument("runs", nargs="+", metavar="RUN", help="run ids or run folders (the first is the reference)")
    q.add_argument("--all", action="store_true", help="show every parameter, not only the differences")
    add_json(q)
    q.set_defaults(func=_cmd_compare)

    q = rs.add_parser("report", help="write experiments/<run>/report.html and print its path")
    q.add_argument("run", help="a run id or run folder")
    q.add_argument("--projection", choices=("pca", "tsne"), default="pca", help="embedding-space projection")
    q.add_argument("--no-search", action="store_true",
                   help="leave out the search before/after section (by default an embeddings run's report ranks "
                        "the workspace's library with the backbone and with the run's head)")
    q.set_defaults(func=_cmd_report)


def _experiments(args: argparse.Namespace) -> Path:
    """The experiments folder: ``--experiments``, else the workspace's (never the current folder's)."""
    from pathlib import Path

    return Path(args.experiments) if args.experiments is not None else workspace_of(args).experiments


def _cmd_list(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.experiments import HEADLINE_METRICS, runs_table

    root = _experiments(args)
    ws = workspace_of(args)
    if args.experiments is None and not root.is_dir() and not ws.db.is_file():
        raise NoLibraryError(f"no library at {ws.db}: run `workbench scan FOLDER` first (and no runs under {root}; "
                             "name another workspace with --home, --db or $WORKBENCH_HOME)")
    df = runs_table(root, kind=args.kind)
    base = ["run_id", "kind", "created", "backbone", "tracks"]
    metric_cols = [c for c in HEADLINE_METRICS if c in df.columns]
    if args.json:
        params = [c for c in df.columns if c not in base and c not in metric_cols]
        out = []
        for _, row in df.iterrows():
            rec: dict[str, Any] = {c: row[c] for c in base}
            rec["path"] = str(root / str(row["run_id"]))
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
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.float_format", "{:.3f}".format):
        print(df.to_string(index=False))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.experiments import compare

    c = compare(args.runs, root=_experiments(args), differences_only=not args.all)
    if args.json:
        print_json(compare_record(c))
        return 0
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.max_colwidth", 40):
        params = c.params
        print("parameters" + (" (differences only; --all for every one)" if c.differences_only else "") + ":")
        print(params.to_string() if len(params) else "  (no differences)")
        print()
        metrics = c.metrics
        best = c.best
        shown = metrics.map(lambda v: "not recorded" if v != v else f"{v:.4f}")
        shown = shown.where(~best, shown + " *")
        print("metrics (* best):")
        print(shown.to_string() if len(shown) else "  (none recorded)")
    for d in c.data_diffs:
        print()
        print(d.summary())
    delta = c.confusion_delta
    if delta is not None:
        print()
        print("confusion matrix change (row rates, last minus first):")
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
        ``runs``, ``differences_only``, ``params`` and ``metrics`` ({name: {run: value}}), ``best``
        ({metric: [runs]}), ``data_diffs`` and ``confusion_delta`` (None when not comparable).
    """
    import dataclasses

    metrics, best = c.metrics, c.best
    delta = c.confusion_delta
    return {
        "runs": c.run_ids,
        "differences_only": c.differences_only,
        "params": {str(name): {run: row[run] for run in c.run_ids} for name, row in c.params.iterrows()},
        "metrics": {str(name): {run: row[run] for run in c.run_ids} for name, row in metrics.iterrows()},
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
    if args.no_search or not db.is_file():  # no library to search: the section says it was not recorded
        print(report(args.run, root=_experiments(args), projection=args.projection))
        return 0
    with open_library(args) as lib:  # the search before/after section needs the library the run was trained on
        print(report(args.run, root=_experiments(args), projection=args.projection, library=lib))
    return 0
