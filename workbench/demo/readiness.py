"""Can the demo train the section model? The readiness rule, checked before anything is made.

Section training needs ``min_per_class`` (10) labelled sections per class it sees (the readiness
rule, :func:`workbench.train.sections.check_readiness`). The demo labels its tracks from their
ground truth, and its styles take turns (:data:`workbench.demo.styles.STYLES`), so the section
counts of ``n`` labelled tracks follow from the styles' templates: :func:`check_demo_size` refuses
a ``workbench demo --tracks N`` that cannot train, naming the fewest tracks that can
(:func:`min_demo_tracks`); :func:`check_demo_labels` checks the labels actually imported (a set
``duration_s`` may drop sections).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.library import Library, Track


#: The demo's section-training settings (the pipeline trains with these; readiness is judged on them).
SECTIONS_CONFIG: dict[str, Any] = {"seed": 0}


def _template_counts(n_labeled: int) -> dict[str, int]:
    """Sections per label in the first ``n_labeled`` demo tracks at their natural length (styles in turn)."""
    from workbench.demo.styles import SPECS, STYLES

    counts: Counter[str] = Counter()
    for i in range(n_labeled):
        counts.update(p.label for p in SPECS[STYLES[i % len(STYLES)]].template)
    return dict(counts)


def _demo_ready(n_labeled: int, min_per_class: int, min_classes: int) -> bool:
    from workbench.train.sections import NotReadyError, check_readiness

    try:
        check_readiness(_template_counts(n_labeled), min_per_class=min_per_class, min_classes=min_classes)
    except NotReadyError:
        return False
    return n_labeled >= 2  # one track held out, one to train on


def min_demo_tracks(*, n_unlabeled: int = 3, sections_config: dict[str, Any] | None = None) -> int:
    """The fewest demo tracks from which every larger count trains the section model.

    Section training needs ``min_per_class`` (10) labelled sections per class it sees (the
    readiness rule, :func:`workbench.train.sections.check_readiness`); the demo's styles take
    turns, and only house and downtempo have verses and choruses, so those set the minimum.

    Parameters
    ----------
    n_unlabeled : int >= 0
        Demo tracks left unlabelled.
    sections_config : dict or None
        Section-training options over the demo's (``min_per_class``, ``min_classes``).

    Returns
    -------
    int
    """
    from workbench.train.sections import CONFIG_DEFAULTS

    cfg = {**CONFIG_DEFAULTS, **SECTIONS_CONFIG, **(sections_config or {})}
    ok = [_demo_ready(k, cfg["min_per_class"], cfg["min_classes"]) for k in range(1, 501)]
    k = len(ok)
    while k > 0 and ok[k - 1]:
        k -= 1
    return k + 1 + n_unlabeled


def check_demo_size(n_tracks: int, *, n_unlabeled: int = 3, sections_config: dict[str, Any] | None = None) -> None:
    """Refuse a demo whose labelled tracks cannot pass the readiness rule (before anything is made).

    Parameters
    ----------
    n_tracks : int
        Demo tracks asked for.
    n_unlabeled : int >= 0
        Of those, left unlabelled.
    sections_config : dict or None
        Section-training options over the demo's.

    Raises
    ------
    ParameterError
        ``"n_tracks must be >= 25 to train ..."``, with the classes that fall short.
    """
    from workbench.train.sections import CONFIG_DEFAULTS

    cfg = {**CONFIG_DEFAULTS, **SECTIONS_CONFIG, **(sections_config or {})}
    n_labeled = n_tracks - n_unlabeled
    if _demo_ready(n_labeled, cfg["min_per_class"], cfg["min_classes"]):
        return
    need = min_demo_tracks(n_unlabeled=n_unlabeled, sections_config=sections_config)
    counts = _template_counts(n_labeled)
    short = ", ".join(f"{k} {v}/{cfg['min_per_class']}" for k, v in counts.items() if v < cfg["min_per_class"])
    raise ParameterError(
        f"n_tracks must be >= {need} to train the section model with n_unlabeled={n_unlabeled}: training needs "
        f"{cfg['min_per_class']} labelled sections per class (the readiness rule), and {n_labeled} labelled demo "
        f"tracks give {short or 'fewer than 2 tracks'}; got n_tracks={n_tracks} (or use train=False / --no-train)")


def check_demo_labels(lib: Library, labeled: list[Track], cfg: dict[str, Any]) -> None:
    """The readiness rule on the labels just imported (sections may be fewer with a set ``duration_s``).

    Parameters
    ----------
    lib : Library
    labeled : list of Track
        The demo tracks just labelled.
    cfg : dict
        Section-training options (``min_per_class``, ``min_classes``).

    Raises
    ------
    NotReadyError
        If their sections fail the readiness rule.
    """
    from workbench.train.datasets import library_sections
    from workbench.train.sections import CONFIG_DEFAULTS, NotReadyError, check_readiness

    ids = {t.id for t in labeled}
    counts = Counter(s["label"] for s in library_sections(lib) if s["track_id"] in ids)
    opts = {**CONFIG_DEFAULTS, **cfg}
    try:
        check_readiness(counts, min_per_class=opts["min_per_class"], min_classes=opts["min_classes"])
    except NotReadyError as exc:
        raise NotReadyError(f"the demo's {len(labeled)} labelled tracks cannot train the section model: {exc}; "
                            "use more tracks (--tracks) or the natural track length") from exc


__all__ = ["check_demo_labels", "check_demo_size", "min_demo_tracks"]
