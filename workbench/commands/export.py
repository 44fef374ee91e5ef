"""``workbench export`` and ``workbench models list|activate|rollback|deactivate|delete|compare``.

The sentences they print of a version's state (why inactive, the way back) are in
:mod:`workbench.commands.version_said`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from workbench.commands.version_said import (  # noqa: F401  (re-exported: the sentences' old home)
    _changed,
    activate_hint,
    forced_line,
    inactive_line,
    inactive_reason,
    registered_inactive_reason,
    way_back,
)

if TYPE_CHECKING:
    from workbench.registry_types import Version

_TYPES = ("dj_section", "embedding", "head")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` and ``models`` commands.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()`` object.
    """
    p = sub.add_parser("export", help="export a training run's model(s) to Core ML, check them, register a version")
    p.add_argument("run", nargs="?", default=None,
                   help="run id (default: the newest run whose training job completed)")
    p.add_argument("--io", choices=("fp32", "fp16"), default="fp32", help="input/output dtype (default fp32)")
    p.add_argument("--target", default="macOS14",
                   choices=("macOS13", "macOS14", "macOS15", "iOS16", "iOS17", "iOS18"),
                   help="minimum deployment target (default macOS14)")
    p.add_argument("--compress", choices=("int8", "palettize6", "palettize4"), default=None,
                   help="weight compression (default none)")
    p.add_argument("--input", choices=("samples", "logmel"), default="samples",
                   help="audio-in models' input: mono samples, the spectrogram inside (default), or OpenL3's "
                        "log-mel patch; a feature-frontend run's embedding model takes the whole track")
    p.add_argument("--search-windows", action="store_true",
                   help="the whole-track embedding model (feature-frontend run) returns one row per window "
                        "search indexes (8 s, hop 2 s) instead of one per frame: an app's cosines are "
                        "`workbench similar`'s window scores")
    p.add_argument("--weights", default=None, help="OpenL3 weight file (for an OpenL3 run)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--no-activate", action="store_true", help="register without making it the active version")
    which.add_argument("--activate", action="store_true",
                       help="make it the active version (what `suggest` and `similar` use) even when --force "
                            "exported it past a failing gate; without this a forced model is registered inactive, and so is "
                            "one of a type `workbench models deactivate` left with none active")
    p.add_argument("--force", action="store_true",
                   help="export even if the model fails a blocking gate (worse than its baseline or the active "
                        "version); recorded in the model's metadata and card. The forced version is NOT made "
                        "active unless --activate is given (or `workbench models activate TYPE N --force` later)")
    p.add_argument("--json", action="store_true", help="print the versions made as JSON")
    p.set_defaults(func=_cmd_export)

    m = sub.add_parser("models", help="the model registry: list, activate, rollback, deactivate, delete, compare")
    msub = m.add_subparsers(dest="models_command", metavar="ACTION")
    m.set_defaults(func=lambda args: (m.print_help(), 2)[1])  # bare `models`: its actions, as `runs` and `crates`
    q = msub.add_parser("list", help="list the model versions (and files in models/ that were skipped)")
    q.add_argument("--type", choices=_TYPES, default=None)
    q.add_argument("--json", action="store_true", help="print the versions as JSON")
    q.set_defaults(func=_cmd_list)
    q = msub.add_parser("activate", help="make a version the active one")
    q.add_argument("type", choices=_TYPES)
    q.add_argument("version", type=int)
    q.add_argument("--force", action="store_true",
                   help="activate even if it fails a blocking gate (recorded in its metadata and card)")
    q.add_argument("--json", action="store_true", help="print what changed as JSON (the version before and now)")
    q.set_defaults(func=_cmd_activate)
    q = msub.add_parser("rollback", help="activate the version before the active one")
    q.add_argument("type", choices=_TYPES)
    q.add_argument("--force", action="store_true", help="roll back even if that version fails its baseline gates")
    q.add_argument("--json", action="store_true", help="print what changed as JSON (the version before and now)")
    q.set_defaults(func=_cmd_rollback)
    q = msub.add_parser("deactivate", help="make no version of a type active (`activate` undoes it)")
    q.add_argument("type", choices=_TYPES)
    q.add_argument("--json", action="store_true", help="print what changed as JSON (the version before and now)")
    q.set_defaults(func=_cmd_deactivate)
    q = msub.add_parser("delete", help="delete a version (not the active one)")
    q.add_argument("type", choices=_TYPES)
    q.add_argument("version", type=int)
    q.add_argument("--json", action="store_true", help="print what was deleted as JSON (the version and its files)")
    q.set_defaults(func=_cmd_delete)
    q = msub.add_parser("compare", help="two versions' metrics side by side")
    q.add_argument("type", choices=_TYPES)
    q.add_argument("a", type=int)
    q.add_argument("b", type=int)
    q.add_argument("--json", action="store_true", help="print the comparison as JSON")
    q.set_defaults(func=_cmd_compare)


