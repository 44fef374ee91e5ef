"""The demo's cross-generator set: a small development set rendered into the demo's own folder.

``workbench demo`` trains its section model on tracks from one synthesizer (:mod:`workbench.demo`),
so its held-out figures say little about music made another way (issue 18). Before the section
model is trained, :func:`cross_generator_set` renders a few tracks with the second, independent
generator (:mod:`workbench.devset`, arranged in DJ sections with their truth, on its numpy
renderer so every machine makes the same bytes) into ``<demo folder>/.cross-generator/`` (a
hidden folder, so the demo's own scan never sees it; its library, analyses and embedding cache
stay there too), and reads them as section data with the demo's backbone
(:func:`~workbench.train.sections.external.folder_section_data`). The sections job scores the
final model and its baselines on them (``metrics["transfer"]["external"]["devset"]``): the
cross-generator line of the demo summary and of the sections report.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.embed.batch import Backbone
    from workbench.pipeline_summary import DemoResult
    from workbench.train.sections import SectionData

#: The demo's folder for its second set (hidden: the demo library's scan skips it).
CROSS_GENERATOR_DIR = ".cross-generator"
#: The set's name in the run's metrics and the summary.
CROSS_GENERATOR_NAME = "devset"
#: Development-set styles the demo's synthesizer does not make (dnb is in both), one track each, in this order.
CROSS_GENERATOR_STYLES = ("hiphop", "dubstep", "ukgarage", "trap", "breakbeat", "hardstyle", "jungle", "psytrance",
                          "afrohouse")
#: Tracks rendered by default (one per style, the first of :data:`CROSS_GENERATOR_STYLES`).
CROSS_GENERATOR_TRACKS = 8
RENDERER = "numpy"


def check_cross_generator_tracks(n_tracks: int) -> int:
    """``n_tracks`` when it is an int in [0, 9] (0: no cross-generator set).

    Parameters
    ----------
    n_tracks : int
        Tracks of the second set.

    Raises
    ------
    ParameterError
        Anything else.
    """
    if isinstance(n_tracks, bool) or not isinstance(n_tracks, int) or not 0 <= n_tracks <= len(CROSS_GENERATOR_STYLES):
        raise ParameterError(f"cross_generator_tracks must be an int in [0, {len(CROSS_GENERATOR_STYLES)}] "
                             f"(0 turns the cross-generator set off); got {n_tracks!r}")
    return n_tracks


def _devset_fingerprint() -> str:
    """A hash of the development-set generator's source: a changed generator renders the set again."""
    import workbench.devset as devset_pkg

    h = hashlib.sha256()
    for path in sorted(Path(devset_pkg.__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def cross_generator_set(demo_folder: str | os.PathLike[str], *, n_tracks: int = CROSS_GENERATOR_TRACKS,
                        seed: int = 0, backbone: Backbone | None = None,
                        progress: bool = True) -> tuple[SectionData, dict[str, Any]]:
    """Render (or reuse) the demo's second set and read it as labelled section data.

    Parameters
    ----------
    demo_folder : path-like
        The demo's folder; everything goes under ``<demo_folder>/.cross-generator/`` (audio and
        truth in ``audio/``, the set's own ``workbench.db`` and ``embeddings/`` beside it).
    n_tracks : int in [1, 9]
        Tracks, one per style of :data:`CROSS_GENERATOR_STYLES` in order (arranged, 1-2 min each).
    seed : int >= 0
        The development set's seed (the same seed gives the same bytes).
    backbone : Backbone, optional
        The section model's backbone (default the feature frontend).
    progress : bool
        Bars over the render, the scan and the tracks.

    Returns
    -------
    data : SectionData
        The set's labelled windows (each track's group its style).
    info : dict
        :func:`~workbench.train.sections.external.folder_section_data`'s info, plus ``rendered``
        (False: reused), ``renderer``, ``seed`` and ``style_names``.

    Raises
    ------
    ParameterError
        ``n_tracks`` outside [1, 9] or a bad ``seed``.
    """
    from workbench.devset.generate import write_set
    from workbench.fileio import atomic_write_bytes
    from workbench.train.sections.external import folder_section_data
    from workbench.validate import check_seed

    if check_cross_generator_tracks(n_tracks) == 0:
        raise ParameterError("cross_generator_tracks must be >= 1 to render a set; got 0")
    check_seed("seed", seed)
    root = Path(demo_folder) / CROSS_GENERATOR_DIR
    audio = root / "audio"
    styles = list(CROSS_GENERATOR_STYLES[:n_tracks])
    wanted = {"seed": seed, "styles": styles, "renderer": RENDERER, "sections": True, "devset": _devset_fingerprint()}
    stamp = root / "RENDERED.json"
    try:
        same = json.loads(stamp.read_text()) == wanted and all(
            (audio / f"{s}_00.{ext}").is_file() for s in styles for ext in ("flac", "json"))
    except (OSError, ValueError):
        same = False
    if not same:
        if root.is_dir():  # the demo's own folder: an older set (and its library) is replaced whole, never mixed in
            shutil.rmtree(root)
        write_set(audio, per_style=1, seed=seed, styles=styles, renderer=RENDERER, progress=progress, sections=True)
        atomic_write_bytes(stamp, json.dumps(wanted, indent=1).encode())
    data, info = folder_section_data(audio, library_dir=root, backbone=backbone, progress=progress)
    return data, {**info, "rendered": not same, "renderer": "numpy (workbench.devset.synth)", "seed": seed,
                  "style_names": styles}


def demo_cross_generator(folder: Path, backbone: Backbone, result: DemoResult, *, n_tracks: int, seed: int,
                         progress: bool) -> dict[str, SectionData] | None:
    """The demo's stage: the second set as ``{name: data}`` for the sections job, said in ``result``.

    Parameters
    ----------
    folder : Path
        The demo's folder.
    backbone : Backbone
        The demo's backbone.
    result : DemoResult
        Its ``cross_generator`` line is set (where the set is, or why it was not scored).
    n_tracks : int in [1, 9]
        Tracks of the set.
    seed : int >= 0
        The set's seed (the demo's).
    progress : bool
        Bars.

    Returns
    -------
    dict or None
        ``{CROSS_GENERATOR_NAME: SectionData}``; None when the set could not be made (the demo goes on).
    """
    from workbench.errors import WorkbenchError, failure_reason

    try:
        data, info = cross_generator_set(folder, n_tracks=n_tracks, seed=seed, backbone=backbone, progress=progress)
    except (WorkbenchError, OSError) as exc:  # a second set that cannot be made never stops the demo
        result.cross_generator = f"not scored: {failure_reason(exc)}"
        return None
    result.cross_generator = (f"{info['tracks']} tracks of {CROSS_GENERATOR_NAME} ({', '.join(info['style_names'])}; "
                              f"{info['renderer']}, seed {seed}; {'rendered now' if info['rendered'] else 'reused'}) "
                              f"in {info['library_dir']}")
    return {CROSS_GENERATOR_NAME: data}
