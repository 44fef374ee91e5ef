"""``workbench export`` and ``workbench models list|activate|rollback|delete|compare``."""

from __future__ import annotations

import argparse

_TYPES = ("dj_section", "embedding", "head")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` and ``models`` commands."""
    p = sub.add_parser("export", help="export a training run's model(s) to Core ML, check them, register a version")
    p.add_argument("run", nargs="?", default=None, help="run id (default: the newest run with a model)")
    p.add_argument("--io", choices=("fp32", "fp16"), default="fp32", help="input/output dtype (default fp32)")
    p.add_argument("--target", default="macOS14",
                   choices=("macOS13", "macOS14", "macOS15", "iOS16", "iOS17", "iOS18"),
                   help="minimum deployment target (default macOS14)")
    p.add_argument("--compress", choices=("int8", "palettize6", "palettize4"), default=None,
                   help="weight compression (default none)")
    p.add_argument("--input", choices=("logmel", "samples"), default="logmel",
                   help="OpenL3 embedding model input (default logmel)")
    p.add_argument("--weights", default=None, help="OpenL3 weight file (for an OpenL3 run)")
    p.add_argument("--no-activate", action="store_true", help="register without making it the active version")
    p.set_defaults(func=_cmd_export)

    m = sub.add_parser("models", help="the model registry: list, activate, rollback, delete, compare")
    msub = m.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    q = msub.add_parser("list", help="list the model versions")
    q.add_argument("--type", choices=_TYPES, default=None)
    q.set_defaults(func=_cmd_list)
    q = msub.add_parser("activate", help="make a version the active one")
    q.add_argument("type", choices=_TYPES)
    q.add_argument("version", type=int)
    q.set_defaults(func=_cmd_activate)
    q = msub.add_parser("rollback", help="activate the version before the active one")
    q.add_argument("type", choices=_TYPES)
    q.set_defaults(func=_cmd_rollback)
    q = msub.add_parser("delete", help="delete a version (not the active one)")
    q.add_argument("type", choices=_TYPES)
    q.add_argument("version", type=int)
    q.set_defaults(func=_cmd_delete)
    q = msub.add_parser("compare", help="two versions' metrics side by side")
    q.add_argument("type", choices=_TYPES)
    q.add_argument("a", type=int)
    q.add_argument("b", type=int)
    q.set_defaults(func=_cmd_compare)


def _registry(args: argparse.Namespace):  # -> Registry
    from workbench.registry import Registry

    reg = Registry(args.db)
    if reg.last_cleanup and not args.quiet:
        print(reg.last_cleanup)
    return reg


def _cmd_export(args: argparse.Namespace) -> int:
    from workbench.errors import ParameterError
    from workbench.export import export_run
    from workbench.runs import list_runs, load_run

    if args.run is None:
        runs = [r for r in list_runs() if r.model_path is not None]
        if not runs:
            raise ParameterError("no training run with a model.pt found under experiments/; train one first "
                                 "(e.g. `make demo`) or pass a run id")
        run = runs[-1]
    else:
        run = load_run(args.run)
    with _registry(args) as reg:
        done = export_run(run, library=reg.library, registry=reg, io_dtype=args.io, deployment_target=args.target,
                          compress=args.compress, activate=not args.no_activate, openl3_weights=args.weights,
                          input=args.input)
        for result, version in done:
            print(f"== {version.name} ({'active' if version.active else 'inactive'})")
            print(result)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with _registry(args) as reg:
        versions = reg.list(args.type)
        print(f"{'model':18}  {'active':6}  {'semver':8}  {'size MB':>8}  {'PSNR dB':>7}  {'created':25}  run")
        for v in versions:
            par = (v.export or {}).get("parity") or {}
            psnr = par.get("psnr_db")
            psnr = f"{psnr:7.1f}" if isinstance(psnr, (int, float)) else f"{'-':>7}"
            print(f"{v.name:18}  {'*' if v.active else '':6}  {str(v.metadata.get('version')):8}  "
                  f"{v.size_bytes / 1e6:8.2f}  {psnr}  {v.created_at:25}  {v.run_id or '-'}")
        print(f"{len(versions)} versions in {reg.root}")
    return 0


def _cmd_activate(args: argparse.Namespace) -> int:
    with _registry(args) as reg:
        print(f"active {args.type}: {reg.activate(args.type, args.version).name}")
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    with _registry(args) as reg:
        print(f"active {args.type}: {reg.rollback(args.type).name}")
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    with _registry(args) as reg:
        reg.delete(args.type, args.version)
        print(f"deleted {args.type}_v{args.version}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    with _registry(args) as reg:
        print(reg.compare(args.type, args.a, args.b))
    return 0