def _registry(args: argparse.Namespace):  # -> Registry
    from workbench.commands import open_library
    from workbench.registry import Registry

    open_library(args).close()  # a missing library is refused, never created by a read
    reg = Registry(getattr(args, "db", None))
    if reg.last_cleanup and not getattr(args, "quiet", False) and not getattr(args, "json", False):
        print(reg.last_cleanup)
    return reg


def _print_json(doc: object) -> None:
    print(json.dumps(doc, indent=2, default=str))


def _cmd_export(args: argparse.Namespace) -> int:
    from workbench.errors import ParameterError
    from workbench.export import export_run, exportable_runs
    from workbench.runs import load_run

    with _registry(args) as reg:
        if args.run is None:
            runs = exportable_runs(reg.library)
            if not runs:
                raise ParameterError(f"no run of a completed training job with a model.pt under "
                                     f"{reg.library.workspace.experiments}; train one first (e.g. `make demo`) "
                                     "or pass a run id")
            run = runs[-1]
        else:
            run = load_run(args.run, root=reg.library.workspace.experiments)
        from workbench.export.reexport import AlreadyExportedError

        before = {t: reg.active(t) for t in _TYPES}  # to name the way back from a forced --activate
        try:
            done = export_run(run, library=reg.library, registry=reg, io_dtype=args.io,
                              deployment_target=args.target, compress=args.compress,
                              activate=True if args.activate else False if args.no_activate else None,
                              openl3_weights=args.weights, input=args.input, force=args.force,
                              search_windows=args.search_windows,
                              progress=not (args.json or getattr(args, "quiet", False)))
        except AlreadyExportedError as already:  # the same run and options: no duplicate version
            if args.json:
                _print_json({"run_id": run.run_id, "versions": [],
                             "already_exported": [{**v.as_dict(), "inactive_reason": registered_inactive_reason(reg, v)}
                                                  for v in already.versions]})
            else:
                print(already)
            return 0
        for _, version in done:  # on stderr, also beside --json: a forced version's activation is never silent
            if version.forced:
                print(forced_line(version, reg.active(version.model_type), before=before.get(version.model_type),
                                  versions=reg.list(version.model_type),
                                  deactivated=reg.deactivated(version.model_type) is not None), file=sys.stderr)
        if args.json:
            _print_json({"run_id": run.run_id, "already_exported": [], "versions": [
                {**version.as_dict(), "lint": {"errors": len(result.lint.errors),
                                               "warnings": len(result.lint.warnings)},
                 "inactive_reason": inactive_reason(reg, version, no_activate=args.no_activate,
                                                    before=before.get(version.model_type))}
                for result, version in done]})
            return 0
        for result, version in done:
            print(f"== {version.name} ({'active' if version.active else 'inactive'})"
                  + (" FORCED past failing gates" if version.forced else ""))
            # the sentence --json gives as inactive_reason (a forced version's is on stderr above)
            off = None if version.forced else inactive_reason(reg, version, no_activate=args.no_activate,
                                                               before=before.get(version.model_type))
            if off:
                print(off)
            print(result)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from workbench.commands import count_of
    from workbench.registry_active import deactivated_said
    from workbench.registry_types import MODEL_TYPES
    from workbench.runs import started_text

    with _registry(args) as reg:
        versions = reg.list(args.type)
        problems = reg.last_cleanup.problems
        off = [was for was in map(reg.deactivated, [args.type] if args.type else MODEL_TYPES) if was is not None]
        if args.json:  # deactivated: the types turned off (a type turned off reads as never active)
            _print_json({"root": str(reg.root), "versions": [v.as_dict() for v in versions],
                         "deactivated": [was.as_dict() for was in off],
                         "problems": [{"file": n, "reason": r} for n, r in problems]})
            return 0
        print(f"{'model':18}  {'active':6}  {'semver':8}  {'size MB':>8}  {'PSNR dB':>7}  {'created (UTC)':16}  run")
        for v in versions:
            par = (v.export or {}).get("parity") or {}
            psnr = par.get("psnr_db")
            psnr = f"{psnr:7.1f}" if isinstance(psnr, (int, float)) else f"{'-':>7}"
            print(f"{v.name:18}  {'*' if v.active else '':6}  {str(v.metadata.get('version')):8}  "
                  f"{v.size_bytes / 1e6:8.2f}  {psnr}  {started_text(v.created_at) or '-':16}  {v.run_id or '-'}"
                  + ("  (forced)" if v.forced else ""))
        print(f"{count_of(len(versions), 'version')} in {reg.root}")
        for was in off:  # its version may be deleted: the type is still off
            print(f"{was.model_type}: no version active: {deactivated_said(was)}")
        if problems and args.quiet:  # not printed with the cleanup report above
            for name, why in problems:
                print(f"skipped {name}: {why}")
    return 0


