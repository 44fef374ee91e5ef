"""``workbench crates list|show|add|remove|import-folders``: the user's named groups of tracks
(:class:`workbench.crates.Crates`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from workbench.commands import add_json, count_of, open_library, print_json

if TYPE_CHECKING:
    from workbench.crates import Crates


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``crates`` and its subcommands.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()`` object.
    """
    p = sub.add_parser("crates", help="crates: your own named groups of tracks (list, show, add, remove, "
                                      "import-folders)")
    cs = p.add_subparsers(dest="crates_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    q = cs.add_parser("list", help="every crate with its number of tracks")
    add_json(q)
    q.set_defaults(func=_cmd_list)

    q = cs.add_parser("show", help="the tracks of one crate")
    q.add_argument("name")
    add_json(q)
    q.set_defaults(func=_cmd_show)

    q = cs.add_parser("add", help="put tracks into a crate (created when it does not exist)")
    q.add_argument("name")
    q.add_argument("tracks", nargs="+", metavar="TRACK", help="track ids, content hashes (8+ digits) or paths")
    add_json(q)
    q.set_defaults(func=_cmd_add)

    q = cs.add_parser("remove", help="take tracks out of a crate, or delete the crate (its tracks stay in the "
                                     "library) when no track is given")
    q.add_argument("name")
    q.add_argument("tracks", nargs="*", metavar="TRACK", help="track ids, content hashes or paths")
    add_json(q)
    q.set_defaults(func=_cmd_remove)

    q = cs.add_parser("import-folders", help="one crate per sub-folder of the scanned folders")
    q.add_argument("--prefix", default="", help="put this before every crate name (e.g. 'folder:')")
    add_json(q)
    q.set_defaults(func=_cmd_import_folders)


def _crate_records(crates: Crates) -> list[dict[str, Any]]:
    return [{"name": c.name, "n_tracks": c.n_tracks, "created_at": c.created_at} for c in crates.list()]


def _cmd_list(args: argparse.Namespace) -> int:
    from workbench.crates import Crates
    from workbench.runs import started_text

    with open_library(args) as lib:
        records = _crate_records(Crates(lib))
    if args.json:
        print_json(records)
        return 0
    if not records:
        print("no crates yet: `workbench crates add NAME TRACK...` or `workbench crates import-folders`")
        return 0
    width = max(len(r["name"]) for r in records)
    print(f"{'crate':{width}}  {'tracks':>6}  created (UTC)")
    for r in records:  # the time as `runs list` writes one; --json keeps ISO 8601
        print(f"{r['name']:{width}}  {r['n_tracks']:>6}  {started_text(r['created_at']) or '-'}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from workbench.commands.library import track_record
    from workbench.crates import Crates

    with open_library(args) as lib:
        crates = Crates(lib)
        membership = crates.membership()
        records = [track_record(t, membership.get(t.id, [])) for t in crates.tracks(args.name)]
    if args.json:
        print_json(records)
        return 0
    print(f"{'id':>5}  {'dur s':>7}  name")  # the columns and their units, as `tracks` heads them
    for r in records:
        print(f"{r['id']:>5}  {r['duration_s']:7.1f}  {r['name']}")
    print(f"{count_of(len(records), 'track')} in crate {args.name!r}")
    return 0


def _cmd_add(args: argparse.Namespace) -> int:
    from workbench.crates import Crates

    with open_library(args) as lib:
        crates = Crates(lib)
        added = crates.add(args.name, args.tracks)
        crate = crates.get(args.name)
    if args.json:
        print_json({"name": crate.name, "added": added, "n_tracks": crate.n_tracks})
    else:
        print(f"crate {crate.name!r}: {added} added, {count_of(crate.n_tracks, 'track')}")
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    from workbench.crates import Crates

    with open_library(args) as lib:
        crates = Crates(lib)
        removed = crates.remove(args.name, args.tracks if args.tracks else None)
        deleted = not args.tracks
        left = None if deleted else crates.get(args.name).n_tracks
    if args.json:
        print_json({"name": args.name.strip(), "removed": removed, "deleted": deleted, "n_tracks": left})
    elif deleted:
        print(f"crate {args.name!r} deleted ({count_of(removed, 'track')} left it; they stay in the library)")
    else:
        print(f"crate {args.name!r}: {removed} removed, {count_of(left, 'track')}")
    return 0


def _cmd_import_folders(args: argparse.Namespace) -> int:
    from workbench.crates import Crates

    with open_library(args) as lib:
        crates = Crates(lib)
        added = crates.import_folders(prefix=args.prefix)
        sizes = {c.name: c.n_tracks for c in crates.list()}
    if args.json:
        print_json([{"name": name, "added": n, "n_tracks": sizes.get(name, 0)} for name, n in added.items()])
        return 0
    if not added:
        print("no track sits in a sub-folder of a scanned folder: no crates made")
    for name, n in added.items():
        size = sizes.get(name, 0)
        print(f"crate {name!r}: {n} added, {count_of(size, 'track')}")
    return 0
