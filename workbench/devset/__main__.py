"""``python -m workbench.devset OUT --per-style N --seed S``: write the development set."""

from __future__ import annotations

import argparse
import json
import sys

from workbench.devset.generate import RENDERERS, write_set
from workbench.devset.styles import STYLE_NAMES


def main(argv: list[str] | None = None) -> int:
    """Write a development set from the command line (``python -m workbench.devset OUT``).

    Parameters
    ----------
    argv : list of str or None
        The arguments; None means ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(prog="python -m workbench.devset", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write <style>_<k>.flac/.json and MANIFEST.json into")
    parser.add_argument("--per-style", type=int, default=3, help="tracks per style (every third is held out)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--styles", default=None, help=f"comma-separated subset of {','.join(STYLE_NAMES)}")
    parser.add_argument("--renderer", choices=RENDERERS, default="auto")
    parser.add_argument("--sections", action="store_true",
                        help="arranged tracks (intro, build, drop, ...; 1-2 min each) with section truth")
    parser.add_argument("--json", action="store_true", help="print the written tracks as JSON")
    args = parser.parse_args(argv)
    styles = args.styles.split(",") if args.styles else None
    paths = write_set(args.out, per_style=args.per_style, seed=args.seed, styles=styles, renderer=args.renderer,
                      progress=not args.json, sections=args.sections)
    if args.json:
        tracks = [json.loads(p.read_text()) for p in paths]
        print(json.dumps([{k: t[k] for k in ("title", "style", "condition", "split", "bpm", "felt_bpm", "key",
                                             "renderer")} | {"path": str(p.with_suffix(".flac"))}
                          for p, t in zip(paths, tracks, strict=True)], indent=1))
    else:
        print(f"wrote {len(paths)} tracks to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
