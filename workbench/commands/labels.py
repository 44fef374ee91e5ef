"""``workbench labels list|export|import``: section labels (:class:`workbench.labels.Labels`) from the
command line. Import writes a backup of every stored label first, and is all or nothing."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any

from workbench.commands import add_json, count_of, open_library, print_json

if TYPE_CHECKING:
    from workbench.labels import Label

_FORMATS = ("json", "csv", "jams")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``labels`` and its subcommands.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()`` object.
    """
    p = sub.add_parser("labels", help="section labels: list, export to and import from JSON, CSV or JAMS")
    ls = p.add_subparsers(dest="labels_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    q = ls.add_parser("list", help="the labels of one track, or of every track")
    q.add_argument("track", nargs="?", default=None, help="a track id, content hash or path (default: all)")
    add_json(q)
    q.set_defaults(func=_cmd_list)

    q = ls.add_parser("export", help="write labels to a file (format from the suffix unless --format)")
    q.add_argument("file", help="a .json, .csv or .jams file (or a folder, with --format jams: one file per track)")
    q.add_argument("--format", choices=_FORMATS, default=None)
    q.add_argument("--track", action="append", default=None, metavar="TRACK",
                   help="only this track's labels (repeatable; default every labelled track)")
    add_json(q)
    q.set_defaults(func=_cmd_export)

    q = ls.add_parser("import", help="add the labels of a file, all or nothing, after a backup of the stored ones")
    q.add_argument("file", help="a .json, .csv or .jams file, or a folder of .jams files; a .tsv or .txt file "
                               "is read as a label table too (a spreadsheet's tab-separated 'Unicode Text')")
    q.add_argument("--format", choices=_FORMATS, default=None)
    q.add_argument("--overlap", choices=("refuse", "replace", "split", "skip"), default="refuse",
                   help="when an imported label overlaps a stored one (default refuse: nothing is imported)")
    add_json(q)
    q.set_defaults(func=_cmd_import)


def label_record(lab: Label, track_name: str | None = None) -> dict[str, Any]:
    """One label as ``workbench labels list --json`` prints it.

    Parameters
    ----------
    lab : Label
        The label (all its dataclass fields are written).
    track_name : str or None
        The name of its track, if known.

    Returns
    -------
    dict
    """
    return {**dataclasses.asdict(lab), "track_name": track_name}


def _cmd_list(args: argparse.Namespace) -> int:
    from workbench.labels.api import Labels

    with open_library(args) as lib:
        labels = Labels(lib)
        found = labels.for_track(args.track) if args.track is not None else labels.all()
        names = {t.id: t.name for t in lib.tracks(include_missing=True)}
        records = [label_record(lab, names.get(lab.track_id)) for lab in found]
    if args.json:
        print_json(records)
        return 0
    if not records:  # not an empty table under a header
        print((f"no labels on track {args.track}" if args.track is not None else "no labels yet")
              + ": label sections in the labeler (notebooks/02_label_sections.ipynb) or import them "
                "(`workbench labels import FILE`)")
        return 0
    print(f"{'id':>5}  {'track':>5}  {'label':7}  {'beats':>9}  {'seconds':>13}  {'source':6}  track name")
    for r in records:
        beats = f"{r['start_beat']}-{r['end_beat']}"
        secs = f"{r['start_s']:.1f}-{r['end_s']:.1f}"
        print(f"{r['id']:>5}  {r['track_id']:>5}  {r['label']:7}  {beats:>9}  {secs:>13}  {r['source']:6}  "
              f"{r['track_name'] or ''}")
    print(count_of(len(records), "label") + (f" on track {args.track}" if args.track is not None else ""))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from workbench.labels.api import Labels

    with open_library(args) as lib:
        labels = Labels(lib)
        written = labels.export(args.file, format=args.format, tracks=args.track)
        n = sum(len(labels.for_track(t)) for t in args.track) if args.track else len(labels)
    if args.json:
        print_json({"path": str(written), "labels": n})
    else:
        print(f"{count_of(n, 'label')} written to {written}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from workbench.labels.api import Labels

    with open_library(args) as lib:
        summary = Labels(lib).import_(args.file, format=args.format, overlap=args.overlap)
    if args.json:
        print_json({"path": str(summary.path), "added": summary.n_added, "replaced": summary.replaced,
                    "skipped": [{"where": w, "reason": r} for w, r in summary.skipped],
                    "changed": summary.backup_path is not None,
                    "backup_path": None if summary.backup_path is None else str(summary.backup_path)})
    else:
        print(summary)
    return 0
