"""The ``workbench`` command line: the same package functions the notebooks call."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from workbench import __version__
from workbench.errors import WorkbenchError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="A research and training workbench for music audio, on your own library.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("--db", default=None, help="the library database (default: data/workbench.db)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="synthesize the demo library and run the main job on it")
    p.add_argument("--tracks", type=int, default=30,
                   help="number of demo tracks (default 30: five per style; training needs 25 with --unlabeled 3, "
                        "10 labelled sections per class)")
    p.add_argument("--unlabeled", type=int, default=3, help="tracks left unlabelled for suggestions (default 3)")
    p.add_argument("--no-train", action="store_true", help="stop after analysis, embedding and search")
    p.add_argument("--no-export", action="store_true", help="skip the Core ML export and registry")
    p.add_argument("--seed", type=int, default=0, help="synthesis seed (default 0)")
    p.add_argument("--folder", default=None, help="where the demo audio goes (default data/demo)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("scan", help="add the audio files under a folder to the library")
    p.add_argument("folder", help="a folder of audio files, scanned recursively")
    p.set_defaults(func=_cmd_scan)

    p = sub.add_parser("tracks", help="list the tracks in the library")
    p.add_argument("--missing", action="store_true", help="include tracks whose file has gone")
    p.set_defaults(func=_cmd_tracks)

    p = sub.add_parser("analyze", help="beats, BPM, key, energy and loudness of every track (stored)")
    p.add_argument("--prior", default=None, metavar="MIN-MAX[@CENTRE]",
                   help="expected tempo range, e.g. 128-150@139 (trance) or 'trance'; default 70-185")
    p.add_argument("--force", action="store_true", help="recompute even where a stored result is current")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("similar", help="tracks similar to one (by id, hash or path, or an audio file)")
    p.add_argument("track", help="a library track's id, content hash or path, or any audio file")
    p.add_argument("-k", type=int, default=10, help="how many (default 10)")
    p.add_argument("--min-score", type=float, default=None, help="drop matches scoring below this (0..1)")
    p.add_argument("--weights", default=None, metavar="V,T,K,E",
                   help="weights of vibe, tempo, key, energy (default 0.5,0.2,0.2,0.1)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the index from scratch")
    p.set_defaults(func=_cmd_similar)

    p = sub.add_parser("embed", help="embed every track (OpenL3 when its weights are found, else the feature "
                                     "frontend); cached by content hash")
    p.add_argument("--backbone", choices=("auto", "openl3", "features"), default="auto")
    p.add_argument("--weights", default=None, help="an OpenL3 .h5 weight file (default: models/openl3/ or "
                                                     "$WORKBENCH_OPENL3_WEIGHTS)")
    p.add_argument("--hop", type=float, default=0.5, help="OpenL3 hop in seconds (default 0.5)")
    p.add_argument("--size", type=int, default=512, choices=(512, 6144), help="OpenL3 embedding size")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS|local",
                   help="run on a Dask cluster: a scheduler address, or 'local' for a local cluster")
    p.add_argument("--workers", type=int, default=2, help="workers of a local Dask cluster (default 2)")
    p.set_defaults(func=_cmd_embed)

    p = sub.add_parser("info", help="what the header of an audio file says")
    p.add_argument("path")
    p.set_defaults(func=_cmd_info)

    from workbench.commands import register_all

    register_all(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 a workbench error, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from workbench.pipeline import run_demo

    result = run_demo(
        demo_folder=args.folder, db_path=args.db, n_tracks=args.tracks, seed=args.seed, n_unlabeled=args.unlabeled,
        train=not args.no_train, export=not args.no_export, progress=not args.quiet,
    )
    print(result.summary())
    return 0


def _cmd_scan(args: argparse.Namespace) -> int:
    from workbench.library import Library

    with Library(args.db) as lib:
        summary = lib.scan(args.folder, progress=not args.quiet)
        print(summary)
        print(f"library {lib.path}: {len(lib)} tracks")
    return 0


def _cmd_tracks(args: argparse.Namespace) -> int:
    from workbench.library import Library

    with Library(args.db) as lib:
        tracks = lib.tracks(include_missing=args.missing)
        print(f"{'id':>5}  {'dur':>7}  {'rate':>6}  {'ch':>2}  {'hash':12}  name")
        for t in tracks:
            flag = "  (missing)" if t.missing_since else ""
            print(f"{t.id:>5}  {t.duration_s:7.1f}  {t.sample_rate_hz:>6}  {t.channels:>2}  "
                  f"{t.content_hash[:12]}  {t.name}{flag}")
        print(f"{len(tracks)} tracks in {lib.path}")
    return 0


def parse_prior(text: str | None):  # -> BpmPrior | None
    """``"trance"`` or ``"MIN-MAX"`` or ``"MIN-MAX@CENTRE"`` as a :class:`BpmPrior`."""
    from workbench.analysis import BpmPrior
    from workbench.errors import ParameterError

    if text is None:
        return None
    if text.strip().lower() == "trance":
        return BpmPrior.trance()
    try:
        span, _, centre = text.partition("@")
        lo, hi = (float(v) for v in span.split("-"))
        return BpmPrior(min_bpm=lo, max_bpm=hi, center_bpm=float(centre) if centre else (lo * hi) ** 0.5)
    except ValueError as exc:
        if isinstance(exc, ParameterError):
            raise
        raise ParameterError(f"--prior must be 'trance', 'MIN-MAX' or 'MIN-MAX@CENTRE' in BPM; got {text!r}") from exc


def _cmd_analyze(args: argparse.Namespace) -> int:
    from workbench.analysis import analyze_library, stored_analysis
    from workbench.library import Library

    prior = parse_prior(args.prior)
    with Library(args.db) as lib:
        summary = analyze_library(lib, bpm_prior=prior, force=args.force, progress=not args.quiet)
        print(summary)
        print(f"{'id':>5}  {'bpm':>6}  {'key':>9}  {'cam':>3}  {'conf':>4}  {'nrg':>3}  {'LUFS':>6}  name")
        for t in lib.tracks():
            a = stored_analysis(lib, t, bpm_prior=prior)
            if a is None:
                continue
            bpm = f"{a.bpm:6.1f}" if a.bpm else "  none"
            print(f"{t.id:>5}  {bpm}  {a.key:>9}  {a.camelot:>3}  {a.key_confidence:4.2f}  {a.energy:>3}  "
                  f"{a.loudness_lufs:6.1f}  {t.name}")
    return 1 if summary.failed and not (summary.analysed or summary.reused) else 0


def _cmd_similar(args: argparse.Namespace) -> int:
    from workbench.errors import ParameterError
    from workbench.library import Library
    from workbench.search import LibrarySearch

    weights = None
    if args.weights is not None:
        try:
            v, t, k, e = (float(x) for x in args.weights.split(","))
        except ValueError as exc:
            raise ParameterError(f"--weights must be four numbers V,T,K,E; got {args.weights!r}") from exc
        weights = {"vibe": v, "tempo": t, "key": k, "energy": e}
    with Library(args.db) as lib:
        search = LibrarySearch(lib, progress=not args.quiet)
        print(f"backbone: {search.backbone_said}")
        search.rebuild() if args.rebuild else search.update()
        results = search.similar(args.track, k=args.k, min_score=args.min_score, weights=weights)
        for r in results:
            print(f"{r.match.score:5.2f}  {r.track.id:>5}  {r.track.name:40.40}  {r.match.explanation}")
        if search.skipped:
            print(f"({len(search.skipped)} tracks without a steady beat are not searched)")
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from workbench.embed.batch import default_backbone, embed_library
    from workbench.embed.features import FeatureFrontend
    from workbench.library import Library

    if args.backbone == "features":
        backbone, said = FeatureFrontend(), "feature frontend (asked for), not OpenL3"
    elif args.backbone == "openl3" or args.weights is not None:
        from workbench.embed.openl3 import OpenL3, OpenL3Backbone

        model = OpenL3.from_weights(args.weights, embedding_size=args.size)
        backbone, said = OpenL3Backbone(model, hop_s=args.hop), f"OpenL3 {model.name}"
    else:
        backbone, said = default_backbone()
    print(f"backbone: {said}")
    with Library(args.db) as lib:
        if args.scheduler is not None:
            from workbench.embed.distributed import embed_library_distributed

            address = None if args.scheduler == "local" else args.scheduler
            summary = embed_library_distributed(lib, backbone=backbone, scheduler=address, n_workers=args.workers,
                                                progress=not args.quiet)
        else:
            summary = embed_library(lib, backbone=backbone, progress=not args.quiet)
        print(summary)
    return 1 if summary.failed and not (summary.embedded or summary.cached) else 0


def _cmd_info(args: argparse.Namespace) -> int:
    from workbench.audio import info

    i = info(args.path)
    print(f"{i.path}\n  {i.format}/{i.subtype}, {i.sample_rate_hz} Hz, {i.channels} ch, "
          f"{i.frames} frames, {i.duration_s:.2f} s")
    return 0
