"""A run exported again with the same options: the versions it already has, not a duplicate.

Exporting the same run twice with the same options used to register the same model again as a
new version (v1 as ``1.0.0``, then v2 as ``2.0.0``: identical packages, two versions). The
options an export was made with are recorded in its registry JSON (``export.options``); an older
record without them is read from its export report and metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.registry_types import Version


class AlreadyExportedError(ParameterError):
    """Every model of a run is registered already with the same export options."""

    def __init__(self, message: str, *, versions: list[Version]) -> None:
        super().__init__(message)
        #: the versions the run already has, one per model type
        self.versions = versions


def export_options(*, io_dtype: str, deployment_target: str, compress: str | None, input: str,
                   search_windows: bool) -> dict[str, Any]:
    """The options that make one export of a run differ from another (as recorded in the registry).

    Parameters
    ----------
    io_dtype : {"fp32", "fp16"}
    deployment_target : str
    compress : str or None
    input : {"samples", "logmel"}
    search_windows : bool
        See :func:`workbench.export.run_export.export_run`.

    Returns
    -------
    dict
        ``{"io_dtype", "deployment_target", "compress", "input", "search_windows"}``.
    """
    return {"io_dtype": io_dtype, "deployment_target": deployment_target, "compress": compress, "input": input,
            "search_windows": bool(search_windows)}


def _recorded_options(version: Version) -> dict[str, Any]:
    """A version's export options; an older record's from its export report (input not recorded)."""
    export = version.export or {}
    if "options" in export:
        return dict(export["options"])
    return {"io_dtype": export.get("io_dtype"), "deployment_target": export.get("deployment_target"),
            "compress": export.get("compress"), "search_windows": "search_windows" in (version.metadata or {})}


def exported_versions(registry: Registry, run_id: str, options: dict[str, Any]) -> dict[str, Version]:
    """The registered versions of a run made with these export options, newest per model type.

    Parameters
    ----------
    registry : Registry
    run_id : str
        The training run.
    options : dict
        :func:`export_options`; an older record without ``input`` matches on the rest.

    Returns
    -------
    dict
        ``{model type: Version}``; empty when the run was never exported with these options.
    """
    found: dict[str, Version] = {}
    for version in registry.list():
        if version.run_id != run_id:
            continue
        recorded = _recorded_options(version)
        if all(recorded[k] == options[k] for k in recorded if k in options):
            found[version.model_type] = version
    return found


#: What to do next, on the command line (:func:`already_exported_message`'s default).
CLI_NEXT = ("`workbench models activate TYPE N` makes one active; --io, --target, --compress or --input make "
            "another export")
#: What to do next, in notebook 06 (its parameters; no ``input`` there).
NOTEBOOK_NEXT = ("`registry.activate(TYPE, N)` or `workbench models activate TYPE N` makes one active; another "
                 "io_dtype, deployment_target or compress in the parameters cell makes another export")


def already_exported_message(run_id: str, versions: list[Version], *, next_steps: str = CLI_NEXT) -> str:
    """``run R is already exported (same options) as head_v1 (1.0.0, active), ...``.

    Parameters
    ----------
    run_id : str
    versions : list of Version
    next_steps : str
        What to do next, in the words of where it is read (:data:`CLI_NEXT`, :data:`NOTEBOOK_NEXT`).

    Returns
    -------
    str
        One line, with what to run for a new version or to activate one.
    """
    said = ", ".join(f"{v.name} ({v.metadata.get('version')}, {'active' if v.active else 'inactive'})"
                     for v in versions)
    if next_steps == CLI_NEXT:  # the command line: the very command for each inactive version (a forced one: --force)
        inactive = [f"`workbench models activate {v.model_type} {v.version}{' --force' if v.forced else ''}`"
                    for v in versions if not v.active]
        verb = "makes it" if len(inactive) == 1 else "make them"
        next_steps = ((f"{' and '.join(inactive)} {verb} active; " if inactive else "")
                      + "--io, --target, --compress or --input make another export")
    return f"run {run_id} is already exported with these options as {said}: nothing registered ({next_steps})"

