"""Exporting from a cell that may run again (notebook 06): export, or name what is registered already.

Export refuses a duplicate version (:class:`~workbench.export.reexport.AlreadyExportedError`); a
notebook cell run a second time with the same options shows the versions the run has instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.export.coreml_finish import ExportResult
    from workbench.registry import Registry
    from workbench.registry_types import Version
    from workbench.runs import Run


def export_or_registered(run: Run, *, registry: Registry, **options: Any) -> tuple[list[tuple[ExportResult, Version]],
                                                                               list[Version], str]:
    """Export a run, or say why not: the versions it has already, or the gates it fails (notebook 06).

    Parameters
    ----------
    run : Run
        The training run.
    registry : Registry
        Where it is registered (its library is the run's).
    **options
        :func:`workbench.export.run_export.export_run`'s keywords (``io_dtype``, ``force`` ...).

    Returns
    -------
    exported : list of (ExportResult, Version)
        What this call registered (empty when nothing was).
    registered : list of Version
        The versions the run had already with these options (the cell run again), else empty.
    said : str
        Why nothing was exported (already exported; failing gates), else ``""``.
    """
    from workbench.evaluate.gates import GateFailedError
    from workbench.export.reexport import NOTEBOOK_NEXT, AlreadyExportedError, already_exported_message
    from workbench.export.run_export import export_run

    try:
        return export_run(run, registry=registry, library=registry.library, **options), [], ""
    except AlreadyExportedError as exc:  # said with the notebook's parameters, not the command's options
        return [], list(exc.versions), already_exported_message(run.run_id, list(exc.versions),
                                                                next_steps=NOTEBOOK_NEXT)
    except GateFailedError as exc:
        return [], [], f"Not exported:\n{exc}"


def registered_said(registry: Registry, version: Version) -> str:
    """What notebook 06 run again says of a version the run had already: active or not, and, where
    ``workbench models deactivate`` left its type with no version active, which was turned off and how it is made
    active again (as ``workbench models list`` says it).

    Parameters
    ----------
    registry : Registry
        Where it is registered.
    version : Version
        The version registered before.

    Returns
    -------
    str
        ``"head_v2: registered before, not active; no head version is active: head_v2 was deactivated
        2026-12-07 07:50 (UTC); `workbench models activate head 2` makes it active again"``.
    """
    from workbench.registry_active import deactivated_said

    if registry.get(version.model_type, version.version).active:
        return f"{version.name}: registered before, active"
    was = registry.deactivated(version.model_type)
    off = "" if was is None else f"; no {version.model_type} version is active: {deactivated_said(was)}"
    return f"{version.name}: registered before, not active{off}"
