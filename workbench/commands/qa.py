"""``workbench qa [--json] [--all] [--force]``, ``workbench qa keep|unkeep TRACK...``: tracks that need review."""

from __future__ import annotations

import argparse
import os
from typing import Any

from workbench.commands import add_json, agree, count_of, open_library, print_json


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``qa`` and its actions.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()`` object.
    """
    p = sub.add_parser("qa", help="QA flags: measure every track (silence, clipping, DC, stereo, bandwidth, "
                                  "duplicates) and list those that need review")
    p.add_argument("--all", action="store_true", help="list every track, flagged or not")
    p.add_argument("--force", action="store_true", help="measure again even when measures are stored")
    add_json(p)
    p.set_defaults(func=_cmd_run)
    qs = p.add_subparsers(dest="qa_command", metavar="ACTION")
    for name, help_ in (("keep", "keep flagged tracks in training sets and out of the review list"),
                        ("unkeep", "undo `qa keep`")):
        q = qs.add_parser(name, help=help_)
        q.add_argument("tracks", nargs="+", metavar="TRACK", help="track ids, content hashes (8+ digits) or paths")
        if name == "keep":
            q.add_argument("--note", default=None, help="why (stored with the decision)")
        add_json(q)
        q.set_defaults(func=_cmd_keep if name == "keep" else _cmd_unkeep)


def _cmd_run(args: argparse.Namespace) -> int:
    from workbench.qa import RULES, qa_library, qa_report

    with open_library(args) as lib:
        summary = qa_library(lib, force=args.force, progress=not (args.json or args.quiet))
        report = qa_report(lib)
        names = {t.id: t.name for t in lib.tracks()}  # the name every other listing shows, not the file's
    flagged = [r for r in report if r.flags]
    doc: dict[str, Any] = {
        "summary": {**summary.to_dict(), "tracks": len(report), "flagged": len(flagged),
                    "needs_review": sum(r.needs_review for r in report),
                    "excluded_from_training": sum(r.excluded for r in report),
                    "not_analysed": sum(not r.analysed for r in report)},
        "rules": [{"name": r.name, "measure": r.measure, "threshold": r.threshold, "unit": r.unit,
                   "flag_when": "above" if r.above else "below", "excludes_from_training": r.excludes}
                  for r in RULES],
        "tracks": [{**r.to_dict(), "name": names.get(r.track_id)} for r in (report if args.all else flagged)],
    }
    if args.json:
        print_json(doc)
        return 0
    s = doc["summary"]
    print(f"qa: {len(summary.measured)} measured, {len(summary.reused)} reused, {len(summary.failed)} failed; "
          f"{s['flagged']} of {count_of(s['tracks'], 'track')} flagged, "
          f"{s['needs_review']} {agree(s['needs_review'], 'needs', 'need')} review, "
          f"{s['excluded_from_training']} left out of training")
    for path, reason in summary.failed:
        print(f"  failed: {path}: {reason}")
    if s["not_analysed"]:
        print(f"  {count_of(s['not_analysed'], 'track')} not analysed: `workbench analyze` adds the no_beat, unsteady_tempo "
              "and low_key_confidence checks")
    for r in report if args.all else flagged:
        state = review_state(r)
        print(f"{r.track_id:>5}  {names.get(r.track_id) or os.path.basename(r.path)}  [{state}]")
        for f in r.flags:
            print(f"         {f}")
    if flagged:
        print("`workbench qa keep TRACK` keeps a track in training sets despite its flags")
    return 0


def review_state(row: Any) -> str:
    """What ``qa`` prints beside a track: ``review`` exactly for the tracks its summary counts as needing review.

    Parameters
    ----------
    row : workbench.qa.library_qa.TrackQa
        A row of :func:`workbench.qa.qa_report` (a ``TrackQa``).

    Returns
    -------
    str
        ``"kept"``, ``"review, left out of training"``, ``"review"``, ``"not measured"`` or ``"no flags"``.
    """
    if row.kept:
        return "kept"
    if row.excluded:
        return "review, left out of training"
    if row.needs_review:
        return "review"
    return "no flags" if row.measured else "not measured"


def _cmd_keep(args: argparse.Namespace) -> int:
    from workbench.qa import keep_track

    with open_library(args) as lib:
        kept = [keep_track(lib, t, note=args.note) for t in args.tracks]
    if args.json:
        print_json({"kept": [t.id for t in kept]})
    else:
        for t in kept:
            print(f"kept track {t.id} ({t.name})")
    return 0


def _cmd_unkeep(args: argparse.Namespace) -> int:
    from workbench.qa import unkeep_track

    with open_library(args) as lib:
        undone = {str(t): unkeep_track(lib, t) for t in args.tracks}
    if args.json:
        print_json({"unkept": [k for k, v in undone.items() if v], "were_not_kept": [k for k, v in undone.items()
                                                                                      if not v]})
    else:
        for k, v in undone.items():
            print(f"track {k}: " + ("no longer kept" if v else "was not kept"))
    return 0
