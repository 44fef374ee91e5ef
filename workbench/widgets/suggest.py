"""Where the labeler's suggestions come from: :func:`active_suggester`, the one place that picks the model.

>>> from workbench.widgets.suggest import active_suggester        # doctest: +SKIP
>>> suggest = active_suggester(library)                            # doctest: +SKIP
>>> suggest.said                                                   # doctest: +SKIP
'active model dj_section_v2 (run 20261205-...)'
>>> labels = Labels(library, suggest=suggest)                      # doctest: +SKIP

With an active ``dj_section`` model in the workspace's registry, the callable runs that model's
training run (:func:`workbench.train.sections.suggester`: calibrated probabilities, the learned
grammar, ``uncertain`` below the model's threshold: by default a calibrated chance of more than 1 in 5
that it is wrong, :data:`~workbench.labels.uncertain.UNCERTAIN_BELOW`). Without one it gives the unsupervised
novelty boundaries (:func:`workbench.train.sections.fallback_suggestions`), every one
``uncertain`` with confidence 0, named ``model_name="novelty"`` so the page can say so. Every
suggestion carries ``model_name``/``model_version``: rejections and accepted labels keep them.

It lives with the widgets because it reads the model registry (layer "results"), which the label
store (layer "content") may not import; :class:`workbench.labels.Labels` takes the callable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from workbench.errors import ParameterError, WorkbenchError
from workbench.labels import Suggestion
from workbench.labels.core import GUESSED_BY
from workbench.library import Library, Track

if TYPE_CHECKING:
    from workbench.config import Workspace
    from workbench.embed.batch import Backbone
    from workbench.runs import Run

#: ``model_name``/``model_version`` of the unsupervised fallback's suggestions.
FALLBACK_MODEL: tuple[str, str] = (GUESSED_BY, "foote")


@dataclass(frozen=True, eq=False)
class Suggester:
    """A labeler's suggester: call it with a track for its suggestions, each named by the model.

    ``model_name``/``model_version`` (``"dj_section"``/``"v2"``, or ``"novelty"``/``"foote"``),
    ``fallback`` (no section model: novelty boundaries), ``said`` (which model and why, in words).
    """

    model_name: str
    model_version: str
    fallback: bool
    said: str
    run_id: str | None
    _fn: Callable[[Track], Sequence[Suggestion]]

    def __call__(self, track: Track) -> list[Suggestion]:
        """The suggestions for ``track``, stamped with this suggester's model name and version.

        Parameters
        ----------
        track : Track
            A library track.
        """
        return [replace(s, model_name=self.model_name, model_version=self.model_version) for s in self._fn(track)]


def run_backbone(run: Run) -> Backbone:
    """The backbone a sections run was trained on (its window features must match the model's input).

    Parameters
    ----------
    run : Run
        A ``sections`` run.

    Raises
    ------
    ParameterError
        The run's backbone is not the one this machine has.
    """
    from workbench.embed.batch import default_backbone
    from workbench.embed.features import FeatureFrontend

    bb = run.info.get("backbone") or run.data.get("backbone")
    name = bb.get("name") if isinstance(bb, dict) else bb
    frontend = FeatureFrontend()
    if name is None or name == frontend.name:
        return frontend
    backbone, said = default_backbone()
    if backbone.name != name:
        raise ParameterError(f"run {run.run_id} was trained on backbone {name!r}, but this machine has {said}")
    return backbone


def active_section_run(library: Library, *, workspace: Workspace | None = None) -> tuple[Run, int, str] | None:
    """The active ``dj_section`` model's training run, its version number and its name; None without one.

    Parameters
    ----------
    library : Library
        Its database holds the registry's table.
    workspace : Workspace or None
        Where ``models/`` and ``experiments/`` are; default the library's own workspace.

    Returns
    -------
    (Run, int, str) or None
        None when no version is active, it names no run, or its run folder is gone.
    """
    from workbench import config
    from workbench.registry import Registry
    from workbench.runs import load_run

    ws = workspace if workspace is not None else config.workspace(db=library.path)
    if not ws.models.is_dir():  # the registry creates models/ when it opens: only look when it exists
        return None
    with Registry(library, root=ws.models, cleanup=False) as reg:
        active = reg.active("dj_section")
    if active is None or not active.run_id:
        return None
    try:
        run = load_run(active.run_id, root=ws.experiments)
    except WorkbenchError:
        return None  # its run folder was deleted
    return run, active.version, f"dj_section_v{active.version}"


def deactivated_section(library: Library, *, workspace: Workspace | None = None) -> str | None:
    """Which ``dj_section`` version ``workbench models deactivate`` made inactive, when, and how to undo it, while no
    version is active; None otherwise (one is active, or none ever was).

    Parameters
    ----------
    library : Library
        Its database holds the registry's table.
    workspace : Workspace or None
        Where ``models/`` is; default the library's own workspace.

    Returns
    -------
    str or None
        ``"dj_section_v2 was deactivated 2026-12-07 07:10 (UTC); `workbench models activate dj_section 2` makes it
        active again"``; ``"dj_section_v2 (deleted) was deactivated ..."`` once that version is deleted (the type
        stays off).
    """
    from workbench import config
    from workbench.registry import Registry
    from workbench.registry_active import deactivated_said

    ws = workspace if workspace is not None else config.workspace(db=library.path)
    if not ws.models.is_dir():
        return None
    with Registry(library, root=ws.models, cleanup=False) as reg:
        was = reg.deactivated("dj_section")
    return None if was is None else deactivated_said(was)


def active_suggester(library: Library, *, workspace: Workspace | None = None,
                     run: Run | str | os.PathLike[str] | None = None) -> Suggester:
    """The labeler's suggester: the active section model's, else the novelty fallback (module docstring).

    Parameters
    ----------
    library : Library
        The library whose tracks get suggestions.
    workspace : Workspace or None
        Where the registry and runs are; default the library's own workspace.
    run : Run, str, path or None
        A ``sections`` run (id or folder) to use instead of the active model.

    Returns
    -------
    Suggester
        ``track -> list[Suggestion]``; ``.fallback`` tells whether a model made them.

    Raises
    ------
    ParameterError
        ``run`` is not a sections run with a model, or was trained on another backbone.
    """
    from workbench.runs import Run, load_run
    from workbench.train.sections import suggester

    if not isinstance(library, Library):
        raise ParameterError(f"library must be a workbench Library; got {type(library).__name__}")
    if run is not None:
        r = run if isinstance(run, Run) else load_run(run)
        return Suggester("sections run", r.run_id, False, f"run {r.run_id} (asked for)", r.run_id,
                         suggester(library, r, backbone=run_backbone(r)))
    found = active_section_run(library, workspace=workspace)
    if found is None:
        off = deactivated_section(library, workspace=workspace)
        return Suggester(*FALLBACK_MODEL, True, "no active section model: novelty boundaries, labels guessed "
                                                + f"({off or _no_model_yet_said(library, workspace)})",
                         None, suggester(library, None))
    r, version, name = found
    return Suggester("dj_section", f"v{version}", False, f"active model {name} (run {r.run_id}){forced_said(r)}",
                     r.run_id, suggester(library, r, backbone=run_backbone(r)))


def _no_model_yet_said(library: Library, workspace: Workspace | None) -> str:
    """What to do when no section model is active and none was turned off: train one, or, where a sections run
    exists, export it (the labeler suggests with the active model only; ``workbench suggest`` takes the newest run)."""
    from workbench import config
    from workbench.runs import list_runs

    ws = workspace if workspace is not None else config.workspace(db=library.path)
    runs = [r for r in list_runs(ws.experiments, kind="sections") if r.model_path is not None]
    if not runs:
        return "train one with `workbench train sections`"
    return (f"sections run {runs[-1].run_id} is trained but not exported: `workbench export {runs[-1].run_id}` "
            "makes it the labeler's model, `--force --activate` if it fails its gates")


def forced_said(run: Run) -> str:
    """What to add to an active section model's name when its run fails a blocking gate (it was exported with
    ``--force``): ``" (forced past its gates: not better than majority (...); treat its suggestions with care)"``, else ``""``.

    Parameters
    ----------
    run : Run
        The active ``dj_section`` version's sections run.
    """
    failed = failed_gates_said(run.metrics)
    return f" (forced past its gates: {failed}; treat its suggestions with care)" if failed else ""


def failed_gates_said(metrics: dict) -> str:
    """A sections run's failing blocking gates in words, each gate named once with its figures:
    ``"not better than majority (macro_f1 of smoothed sections 0.1685 < 0.1901, accuracy of smoothed sections 0.2508
    < 0.6133)"``, ``"boundaries below novelty (boundary F @3 s of smoothed sections 0.4100 < 0.8600)"``: what failed
    (:attr:`~workbench.evaluate.gates.BlockingGate.said_name`); ``""`` when none fails. Each figure as :attr:`~workbench.evaluate.gates.BlockingGate.figure` names it, without how the
    gate judged it (the report and ``train sections`` say that).

    Parameters
    ----------
    metrics : dict
        The run's metrics (``Run.metrics``).
    """
    from workbench.evaluate.gates import blocking_gates
    from workbench.wording import score_text

    failed: dict[str, list[str]] = {}  # two gates share the name "better than majority": say it once
    for g in blocking_gates(metrics, "sections"):
        if g.status == "fail":
            failed.setdefault(g.said_name, []).append(f"{g.figure} {score_text(g.value)} {g.said_op} {score_text(g.target)}")
    return "; ".join(f"{name} ({', '.join(parts)})" for name, parts in failed.items())
