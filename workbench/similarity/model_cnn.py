"""A CNN trained by ``workbench train embeddings --backbone cnn`` as the model search ranks with (``--model cnn``).

A CNN run saves no head: its ``model.pt`` is the whole audio-in network, which search uses as the
backbone (its window means, no head), as the run's search gate measured it
(:mod:`workbench.train.embeddings_search`). :func:`find_cnn` finds it for
:func:`workbench.similarity.model.resolve_model`:

* ``"cnn"``: the registry's active ``embedding`` version when its run trained a CNN, else the newest
  run that trained one in the library's workspace (:func:`workbench.runs.latest_cnn_run`, as
  ``workbench embed --backbone cnn`` finds it);
* ``"cnn@N"``: version ``N`` of the ``embedding`` model, active or not, which must be a CNN.

Plain search (no model named) ranks with the CNN too when the registry's active ``embedding`` version is one
(the user activated or exported it) and it was activated after the active ``head`` version, or no head is active:
:func:`default_cnn`. The rule is the most recently activated of the two (the time each was last made active,
``activated_at`` in its registry row, else when it was registered); a tie keeps the head. Exporting a head run that
passes its gates activates its head and its own (non-CNN) embedding model together, so a CNN never outranks a head
exported after it.

The model's index is keyed by the CNN's weights (its backbone name is ``cnn-v1-<sha256[:12]>``), and
its name (``cnn@N``, or ``cnn of run <id>``) is in every result. :func:`cnn_of_run` is a run's CNN (the run report's search
before/after, :func:`workbench.similarity.model.cnn_model_from_run`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
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
            raise ParameterError(f"model must be 'cnn', 'cnn@N' with N an embedding version in {[r['version'] for r in rows]}, "
                                 f"'backbone', 'head' or 'head@N'; got {model!r} (no embedding version {m.group(1)})")
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


def _when(row: dict[str, Any]) -> datetime:
    """When a registry row was last made active (else registered), as an aware datetime; the earliest when unreadable."""
    from workbench.runs import parse_utc

    at = parse_utc(row.get("activated_at"))
    return datetime.min.replace(tzinfo=timezone.utc) if at is None else at


def default_cnn(library: Library, embedding_rows: Sequence[dict[str, Any]],
                head_rows: Sequence[dict[str, Any]]) -> tuple[CNNBackbone, str, str, str] | None:
    """The CNN that search ranks with when no model is named, or None (the active head's rule then decides).

    The active ``embedding`` version counts when its metadata names a CNN backbone (``cnn-v1-...``) and it was
    activated after the active ``head`` version (``activated_at``), or no head is active; a tie keeps the head.

    Parameters
    ----------
    library : Library
        Whose workspace holds the runs.
    embedding_rows, head_rows : sequence of dict
        The registry's ``embedding`` and ``head`` versions (``version``, ``active``, ``run_id``, ``metadata``,
        ``activated_at``).

    Returns
    -------
    (CNNBackbone, str, str, str) or None
        The CNN as a backbone, its run id, its name (``"cnn@N"``) and why it ranks, in words (its run, and the head
        it was activated after).

    Raises
    ------
    ParameterError
        The active CNN's weights are gone or are not a CNN (the caller says so and ranks without it).
    """
    active = next((r for r in embedding_rows if r["active"]), None)
    info = None if active is None else active["metadata"].get("backbone")
    if active is None or not (isinstance(info, dict) and str(info.get("name", "")).startswith("cnn")):
        return None
    head = next((r for r in head_rows if r["active"]), None)
    if head is not None and _when(active) <= _when(head):
        return None
    cnn, run_id, label = find_cnn(library, f"cnn@{active['version']}", embedding_rows)
    why = f"the active embedding model, the cnn of run {run_id}"
    if head is not None:
        why += f", activated after the active head@{head['version']} (--model head ranks with the head)"
    return cnn, run_id, label, why


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
