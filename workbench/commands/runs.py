"""``workbench runs list|compare|report``: training runs under ``experiments/``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``runs`` and its subcommands."""
    p = sub.add_parser("runs", help="list, compare and report training runs (experiments/)")
    p.add_argument("--experiments", default=None, metavar="DIR",
                   help="the experiments folder (default: <home>/experiments)")
    rs = p.add_subparsers(dest="runs_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    q = rs.add_parser("list", help="runs with their key params and headline metrics")
    q.add_argument("--kind", choices=("embeddings", "sections"), default=None)
    q.add_argument("--params", action="store_true", help="also every config parameter (a wide table)")
    q.set_defaults(func=_cmd_list)

    q = rs.add_parser("compare", help="params (differences only unless --all), metrics with the best marked, "
                                      "data changes")
    q.add_argument("runs", nargs="+", metavar="RUN", help="run ids or run folders (the first is the reference)")
    q.add_argument("--all", action="store_true", help="show every parameter, not only the differences")
    q.set_defaults(func=_cmd_compare)

    q = rs.add_parser("report", help="write experiments/<run>/report.html and print its path")
    q.add_argument("run", help="a run id or run folder")
    q.add_argument("--projection", choices=("pca", "tsne"), default="pca", help="embedding-space projection")
    q.set_defaults(func=_cmd_report)


def _cmd_list(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.experiments import runs_table

    df = runs_table(args.experiments, kind=args.kind)
    if df.empty:
        print("no runs under experiments/ yet")
        return 0
    from workbench.experiments import HEADLINE_METRICS

    if not args.params:  # the run, what it learned from, and its headline metrics; --params for the config
        df = df[[c for c in ("run_id", "kind", "created", "backbone", "tracks", *HEADLINE_METRICS) if c in df.columns]]
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.float_format", "{:.3f}".format):
        print(df.to_string(index=False))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.experiments import compare

    c = compare(args.runs, root=args.experiments, differences_only=not args.all)
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


def _cmd_report(args: argparse.Namespace) -> int:
    from workbench.report import report

    print(report(args.run, root=args.experiments, projection=args.projection))
    return 0
