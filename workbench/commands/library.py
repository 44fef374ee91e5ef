"""``workbench demo|scan|tracks|similar|embed|info``: the library, its search and the workspace."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from typing import TYPE_CHECKING, Any

from workbench.commands import add_json, agree, count_of, open_library, print_json, workspace_of
from workbench.wording import rounded_shares

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.library import Library, Track


def register(sub: argparse._SubParsersAction) -> None:
    """Add the library commands.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()`` object.
    """
    p = sub.add_parser("demo", help="synthesize the demo library and run the main job on it")
    p.add_argument("--tracks", type=int, default=30,
                   help="number of demo tracks (default 30: five per style; training needs 25 with --unlabeled 3, "
                        "10 labelled sections per class)")
    p.add_argument("--unlabeled", type=int, default=3, help="tracks left unlabelled for suggestions (default 3)")
    p.add_argument("--no-train", action="store_true", help="stop after analysis, embedding and search")
    p.add_argument("--no-export", action="store_true", help="skip the Core ML export and registry")
    p.add_argument("--seed", type=int, default=0, help="synthesis seed (default 0)")
    p.add_argument("--folder", default=None, help="where the demo audio goes (default <home>/data/demo)")
    p.add_argument("--backbone", default="auto", choices=("auto", "features", "openl3", "cnn"),
                   help="what the demo embeds and trains on (default auto: OpenL3 when its weights are found)")
    p.add_argument("--finetune-backbone", action="store_true",
                   help="train OpenL3's last 2 blocks with the head (lr 1e-5; needs --backbone openl3; slow without a GPU)")
    p.add_argument("--cross-generator-tracks", type=int, default=8,
                   help="tracks of a second, independent generator (the devset) rendered into <folder>/.cross-generator "
                        "and scored by the section model next to its baselines (default 8, at most 9)")
    p.add_argument("--no-cross-generator", action="store_true", help="skip the cross-generator set (same as 0 tracks)")
    add_json(p)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("scan", help="add the audio files under a folder to the library (creates the library)")
    p.add_argument("folder", help="a folder of audio files, scanned recursively")
    add_json(p)
    p.set_defaults(func=_cmd_scan)

    p = sub.add_parser("tracks", help="list the tracks in the library")
    p.add_argument("--missing", action="store_true", help="include tracks whose file has gone")
    add_json(p)
    p.set_defaults(func=_cmd_tracks)

    p = sub.add_parser("similar", help="tracks similar to one (by id, hash or path, or an audio file)")
    p.add_argument("track", help="a library track's id, content hash or path, or any audio file")
    p.add_argument("-k", type=int, default=10, help="how many (default 10)")
    p.add_argument("--min-score", type=float, default=None, help="drop matches scoring below this (0..1)")
    p.add_argument("--weights", default=None, metavar="V,T,K,E|learned|default",
                   help="weights of vibe, tempo, key, energy: four numbers, 'default' (0.5,0.2,0.2,0.1) or 'learned' "
                        "(fitted on your folders or crates, the model's training tracks only; saved beside the index)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the index from scratch")
    p.add_argument("--model", default=None, metavar="backbone|head|head@N|cnn|cnn@N",
                   help="the embedding model that ranks: the bare backbone, the active head or head version N; "
                        "cnn: a CNN trained with `train embeddings --backbone cnn` (the active embedding version when "
                        "it is one, else the newest such run), cnn@N: embedding version N "
                        "(default: the registry's active head when there is one, else the backbone; the active "
                        "embedding version instead when it is a CNN activated after the active head)")
    p.add_argument("--index", default="auto", choices=("auto", "exact", "pruned"),
                   help="how the index is searched, always exactly: every window scored, or only the tracks that "
                        "bounds cannot rule out (default auto: pruned from 2,000 tracks on)")
    p.add_argument("--unknown", default=None, choices=("drop", "expected"),
                   help="what a track's unknown tempo (no beat) or key (drums only) counts as: drop (default) leaves "
                        "it out and renormalises the other weights; expected counts it as the query's average "
                        "agreement with the library's tracks, so it cannot win on vibe alone")
    add_json(p)
    p.set_defaults(func=_cmd_similar)

    p = sub.add_parser("embed", help="embed every track (OpenL3 when its weights are found, else the feature "
                                     "frontend); cached by content hash")
    p.add_argument("--backbone", choices=("auto", "openl3", "features", "cnn"), default="auto",
                   help="cnn: the trainable CNN (weights from --weights, $WORKBENCH_CNN_WEIGHTS or the newest "
                        "`train embeddings --backbone cnn` run; one worker)")
    p.add_argument("--weights", default=None, help="an OpenL3 .h5 weight file (default: <home>/models/openl3/ or "
                                                     "$WORKBENCH_OPENL3_WEIGHTS)")
    p.add_argument("--hop", type=float, default=None,
                   help="hop between embedding windows in seconds, > 0 (default: the backbone's own; OpenL3 0.5)")
    p.add_argument("--size", type=int, default=512, choices=(512, 6144), help="OpenL3 embedding size")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS|local",
                   help="run on a Dask cluster: a scheduler address, or 'local' for a local cluster")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of one torch thread each, also the workers of a local Dask cluster "
                        "(default: one per CPU core; 1 when OpenL3 runs on a GPU)")
    p.add_argument("--device", default="auto", metavar="auto|cpu|cuda|mps",
                   help="where OpenL3 runs (default auto: a CUDA or MPS GPU when present, else the CPU)")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"),
                   help="OpenL3's network precision (default auto: bf16 on a CPU with native bf16, fp16/bf16 on "
                        "a GPU, kept only where it matches fp32 to cosine 0.9999; else fp32)")
    add_json(p)
    p.set_defaults(func=_cmd_embed)

    p = sub.add_parser("info", help="the workspace (root, database, experiments, models), or what an audio file "
                                    "holds (decoded whole, as scan decodes it: a truncated file is refused with its "
                                    "cause)")
    p.add_argument("path", nargs="?", default=None, help="an audio file (default: show the workspace)")
    add_json(p)
    p.set_defaults(func=_cmd_info)


def _cmd_demo(args: argparse.Namespace) -> int:
    from workbench.errors import ParameterError
    from workbench.pipeline import run_demo

    if args.finetune_backbone and args.backbone != "openl3":  # refused before any work, not after the embedding
        raise ParameterError(f"--finetune-backbone needs --backbone openl3 (the backbone whose blocks are tuned); "
                             f"got --backbone {args.backbone}")
    # with --json, stdout is the one JSON document: whatever the stages print goes to stderr
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        result = run_demo(
            demo_folder=args.folder, db_path=workspace_of(args).db, n_tracks=args.tracks, seed=args.seed,
            n_unlabeled=args.unlabeled, train=not args.no_train, export=not args.no_export,
            progress=not (args.quiet or args.json), backbone=args.backbone,
            embeddings_config={"finetune_backbone": True} if args.finetune_backbone else None,
            cross_generator_tracks=0 if args.no_cross_generator else args.cross_generator_tracks,
        )
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.summary())
    return 0


def _cmd_scan(args: argparse.Namespace) -> int:
    from workbench.errors import ParameterError

    if not os.path.isdir(os.path.expanduser(args.folder)):  # before the library is created
        raise ParameterError(f"folder must be an existing folder of audio files; got {args.folder!r}")
    with open_library(args, create=True) as lib:
        summary = lib.scan(args.folder, progress=not (args.quiet or args.json))
        if args.json:
            print_json({**summary.to_dict(), "library": lib.path, "tracks": len(lib)})
            return 0
        print(summary)
        print(f"library {lib.path}: {count_of(len(lib), 'track')}")
    return 0


def track_record(t: Track, crates: list[str]) -> dict[str, Any]:
    """One track as ``workbench tracks --json`` prints it.

    Parameters
    ----------
    t : Track
    crates : list of str
        Names of the crates the track is in.

    Returns
    -------
    dict
        ``duration_s`` in seconds (3 decimals), ``sample_rate_hz`` in Hz, ``missing`` true when the
        file was not found on the last scan.
    """
    return {"id": t.id, "name": t.name, "title": t.title, "artist": t.artist, "path": t.path, "folder": t.folder,
            "crates": crates, "duration_s": round(t.duration_s, 3), "sample_rate_hz": t.sample_rate_hz,
            "channels": t.channels, "format": t.format, "content_hash": t.content_hash,
            "missing": t.missing_since is not None}


def _cmd_tracks(args: argparse.Namespace) -> int:
    from workbench.crates import Crates

    with open_library(args) as lib:
        tracks = lib.tracks(include_missing=args.missing)
        membership = Crates(lib).membership()
        if args.json:
            print_json([track_record(t, membership.get(t.id, [])) for t in tracks])
            return 0
        print(f"{'id':>5}  {'dur s':>7}  {'rate Hz':>7}  {'ch':>2}  {'hash':12}  name")  # units, as `models list`'s
        for t in tracks:
            flag = "  (missing)" if t.missing_since else ""
            print(f"{t.id:>5}  {t.duration_s:7.1f}  {t.sample_rate_hz:>7}  {t.channels:>2}  "
                  f"{t.content_hash[:12]}  {t.name}{flag}")
        print(f"{count_of(len(tracks), 'track')} in {lib.path}")
    return 0


def _weights(text: str | None) -> dict[str, float] | None:
    from workbench.similarity.weights_option import search_weights

    return search_weights(text, name="--weights")[1]


def _prepare(lib: Library, backbone: Backbone, *, progress: bool) -> int:
    """Analyse and embed what is missing under one progress bar; return how many tracks failed."""
    from tqdm.auto import tqdm

    from workbench.analysis import analyze_library
    from workbench.embed.batch import embed_library

    failed = 0
    for t in tqdm(lib.tracks(), desc="analyse and embed", unit="track", disable=not progress, leave=False):
        a = analyze_library(lib, tracks=[t], progress=False)
        e = embed_library(lib, backbone=backbone, tracks=[t], progress=False)
        failed += bool(a.failed or e.failed)
    return failed


def shown_explanation(result: Any) -> str:
    """A result's explanation as ``similar`` prints it under its ``weights:`` line: without naming them again.

    Parameters
    ----------
    result : workbench.search.SimilarTrack
        A result; its explanation ends in ``"; weights <result.weights>"`` when the weights were learned.

    Returns
    -------
    str
    """
    return result.match.explanation.removesuffix(f"; weights {result.weights}")


#: File beside a similarity index naming the notice last shown for it (and the index it was shown for).
_NOTICE_FILE = "notice_shown.txt"


def _notice_is_new(search: Any, lines: list[str]) -> bool:
    """Whether ``lines`` (which backbone and model rank) are news for this index; remembers them when so.

    The same lines over the same saved index (same model, same tracks and analyses) were already
    shown: a search run again and again says them once. Where the workspace cannot be written
    (a read-only library), they are always news.

    Parameters
    ----------
    search : workbench.search.LibrarySearch
        The search, after :meth:`~workbench.search.LibrarySearch.update`.
    lines : list of str
        The notice.
    """
    import hashlib
    import json

    from workbench.fileio import atomic_write
    from workbench.similarity.sets import TrackSetIndex

    doc = TrackSetIndex.manifest(search.folder) or {}
    state = hashlib.sha256(json.dumps([lines, doc.get("identity"), doc.get("signatures")], sort_keys=True,
                                      default=str).encode()).hexdigest()
    marker = search.folder / _NOTICE_FILE
    with contextlib.suppress(OSError):  # no marker yet: news
        if marker.read_text(encoding="utf-8") == state:
            return False
    with contextlib.suppress(OSError):  # none can be written (a read-only workspace): said every time
        atomic_write(marker, lambda tmp: tmp.write_text(state, encoding="utf-8"))
    return True


def _check_similar_options(args: argparse.Namespace) -> None:
    """Raise ParameterError for a ``-k`` or ``--min-score`` that ``similar`` cannot use, by its option name."""
    import math

    from workbench.errors import ParameterError

    if args.k < 1:
        raise ParameterError(f"-k must be a whole number >= 1 (how many similar tracks); got {args.k}")
    if args.min_score is not None and not (math.isfinite(args.min_score) and 0.0 <= args.min_score <= 1.0):
        raise ParameterError(f"--min-score must be a number in [0, 1] (a match's score); got {args.min_score:g}")


#: Decimal places of ``similar --json``: scores and term weights to 1e-4, ``bpm_delta`` to 0.01 BPM.
#: Rounded for output only: the ranking is computed unrounded and the rows stay in its order.
SCORE_DECIMALS, BPM_DECIMALS = 4, 2


def _places(name: str, value: Any) -> Any:
    """A float rounded for ``similar --json`` (``bpm_delta`` to BPM_DECIMALS, else SCORE_DECIMALS); else as it is."""
    if not isinstance(value, float):  # None, ints, strings as they are
        return value
    return round(value, BPM_DECIMALS if name == "bpm_delta" else SCORE_DECIMALS)


def similar_record(result: Any) -> dict[str, Any]:
    """One result as ``workbench similar --json`` prints it, rounded to :data:`SCORE_DECIMALS` and :data:`BPM_DECIMALS`;
    ``weights_used`` by largest remainder (:func:`~workbench.wording.rounded_shares`), so the printed weights sum to 1.

    Parameters
    ----------
    result : workbench.search.SimilarTrack
        One result of :meth:`~workbench.search.LibrarySearch.similar`.

    Returns
    -------
    dict
    """
    match = {k: _places(k, v) for k, v in dataclasses.asdict(result.match).items() if k != "id"}
    return {"track_id": result.track.id, "name": result.track.name, "path": result.track.path, "model": result.model,
            "weights": result.weights, "weights_used": rounded_shares(result.weights_used, SCORE_DECIMALS),
            **match}


def _cmd_similar(args: argparse.Namespace) -> int:
    from workbench.embed.batch import brief_backbone_said
    from workbench.search import LibrarySearch
    from workbench.similarity.library_query import check_query, similar_query, similar_query_line

    weights = _weights(args.weights)
    _check_similar_options(args)  # before the library is analysed and embedded, which may take minutes
    with open_library(args) as lib:
        check_query(lib, args.track)  # an unknown track is said before the library is analysed and embedded
        search = LibrarySearch(lib, model=args.model, progress=False, kind=args.index, unknown=args.unknown,
                               term_weights=args.weights if args.weights in ("learned", "default") else "auto")
        failed = _prepare(lib, search.backbone, progress=not (args.quiet or args.json))
        search.rebuild() if args.rebuild else search.update()
        results = search.similar(args.track, k=args.k, min_score=args.min_score, weights=weights)
        query = similar_query(lib, args.track)
        if args.json:  # every row names the query it was found from
            print_json([{**similar_record(r), "query_id": query["query_id"], "query_name": query["query_name"]}
                        for r in results])
            return 0
        print(similar_query_line(query))
        backbone_line = f"backbone: {brief_backbone_said(search.backbone_said)}"  # one line, not the fallback's four
        model_line = f"model: {search.model_said}"
        if _notice_is_new(search, [backbone_line, model_line]):  # the backbone's notice once per library state
            print(backbone_line)
        print(model_line)  # every result says which model ranked it
        stats = search.index.last_search if search.method == "pruned" and search.index is not None else None
        if stats is not None:
            print(f"index: pruned, exact ({stats.scored} of {count_of(stats.tracks, 'track')} scored)")
        if results:
            print(f"weights: {results[0].weights}")
        for r in results:
            m: Any = r.match
            print(f"{m.score:5.2f}  {r.track.id:>5}  {r.track.name:40.40}  {shown_explanation(r)}")
        if not results:
            print("no matches: " + ("none scores --min-score or more" if args.min_score is not None
                                    else "the library has no other analysed, embedded track to compare with"))
        if search.skipped:
            n = len(search.skipped)
            if search.unknown == "expected":  # the tempo term counted, as the library's average agreement
                print(f"({count_of(n, 'track')} without a steady beat {agree(n, 'is', 'are')} searched with "
                      f"{agree(n, 'its', 'their')} unknown tempo counted as the library's average: the query's mean "
                      "tempo agreement with the tracks whose tempo is known, --unknown expected)")
            else:
                print(f"({count_of(n, 'track')} without a steady beat {agree(n, 'is', 'are')} searched on vibe, key "
                      f"and energy: {agree(n, 'its', 'their')} tempo is unknown)")
        if failed:
            print(f"({count_of(failed, 'track')} could not be analysed or embedded: `workbench analyze` says why)")
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from workbench.device import resolve_device, resolve_precision
    from workbench.embed.batch import default_backbone, describe_backbone, with_hop
    from workbench.embed.distributed import default_workers, embed_library_parallel
    from workbench.embed.features import FeatureFrontend

    resolve_precision(args.precision, resolve_device(args.device))  # a bad --device or --precision fails first
    backbone: Backbone
    if args.backbone == "features":
        backbone, said = FeatureFrontend(), "feature frontend (asked for), not OpenL3"
    elif args.backbone == "cnn":
        from workbench.train.backbones import cnn_backbone

        backbone = cnn_backbone(args.weights)
        said = f"CNN {backbone.name} ({backbone.trained}; mono 22,050 Hz, 3.0-s windows)"  # type: ignore[attr-defined]
    elif args.backbone == "openl3" or args.weights is not None:
        from workbench.embed.openl3 import OpenL3, OpenL3Backbone

        model = OpenL3.from_weights(args.weights, embedding_size=args.size).run_on(args.device,
                                                                                   precision=args.precision)
        backbone = OpenL3Backbone(model)
        said = f"OpenL3 {describe_backbone(backbone)}"
    else:
        backbone, said = default_backbone(device=args.device, precision=args.precision)
    workers = (1 if args.backbone == "cnn" else default_workers(backbone)) if args.workers is None else args.workers
    if args.hop is not None:
        backbone = with_hop(backbone, args.hop)
    with open_library(args) as lib:
        if not args.json:
            print(f"backbone: {said}")
        if args.scheduler is not None:
            from workbench.embed.distributed import embed_library_distributed

            address = None if args.scheduler == "local" else args.scheduler
            summary = embed_library_distributed(lib, backbone=backbone, scheduler=address, n_workers=workers,
                                                progress=not args.quiet)
        else:
            summary = embed_library_parallel(lib, backbone=backbone, workers=workers,
                                             progress=not (args.quiet or args.json))
        if args.json:
            print_json({"backbone": summary.backbone, "said": said, "embedded": summary.embedded,
                        "cached": summary.cached, "failed": [{"path": p, "reason": r} for p, r in summary.failed]})
        else:
            print(summary)
    return 1 if summary.failed and not (summary.embedded or summary.cached) else 0


def workspace_record(args: argparse.Namespace) -> dict[str, Any]:
    """The workspace as ``workbench info --json`` prints it.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line (``home``, ``db``, ``workspace_source``).

    Returns
    -------
    dict
        The workspace's folders, where they came from (``source``), which exist, and the number
        of tracks (None without a database).
    """
    from workbench.library import Library

    ws = workspace_of(args)
    folders = ws.to_dict()
    n_tracks = None
    if ws.db.is_file():
        with Library(ws.db) as lib:
            n_tracks = len(lib)
    return {**folders, "source": getattr(args, "workspace_source", None),
            "exists": {name: os.path.exists(path) for name, path in folders.items()}, "tracks": n_tracks}


def _cmd_info(args: argparse.Namespace) -> int:
    if args.path is None:
        rec = workspace_record(args)
        if args.json:
            print_json(rec)
            return 0
        print(f"workspace {rec['root']}" + (f"  ({rec['source']})" if rec["source"] else ""))
        for name in ("db", "data", "experiments", "models"):
            state = "exists" if rec["exists"][name] else "not created yet"
            extra = f", {rec['tracks']} tracks" if name == "db" and rec["tracks"] is not None else ""
            print(f"  {name:12} {rec[name]}  ({state}{extra})")
        if not rec["exists"]["db"]:
            print("no library yet: `workbench scan FOLDER` creates it", file=sys.stderr)
        return 0
    from workbench.audio import check_whole

    i = check_whole(args.path)  # the header alone called a truncated FLAC that scan refuses whole (6.86 s)
    if args.json:
        print_json({"path": i.path, "format": i.format, "subtype": i.subtype, "sample_rate_hz": i.sample_rate_hz,
                    "channels": i.channels, "frames": i.frames, "duration_s": i.duration_s})
        return 0
    print(f"{i.path}\n  {i.format}/{i.subtype}, {i.sample_rate_hz} Hz, {i.channels} ch, "
          f"{i.frames} frames, {i.duration_s:.2f} s")
    return 0
