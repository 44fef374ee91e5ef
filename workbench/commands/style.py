"""``workbench profile build|show|list|compare``: Style DNA reference profiles and gap analysis."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.commands import add_json, count_of, open_library, print_json


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``profile`` and its actions.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()`` object.
    """
    p = sub.add_parser("profile", help="Style DNA: build a reference profile from a crate or folder, show it, "
                                       "compare a track or a work in progress against it")
    ps = p.add_subparsers(dest="profile_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    q = ps.add_parser("build", help="build a profile (saved as the next version) from reference tracks")
    q.add_argument("name")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--crate", help="the crate of reference tracks")
    src.add_argument("--folder", help="the sub-folder (under a scanned folder) of reference tracks: its name or its path")
    q.add_argument("--clusters", type=int, default=None, help="number of style clusters (default: by silhouette)")
    q.add_argument("--min-tracks", type=int, default=5, help="fewest reference tracks (default 5)")
    add_json(q)
    q.set_defaults(func=_cmd_build)

    q = ps.add_parser("show", help="a profile's features: mean, range, 95 %% CI")
    q.add_argument("name", help="NAME or NAME@VERSION")
    add_json(q)
    q.set_defaults(func=_cmd_show)

    q = ps.add_parser("list", help="every saved profile")
    add_json(q)
    q.set_defaults(func=_cmd_list)

    q = ps.add_parser("compare", help="gap analysis of a library track or an audio file against a profile")
    q.add_argument("name", help="NAME or NAME@VERSION")
    q.add_argument("target", help="a track id, content hash or library path, or any audio file")
    q.add_argument("--section", action="append", metavar="LABEL:START-END", dest="sections",
                   help="a section of the target in seconds (repeat; e.g. --section intro:0-30 --section drop:60-120); "
                        "default: a library track's labelled sections")
    add_json(q)
    q.set_defaults(func=_cmd_compare)


def _parse_sections(specs: list[str] | None) -> list[tuple[str, float, float]] | None:
    """``LABEL:START-END`` (seconds) options as (label, start_s, end_s); None when none given."""
    from workbench.errors import ParameterError
    from workbench.labels import LABELS

    if not specs:
        return None
    out = []
    for spec in specs:
        label, _, span = spec.partition(":")
        start, _, end = span.partition("-")
        try:
            start_s, end_s = float(start), float(end)
        except ValueError:
            raise ParameterError(f"--section must be LABEL:START-END in seconds (e.g. drop:60-120); got {spec!r}") from None
        if label not in LABELS:
            raise ParameterError(f"--section label must be one of {', '.join(LABELS)}; got {label!r} in {spec!r}")
        if not 0 <= start_s < end_s:
            raise ParameterError(f"--section needs 0 <= START < END seconds; got {spec!r}")
        out.append((label, start_s, end_s))
    return out


def _cmd_build(args: argparse.Namespace) -> int:
    from workbench.style import build_profile, reference_tracks, save_or_reuse_profile

    with open_library(args) as lib:
        kind = "crate" if args.crate else "folder"
        tracks, source = reference_tracks(lib, args.crate or args.folder, kind=kind)
        profile = build_profile(lib, args.name, tracks, source=source, clusters=args.clusters,
                                min_tracks=args.min_tracks, progress=not (args.json or args.quiet))
        path, reused, said = save_or_reuse_profile(lib, profile)
    if args.json:
        print_json({"path": path, "name": args.name, "version": int(path.stem[1:]), "reused": reused,
                    "n_tracks": len(profile["tracks"]), "warnings": profile["warnings"]})
        return 0
    print(f"profile {args.name}@{path.stem[1:]}: {count_of(len(profile['tracks']), 'track')} from {source} -> {path}")
    if reused:
        print(f"  {said}")
    for w in profile["warnings"]:
        print(f"  warning: {w}")
    return 0


#: What ``profile show``'s "range" column is: the real supertuxkart crate (tempi 132-145 BPM) showed "127.6 .. 153.3".
RANGE_SAID = ("range: the band `profile compare` checks a track against (the references' 10th-90th percentiles, "
              "widened to mean +- 2 std and to the feature's tolerance), not their lowest .. highest")


def _feature_table(features: dict[str, Any]) -> list[str]:
    from workbench.style.features import FEATURES

    units = {f.name: f.unit for f in FEATURES}  # "0.42" alone says nothing: BPM, dB, cents, a share ...
    lines = [f"{'feature':20} {'mean':>10} {'range':>22} {'95% CI of mean':>22}  {'n':>3}  unit"]
    for name, st in features.items():
        lo, hi = st["range"]
        c0, c1 = st["ci95"]
        lines.append(f"{name:20} {st['mean']:10.4g} {f'{lo:.4g} .. {hi:.4g}':>22} {f'{c0:.4g} .. {c1:.4g}':>22}  "
                     f"{st['n']:>3}  {units.get(name, '')}")
    return lines


def sections_line(profile: dict[str, Any]) -> str:
    """One line saying which section labels the profile keeps statistics of (``profile show``).

    Parameters
    ----------
    profile : dict
        A saved profile.

    Returns
    -------
    str
        ``"sections: drop (3 sections on 3 tracks), intro (...); ..."``, or why there are none.
    """
    from workbench.style.sections import MIN_SECTIONS

    secs = profile.get("sections") or {}
    if not secs:
        return (f"sections: none (a label needs {MIN_SECTIONS} labelled sections among the tracks; then `profile "
                "compare` compares each labelled section with that label's)")
    kept = ", ".join(f"{label} ({count_of(st['n_sections'], 'section')} on {count_of(st['n_tracks'], 'track')})"
                     for label, st in sorted(secs.items()))
    return f"sections: {kept}; `profile compare` compares each labelled section with its label's (figures: --json)"


def _cmd_show(args: argparse.Namespace) -> int:
    from workbench.runs import started_text
    from workbench.style import load_profile

    with open_library(args) as lib:
        profile = load_profile(lib, args.name)
    if args.json:
        print_json(profile)
        return 0
    built = started_text(profile.get("created_at"), zone=True) or "at a time not recorded"  # as `runs list` writes one
    print(f"profile {profile['name']}@{profile['version']}: {count_of(len(profile['tracks']), 'track')} from "
          f"{profile['source']}, built {built}")
    print("\n".join(_feature_table(profile["features"])))
    print(RANGE_SAID)
    print(sections_line(profile))
    from workbench.style.scores import scores_for

    ts = profile["trance_score"]
    if "trance" in scores_for(profile):  # a loops profile's trance score says nothing
        print(f"trance score: mean {ts['mean']:.2f}, range {ts['range'][0]:.2f} .. {ts['range'][1]:.2f}")
    cl = profile.get("clusters", {})
    if not cl.get("k"):
        print(f"style clusters: none ({cl.get('note') or 'not measured'})")  # was "style clusters: 0: 0 reference ..."
    elif cl.get("silhouette") is None:
        print(f"style clusters: {cl['k']}: {cl.get('chosen', 'silhouette not measured')}")  # no (( ))
    else:
        how = "k given" if cl.get("chosen") == "given" else "k chosen by silhouette"
        print(f"style clusters: {cl['k']} (silhouette {cl['silhouette']:.2f}, {how})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from workbench.style import list_profiles

    with open_library(args) as lib:
        rows = list_profiles(lib)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no profiles yet: `workbench profile build NAME --crate CRATE`")
    for r in rows:
        print(f"{r['name']}  versions {r['versions']}  {count_of(r['n_tracks'], 'track')} from {r['source']}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from workbench.style import gap_analysis, load_profile
    from workbench.style.gap import fold_said

    with open_library(args) as lib:
        profile = load_profile(lib, args.name)
        target: Any = args.target
        if Path(target).is_file():
            try:
                target = lib.track(target)
            except Exception:  # not in the library: a work in progress
                target = Path(target)
        gap = gap_analysis(lib, profile, target, sections=_parse_sections(args.sections))
        shown = gap["target"]  # a library track by its id and name, as the other listings show it
        if not isinstance(target, Path):
            track = lib.track(gap["target"])
            shown = f"track {track.id} ({track.name})"
    if args.json:
        print_json(gap)
        return 0
    print(f"{shown} against {gap['profile']}: {len(gap['outside'])} of {len(gap['features'])} features "
          f"outside the range ({gap['seconds']:.1f} s)")
    for r in gap["features"]:
        if r["value"] is None:
            print(f"  {r['feature']:20} unknown (no beat, or too short)")
            continue
        mark = "OUT" if r["outside"] else "ok "
        folded = f"  (read {r['folded_from']:.4g}: {fold_said(r['folded_from'], r['value'])})" \
            if r.get("folded_from") is not None and not r["advice"] else ""
        print(f"  {mark} {r['feature']:20} {r['value']:10.4g}  range {r['range'][0]:.4g} .. {r['range'][1]:.4g}"
              + (f"  -> {r['advice']}" if r["advice"] else folded))
    for line in not_compared_lines(gap["sections"]):  # one line per reason, not one per section
        print(line)
    for sec in gap["sections"]:
        if not sec["compared"]:
            continue
        head = f"  [{sec['label']} {sec['start_s']:.1f}-{sec['end_s']:.1f} s]"
        print(f"{head} {len(sec['outside'])} of {len(sec['features'])} features outside this label's range")
        for r in sec["features"]:
            if r["outside"]:
                print(f"      OUT {r['feature']:20} {r['value']:10.4g}  range {r['range'][0]:.4g} .. {r['range'][1]:.4g}"
                      f"  -> {r['advice']}")
    ts = gap["trance_score"]
    if ts.get("applies"):  # only for a trance profile
        print(f"trance score {ts['value']:.2f} (profile mean {ts['profile_mean']:.2f})")
    if gap["cluster"]:
        c = gap["cluster"]
        print(f"nearest style cluster {c['index']}: distance {c['distance']:.3f} (members within "
              f"{c['max_distance']:.3f}: {'inside' if c['inside'] else 'outside'})")
    return 0


def not_compared_lines(sections: list[dict[str, Any]], *, named: int = 3) -> list[str]:
    """The sections ``profile compare`` could not compare, one line per reason: a track labelled in 16-beat phrases
    had 35 lines, each repeating one of two reasons.

    Parameters
    ----------
    sections : list of dict
        ``gap_analysis(...)["sections"]``: ``label``, ``start_s``, ``end_s``, ``compared``, ``reason``.
    named : int
        Sections named in a line before "and N more".

    Returns
    -------
    list of str
        ``"  [drop 16.8-24.8 s] not compared: 7.96 s long; ..."`` for a reason of one section; ``"  [3 sections: drop
        16.8-24.8 s, ...] not compared: sections shorter than 8 s are not measured (7.69-7.99 s long)"`` for several
        (in beats where the track has a beat grid: ``"... shorter than 16 beats (4 bars) ... (8-12 beats long)"``).
    """
    import re

    groups: dict[str, list[dict[str, Any]]] = {}
    for sec in sections:
        if not sec["compared"]:
            reason = re.sub(r"^[\d.]+ (?:s|beats) long; ", "", str(sec["reason"]))  # its length: said as a range for several
            groups.setdefault(reason, []).append(sec)
    lines = []
    for reason, secs in groups.items():
        spans = [f"{s['label']} {s['start_s']:.1f}-{s['end_s']:.1f} s" for s in secs]
        if len(secs) == 1:
            lines.append(f"  [{spans[0]}] not compared: {secs[0]['reason']}")
            continue
        found = [m.groups() for s in secs if (m := re.match(r"^([\d.]+) (s|beats) long; ", str(s["reason"])))]
        lengths, unit = [float(f[0]) for f in found], found[0][1] if found else "s"
        fmt = ".2f" if unit == "s" else ".0f"
        long_said = f" ({min(lengths):{fmt}}-{max(lengths):{fmt}} {unit} long)" if lengths else ""
        more = f" and {len(spans) - named} more" if len(spans) > named else ""
        lines.append(f"  [{len(secs)} sections: {', '.join(spans[:named])}{more}] not compared: {reason}{long_said}")
    return lines
