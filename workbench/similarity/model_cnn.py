"""A CNN trained by ``workbench train embeddings --backbone cnn`` as the model search ranks with (``--model cnn``).

A CNN run saves no head: its ``model.pt`` is the whole audio-in network, which search uses as the
backbone (its window means, no head), as the run's search gate measured it
(:mod:`workbench.train.embeddings_search`). :func:`find_cnn` finds it for
:func:`workbench.similarity.model.resolve_model`:

* ``"cnn"``: the registry's active ``embedding`` version when its run trained a CNN, else the newest
  run that trained one in the library's workspace (:func:`workbench.runs.latest_cnn_run`, as
  ``workbench embed --backbone cnn`` finds it);
* ``"cnn@N"``: version ``N`` of the ``embedding`` model, active or not, which must be a CNN.

The model's index is keyed by the CNN's weights (its backbone name is ``cnn-v1-<sha256[:12]>``), and
its name (``cnn@N``, or ``cnn of run <id>``) is in every result. :func:`cnn_of_run` is a run's CNN (the run report's search
before/after, :func:`workbench.similarity.model.cnn_model_from_run`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.library import Library
    from workbench.models.cnn_backbone import CNNBackbone


def _cnn_at(path: Path, what: str) -> Any:
    """The CNN in a run's ``model.pt`` (read with ``weights_only=True``); ParameterError naming ``what`` if it is not one."""
    from workbench.models.cnn import load_cnn
    from workbench.models.heads import CheckpointError

    if not path.is_file():
        raise ParameterError(f"{what}: its weights ({path}) are gone; train again or choose another --model")
    try:
        return load_cnn(path)
    except (CheckpointError, ParameterError) as exc:
        raise ParameterError(f"{what} is not a CNN trained with `workbench train embeddings --backbone cnn` "
                             f"({path}: {exc})") from exc


def find_cnn(library: Library, model: str, rows: Sequence[dict[str, Any]]) -> tuple[CNNBackbone, str, str]:
    """The CNN ``model`` names (see the module), the run that trained it and its name in results.

    Parameters
    ----------
    library : Library
        Whose workspace holds the runs.
    model : str
        ``"cnn"`` or ``"cnn@N"``.
    rows : sequence of dict
        The registry's ``embedding`` versions (``version``, ``active``, ``run_id``, ``metadata``), by version.

    Returns
    -------
    (CNNBackbone, str, str)
        The CNN as a backbone, its run id, and its name: ``"cnn@N"`` (a registered version) or ``"cnn of run <id>"``.

    Raises
    ------
    ParameterError
        No such version, a version that is not a CNN, weights that are gone (``"cnn"`` too, when the active
        embedding version is a CNN: it is never replaced by another run's), or no CNN at all (the message says
        how to train one).
    """
    from workbench.models.cnn_backbone import CNNBackbone, recorded_hop_s
    from workbench.runs import latest_cnn_run, load_run

    root = Path(library.workspace.experiments)
    m = re.fullmatch(r"cnn(?:@(\d+))?", model)
    if m is None:
        raise ParameterError(f"model must be 'cnn' or 'cnn@N'; got {model!r}")
    row: dict[str, Any] | None = None
    net = None
    if m.group(1) is not None:
        row = next((r for r in rows if r["version"] == int(m.group(1))), None)
        if row is None:
            raise ParameterError(f"model must be 'cnn' or 'cnn@N' with N an embedding version in "
                                 f"{[r['version'] for r in rows]}; got {model!r}")
    else:
        active = next((r for r in rows if r["active"]), None)
        if active is not None and active["run_id"]:
            info = active["metadata"].get("backbone")
            said_cnn = isinstance(info, dict) and str(info.get("name", "")).startswith("cnn")
            try:
                net = _cnn_at(root / str(active["run_id"]) / "model.pt", f"embedding@{active['version']}")
                row = active
            except ParameterError:  # the active embedding model is not a CNN: the newest CNN run
                if said_cnn:  # it is one whose weights are gone: said, as --model head says it, not replaced
                    raise
    if row is not None:
        run_id, label = str(row["run_id"]), f"cnn@{row['version']}"
        if net is None:
            net = _cnn_at(root / run_id / "model.pt", f"embedding@{row['version']} (run {run_id})")
        return CNNBackbone(net, hop_s=recorded_hop_s(row["metadata"].get("backbone")), trained=f"run {run_id}"), \
            run_id, label
    found = latest_cnn_run(root)
    if found is None:
        raise ParameterError(f"model 'cnn' needs a CNN: none is registered as the active embedding model and no run "
                             f"in {root} trained one; train one with `workbench train embeddings --backbone cnn` "
                             "(--distill features to learn the feature frontend's head)")
    return cnn_of_run(load_run(found[0], root=root)), found[0], f"cnn of run {found[0]}"


def cnn_of_run(run: Any) -> CNNBackbone:
    """The CNN a ``--backbone cnn`` run trained, as the backbone search ranks with, at the hop its run records.

    Parameters
    ----------
    run : Run
        An embeddings run of ``workbench train embeddings --backbone cnn`` (its ``model.pt`` and ``run.json``).

    Raises
    ------
    ParameterError
        The run has no ``model.pt``, or it is not a CNN.
    """
    from workbench.models.cnn_backbone import CNNBackbone, recorded_hop_s

    if run.model_path is None:
        raise ParameterError(f"run {run.run_id} has no model.pt")
    net = _cnn_at(Path(run.model_path), f"run {run.run_id}")
    return CNNBackbone(net, hop_s=recorded_hop_s(run.info.get("backbone")), trained=f"run {run.run_id}")
