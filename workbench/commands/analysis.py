"""``workbench analyze``, ``workbench settings`` and ``workbench correct``: analysis that sticks.

``analyze --prior`` stores the prior for the library (or ``--folder``/``--track``) and every
consumer (search, explorer, labeler, training, suggestions) uses it from then on; ``correct``
stores a track's hand correction (BPM, first downbeat, key), locked against re-analysis.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING, Any

from workbench.commands import count_of, open_library

#: Tempo stability under which the table marks a BPM as rough (``~``; QA's ``unsteady_tempo`` threshold).
UNSTEADY = 0.5  # the value of workbench.analysis.core.ROUGH_TEMPO_STABILITY (similar uses that one)

if TYPE_CHECKING:
    from workbench.analysis.core import Analysis
    from workbench.analysis.corrections import Correction
    from workbench.analysis.settings import AnalysisSettings
    from workbench.library import Track


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``analyze``, ``settings`` and ``correct``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()`` object.
    """
    p = sub.add_parser("analyze", help="beats, BPM, key, energy and loudness of every track (stored); "
                                       "--prior stores a tempo prior that every consumer uses")
    p.add_argument("--prior", default=None, metavar="MIN-MAX[@CENTRE]",
                   help="expected tempo range, e.g. 128-150@139 (trance) or 'trance'; stored for the scope "
                        "(default: the library) and used from then on")
    _scope_arguments(p, "store --prior for, and analyse only,")
    p.add_argument("--force", action="store_true", help="recompute even where a stored result is current "
                                                        "(locked corrections stay)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes analysing tracks, >= 1 (default: one per core; 1: in this process)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS|local",
                   help="run on a Dask cluster: a scheduler address, or 'local' for a local cluster of --workers")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("settings", help="the analysis settings stored for the library, folders and tracks, "
                                        "and the tracks' corrections")
    p.add_argument("--clear", action="store_true", help="remove the settings stored for the scope "
                                                        "(default: the library)")
    _scope_arguments(p, "--clear removes the settings of")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_settings)

    p = sub.add_parser("correct", help="correct a track's BPM, first downbeat or key by hand (locked against "
                                       "re-analysis)")
    p.add_argument("track", help="a library track's id, content hash or path")
    p.add_argument("--bpm", type=float, default=None, help="the tempo in BPM (30-300); the beat grid follows")
    p.add_argument("--downbeat", type=float, default=None, metavar="SECONDS",
                   help="time of the first downbeat (the one of a bar), in seconds")
    p.add_argument("--key", default=None, help="a key name ('A minor', 'F# major', 'Bbm') or a Camelot code (8A)")
    p.add_argument("--unlock", action="store_true",
                   help="alone: remove the correction (the analysis shows again); with values: store them "
                        "unlocked (a re-analysis replaces them)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_cmd_correct)


def _scope_arguments(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scope", choices=("library",), default=None, help=f"{what} the whole library (the default)")
    g.add_argument("--folder", default=None, help=f"{what} the tracks under this folder")
    g.add_argument("--track", default=None, help=f"{what} one track (id, content hash or path)")


def _scope(args: argparse.Namespace) -> tuple[str, str | None]:
    if args.folder is not None:
        return "folder", args.folder
    if args.track is not None:
        return "track", args.track
    return "library", None


def _row(t: Track, a: Analysis | None, settings: AnalysisSettings, correction: Correction | None) -> dict[str, Any]:
    from workbench.analysis.settings import format_prior

    return {
        "id": t.id, "name": t.name, "path": t.path,
        "bpm": None if a is None else a.bpm, "key": None if a is None else a.key,
        "camelot": None if a is None else a.camelot,
        "key_confidence": None if a is None else a.key_confidence,
        "has_key": None if a is None else a.has_key,  # False: drums only (the key fields are a guess)
        "tempo_stability": None if a is None else a.tempo_stability,
        "beat_confidence": None if a is None else a.beat_confidence,
        "energy": None if a is None else a.energy, "loudness_lufs": None if a is None else a.loudness_lufs,
        "first_downbeat_s": None if a is None or not a.downbeats else round(a.downbeats[0], 4),
        "prior": format_prior(settings.bpm_prior), "prior_from": settings.sources.get("bpm_prior", "default"),
        "correction": None if correction is None else correction.to_dict(),
        "tempo_outside_prior": None if a is None else a.tempo_outside_prior,
    }


def _outside_prior_warning(row: dict[str, Any]) -> str | None:
    """A warning when the prior holds no octave of the track's strongest tempo, else None.

    A narrow prior (``80-100@90``) that the music's own tempo family skips gives the best tempo
    inside it, which is not the music's pulse nor an octave of it: the reading looks plausible
    and is wrong. A manual correction is the user's reading: no warning.
    """
    outside, bpm = row.get("tempo_outside_prior"), row.get("bpm")
    if not outside or not bpm or row.get("correction") is not None:
        return None
    octaves = math.log2(bpm / outside)
    if abs(octaves - round(octaves)) < 0.03:  # an octave of it after all (a loop snapped to its length)
        return None
    below, above = (outside, 2 * outside) if outside < bpm else (outside / 2, outside)  # either side of the prior
    return (f"warning: {row['name']}: read {bpm:.1f} BPM inside the prior {row['prior']}, but its strongest "
            f"tempo family is {below:.1f} / {above:.1f} BPM, outside the prior, and {bpm:.1f} is not an octave of "
            f"it: widen "
            f"the prior (`workbench analyze --prior MIN-MAX --track {row['id']}`) or correct the tempo")


#: Outside-prior warnings printed one per track up to this many; more are summarised in one line.
MAX_WARNING_LINES = 3


def _warning_lines(rows: list[dict[str, Any]], warnings: list[str], *, verbose: bool) -> list[str]:
    """The terminal's outside-prior warnings: each in full up to :data:`MAX_WARNING_LINES` (or with
    ``--verbose``), else one line with the count, the first few tracks and how to see them all.

    Parameters
    ----------
    rows : list of dict
        The table's rows (``_row``), in the order the warnings were made.
    warnings : list of str
        ``_outside_prior_warning`` of the rows that have one.
    verbose : bool
        ``--verbose``: every warning, one line each.

    Returns
    -------
    list of str
    """
    if verbose or len(warnings) <= MAX_WARNING_LINES:
        return list(warnings)
    warned = [r for r in rows if _outside_prior_warning(r)]
    named = "; ".join(f"{r['name']} read {r['bpm']:.1f} BPM, family at {r['tempo_outside_prior']:.1f}"
                      for r in warned[:MAX_WARNING_LINES])
    priors = sorted({r["prior"] for r in warned})
    return [f"warning: {count_of(len(warned), 'track')} read a tempo inside the prior {' / '.join(priors)} that is not an "
            f"octave of their strongest tempo family, which lies outside it ({named}; ...): widen the prior or "
            f"correct those tempos; `workbench --verbose analyze` prints each, `--json` lists them under 'warnings'"]


def _cmd_analyze(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench.analysis import (
        analyze_library,
        effective_settings,
        get_correction,
        list_analysis_settings,
        parse_prior,
        set_analysis_settings,
        track_analysis,
    )
    from workbench.analysis.pool import check_scheduler, resolve_workers
    from workbench.analysis.settings import scope_target
    from workbench.errors import ParameterError

    scope, target = _scope(args)
    prior = parse_prior(args.prior)
    if args.workers is not None and args.workers < 1:  # resolve_workers' message offers None, which no shell can type
        raise ParameterError(f"--workers must be an integer >= 1 (processes; 1: in this process; leave --workers out "
                             f"for one per core); got {args.workers}")
    resolve_workers(args.workers)  # refused before anything is stored
    check_scheduler(args.scheduler)
    with open_library(args) as lib:
        key = scope_target(lib, scope, target)  # validates the folder or track before anything is stored
        tracks = lib.tracks()
        if scope == "folder":
            folder = lib.workspace.absolute(key).resolve()
            tracks = [t for t in tracks if Path(t.path).resolve().is_relative_to(folder)]
            if not tracks:  # a typo or a folder never scanned: nothing to analyse, no prior to store for it
                raise ParameterError("folder must hold tracks of the library; "
                                     f"got {args.folder!r}, which holds none (scan it first: "
                                     f"`workbench scan {args.folder}`)")
        elif scope == "track":
            tracks = [lib.track(int(key))]
        stored = set_analysis_settings(lib, scope=scope, target=target, prior=prior) if prior is not None else None
        summary = analyze_library(lib, tracks=tracks, force=args.force, progress=not args.quiet,
                                  workers=args.workers, scheduler=args.scheduler)
        every = list_analysis_settings(lib)
        rows = [_row(t, track_analysis(lib, t, compute=False), effective_settings(lib, t, stored=every),
                     get_correction(lib, t)) for t in tracks]
    warnings = [w for w in map(_outside_prior_warning, rows) if w]
    if args.json:
        print(json.dumps({"stored": None if stored is None else stored.to_dict(), "summary": summary.to_dict(),
                          "tracks": rows, "warnings": warnings}, indent=2))
    else:
        if stored is not None:
            print(f"stored {stored.describe()} (used from now on by search, the explorer, the labeler and training)")
        print(summary)
        print(f"{'id':>5}  {'bpm':>6}  {'key':>9}  {'cam':>3}  {'conf':>4}  {'nrg':>3}  {'LUFS':>6}  "
              f"{'prior':>20}  {'fix':>6}  name")
        unsteady = False
        for r in rows:
            if r["bpm"] is None and r["key"] is None:
                continue
            bpm = f"{r['bpm']:6.1f}" if r["bpm"] else "  none"
            if r["bpm"] and r["tempo_stability"] is not None and r["tempo_stability"] < UNSTEADY:
                bpm, unsteady = f"~{r['bpm']:5.0f}", True
            fix = "-" if r["correction"] is None else ("locked" if r["correction"]["locked"] else "manual")
            key, cam = (r["key"], r["camelot"]) if r["has_key"] else ("no key", "-")  # drums only: no key to mix on
            conf = f"{r['key_confidence']:4.2f}" if r["has_key"] else "-"  # the confidence of a key it does not have
            print(f"{r['id']:>5}  {bpm}  {key:>9}  {cam:>3}  {conf:>4}  "
                  f"{r['energy']:>3}  {r['loudness_lufs']:6.1f}  {r['prior']:>20}  {fix:>6}  {r['name']}")
        if unsteady:
            print(f"~: the tempo wanders (stability under {UNSTEADY}, live or rubato): the BPM and grid are rough")
        for line in _warning_lines(rows, warnings, verbose=getattr(args, "verbose", False)):
            print(line)
    return 1 if summary.failed and not (summary.analysed or summary.reused) else 0


def _cmd_settings(args: argparse.Namespace) -> int:
    from workbench.analysis import clear_analysis_settings, list_analysis_settings, list_corrections

    cleared = None
    with open_library(args) as lib:
        if args.clear:
            scope, target = _scope(args)
            cleared = {"scope": scope, "target": target, "removed": clear_analysis_settings(lib, scope=scope,
                                                                                              target=target)}
        settings = list_analysis_settings(lib)
        corrections = list_corrections(lib)
        names = {c.track_id: lib.track(c.track_id).name for c in corrections}
    if args.json:
        print(json.dumps({"cleared": cleared, "settings": [s.to_dict() for s in settings],
                          "corrections": [{**c.to_dict(), "name": names[c.track_id]} for c in corrections]},
                         indent=2))
        return 0
    if cleared is not None:
        where = cleared["scope"] if cleared["target"] is None else f"{cleared['scope']} {cleared['target']}"
        print(f"cleared the settings of {where}" if cleared["removed"] else f"no settings were stored for {where}")
    print("analysis settings (track > deepest folder > library > defaults):")
    for s in settings:
        print(f"  {s.describe()}")
    if not settings:
        print("  none stored: every track uses the defaults (prior 70-185@125)")
    print("corrections:")
    for c in corrections:
        print(f"  track {c.track_id} ({names[c.track_id]}): {c.describe()}")
    if not corrections:
        print("  none")
    return 0


def _cmd_correct(args: argparse.Namespace) -> int:
    from workbench.analysis import clear_correction, correct_track, get_correction, track_analysis

    values = {"bpm": args.bpm, "first_downbeat_s": args.downbeat, "key": args.key}
    with open_library(args) as lib:
        t = lib.track(args.track)
        if args.unlock and all(v is None for v in values.values()):
            removed = clear_correction(lib, t)
            said = "removed the correction" if removed is not None else "the track had no correction"
        elif any(v is not None for v in values.values()):
            c = correct_track(lib, t, **values, locked=not args.unlock)
            said = f"corrected: {c.describe()}"
        else:
            said = "current correction"
        correction = get_correction(lib, t)
        a = track_analysis(lib, t, compute=False)
    out = {"track": {"id": t.id, "name": t.name, "path": t.path},
           "correction": None if correction is None else correction.to_dict(),
           "analysis": None if a is None else {
               "bpm": a.bpm, "key": a.key, "camelot": a.camelot, "has_key": a.has_key,
               "first_downbeat_s": round(a.downbeats[0], 4) if a.downbeats else None, "beats": len(a.beats)}}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"track {t.id} ({t.name}): {said}")
    print(f"  correction: {'none' if correction is None else correction.describe()}")
    if a is None:
        print("  not analysed yet: `workbench analyze` (the correction applies on top)")
    else:
        bpm = "none" if a.bpm is None else f"{a.bpm:g}"
        first = f"{a.downbeats[0]:.3f} s" if a.downbeats else "none"
        key = f"key {a.key} ({a.camelot})" if a.has_key else "no key (drums only)"  # as `analyze` shows it
        print(f"  every consumer sees: bpm {bpm}, {key}, first downbeat {first}, "
              f"{len(a.beats)} beats")
    return 0
