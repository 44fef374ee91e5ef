"""Small dev libraries drawn from a devset's dev tracks, shaped like a small real collection (a place to choose on).

The 16 real files (3 album folders of 7 / 5 / 4 tracks and 3 one-track folders) are too few to choose a setting on:
folds of their training tracks hold 2-3 tracks a folder, and heads trained on those rank worse than the run's own
head (docs/experiments/search.md, session 17). A devset (``python -m workbench.devset``, its ``MANIFEST.json`` says
each track's style and split) gives many libraries of that shape from its ``dev`` tracks only: each draw picks
styles at random, folders of ``shape`` tracks of one style each, and ``lone`` one-track folders of further styles.
The devset's held-out tracks never enter, so a setting chosen on these libraries can then be read once on the real
files. Files are copied (never linked into the read-only devset, whose folder a scan would write into).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

#: Tracks per style folder, as the real files' album folders (a devset with fewer dev tracks a style gives what it has).
REAL_SHAPE: tuple[int, ...] = (7, 5, 4)
#: One-track folders beside them, as the real files' (left out of training, searched as distractors).
REAL_LONE: int = 3


def dev_tracks(devset: Path) -> dict[str, list[str]]:
    """The devset's dev tracks by style: style -> file names, sorted (its held-out split left out).

    Parameters
    ----------
    devset : Path
        A folder with ``MANIFEST.json`` (``tracks``: ``file``, ``style``, ``split``).

    Raises
    ------
    ValueError
        No manifest, or no dev track in it.
    """
    manifest = Path(devset) / "MANIFEST.json"
    if not manifest.is_file():
        raise ValueError(f"{devset} has no MANIFEST.json (a devset from `python -m workbench.devset` has one)")
    by_style: dict[str, list[str]] = {}
    for t in json.loads(manifest.read_text())["tracks"]:
        if t.get("split") == "dev":
            by_style.setdefault(t["style"], []).append(t["file"])
    if not by_style:
        raise ValueError(f"{manifest} lists no track with split 'dev'")
    return {s: sorted(files) for s, files in sorted(by_style.items())}


def dev_library(devset: Path, out: Path, *, draw: int, shape: tuple[int, ...] = REAL_SHAPE,
                lone: int = REAL_LONE) -> dict[str, list[str]]:
    """Copy one draw's library into ``out`` (``out/<style>/<file>``, lone tracks in ``out/lone<i>/``) and say what.

    Parameters
    ----------
    devset : Path
        The devset folder (:func:`dev_tracks`).
    out : Path
        An empty or absent folder; a folder that already holds this draw is left as it is.
    draw : int >= 0
        Seeds the choice of styles and tracks (the same draw, the same library).
    shape : tuple of int >= 2
        Tracks per style folder (capped at the style's dev tracks).
    lone : int >= 0
        One-track folders, each from a further style.

    Returns
    -------
    dict
        Folder name -> the devset files it holds.

    Raises
    ------
    ValueError
        Fewer styles than ``len(shape) + lone``, a folder size below 2, or a negative draw.
    """
    if isinstance(draw, bool) or not isinstance(draw, int) or draw < 0:
        raise ValueError(f"draw must be an integer >= 0; got {draw!r}")
    if any(n < 2 for n in shape) or lone < 0:
        raise ValueError(f"shape needs folders of 2 or more tracks and lone >= 0; got shape {shape}, lone {lone}")
    by_style = dev_tracks(devset)
    if len(by_style) < len(shape) + lone:
        raise ValueError(f"{len(shape)} folders and {lone} lone tracks need {len(shape) + lone} styles; "
                         f"the devset has {len(by_style)} with dev tracks")
    rng = np.random.default_rng(draw)
    styles = [list(by_style)[i] for i in rng.permutation(len(by_style))[:len(shape) + lone]]
    plan: dict[str, list[str]] = {}
    for style, n in zip(styles[:len(shape)], shape, strict=True):
        files = by_style[style]
        plan[style] = sorted(files[i] for i in rng.permutation(len(files))[:min(n, len(files))])
    for i, style in enumerate(styles[len(shape):]):
        files = by_style[style]
        plan[f"lone{i}"] = [files[int(rng.integers(len(files)))]]
    out = Path(out)
    for folder, files in plan.items():
        (out / folder).mkdir(parents=True, exist_ok=True)
        for f in files:
            if not (out / folder / f).is_file():
                shutil.copyfile(Path(devset) / f, out / folder / f)
    return plan