def _cmd_activate(args: argparse.Namespace) -> int:
    from workbench.evaluate.gates import GateFailedError
    from workbench.export.activation import activation_decision

    with _registry(args) as reg:
        before = reg.active(args.type)
        wanted = reg.get(args.type, args.version)
        records = len(wanted.forced)  # a new record: this activation was forced
        # notebook 06's rule: versions measured on different held-out tracks cannot be compared
        decision = activation_decision(reg, args.type, wanted.metrics, exclude_version=args.version)
        back = way_back(args.type, args.version, before, reg.list(args.type))
        try:
            v = reg.activate(args.type, args.version, force=args.force)
        except GateFailedError as refused:  # the refusal says how to undo a forced activation too
            raise GateFailedError(f"{refused}\nIf you force it, {back}.", gates=refused.gates) from None
        if len(v.forced) > records:  # on stderr, also beside --json: a forced activation is never silent
            print(f"WARNING: {v.name} is ACTIVE past its failing gates: `suggest` and `similar` use it; {back}",
                  file=sys.stderr)
        if args.json:
            _print_json({**_activation(args.type, before, v, forced=bool(args.force and v.forced)),
                         "comparable": decision.comparable, "compared": decision.compared,
                         "comparison": decision.reason})
            return 0
        print(f"active {args.type}: {v.name}" + (" (forced past failing gates)" if args.force and v.forced else "")
              + f" ({_changed(before, v, back)})")
        if not decision.comparable:  # "cannot tell whether it is better than head_v1: ... different held-out tracks"
            print(f"note: {decision.reason}")
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    with _registry(args) as reg:
        before = reg.active(args.type)
        v = reg.rollback(args.type, force=args.force)
        if args.json:
            _print_json(_activation(args.type, before, v, forced=bool(args.force and v.forced)))
            return 0
        print(f"active {args.type}: {v.name}")
    return 0


#: What a type's default model becomes with no version of it active (``models deactivate`` says it).
WITH_NONE_ACTIVE = {
    "dj_section": "`workbench suggest` and the labeler suggest novelty boundaries (no model, labels guessed)",
    "head": "plain `workbench similar` ranks without a head (the active CNN embedding model, else the backbone)",
    "embedding": "plain `workbench similar` ranks with the active head, else the backbone",
}


def _cmd_deactivate(args: argparse.Namespace) -> int:
    with _registry(args) as reg:
        was = reg.deactivate(args.type)
        if args.json:
            _print_json({"model_type": args.type, "previous": None if was is None else was.as_dict(), "active": None,
                         "changed": was is not None})
            return 0
        if was is None:
            print(f"no {args.type} version is active; nothing changed")
            return 0
        print(f"deactivated {was.name}: no {args.type} version is active now; {WITH_NONE_ACTIVE[args.type]}. "
              f"`workbench models activate {args.type} {was.version}{' --force' if was.forced else ''}` makes it "
              "active again")
    return 0


def _activation(model_type: str, before: Version | None, now: Version, *, forced: bool) -> dict[str, Any]:
    """What ``models activate|rollback --json`` prints: the active version before and now, and whether it changed."""
    return {"model_type": model_type, "previous": None if before is None else before.as_dict(),
            "active": now.as_dict(), "changed": before is None or before.version != now.version,
            "forced_past_gates": forced}


def _cmd_delete(args: argparse.Namespace) -> int:
    with _registry(args) as reg:
        gone = reg.get(args.type, args.version)  # what is deleted, said after it is gone
        reg.delete(args.type, args.version)
        if args.json:
            _print_json({"model_type": args.type, "deleted": gone.as_dict()})
            return 0
        print(f"deleted {gone.name}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    with _registry(args) as reg:
        cmp = reg.compare(args.type, args.a, args.b)
        if args.json:
            _print_json(cmp.as_dict())
        else:
            print(cmp)
    return 0
