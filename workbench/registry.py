"""The versioned model registry: ``models/<type>_v<N>.mlpackage`` + ``.json`` + ``.md``, listed in SQLite.

Model types: ``"dj_section"`` (section classifier), ``"embedding"`` (embedding model), ``"head"``
(embedding head alone). Each version is three files beside each other:

``<type>_v<N>.mlpackage``  the Core ML package (its version string stamped in)
``<type>_v<N>.json``       metadata, metrics, export report (lint, parity, size), job and run
``<type>_v<N>.md``         the model card

and a row of the library's ``model_versions`` table (the ``active`` flag lives there; at most
one active version per type, enforced by a partial unique index; activate, rollback and deactivate are
:mod:`workbench.registry_active`).

Atomic: :meth:`Registry.register` builds all three in ``models/.<type>_v<N>.<pid>.tmp/``, renames
the package and the card into place and the JSON last; the JSON is the commit mark. A version
is visible only once its JSON exists. A crash leaves a temporary folder or a package without its
JSON, which the next :class:`Registry` (its :meth:`~Registry.cleanup`) removes; a JSON without a
database row (a crash after the last rename) is repaired by adding the row. Registry changes are
serialised by an ``flock`` on ``models/.registry.lock``.

Paths are stored relative to the models folder (the workspace's ``models/``, found through
``library.workspace.models``): a copied or moved project keeps working and never reaches into
another project's files (a stored path that resolves outside the folder is never deleted).
Version numbers are never reused: ``model_version_numbers`` keeps the last number given per type.
Files in ``models/`` that are not ours or are damaged (a copied JSON under another number, a JSON
missing a key, a number out of range) are skipped and listed in :attr:`CleanupReport.problems`.

Export and activation check the blocking gates of :mod:`workbench.evaluate.gates`; a model that
fails one is refused unless ``force=True``, which the version's JSON (``"forced"``), its package
(``com.workbench.forced``) and its model card record with the failing gates.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import config
from workbench.errors import ParameterError
from workbench.registry_active import RegistryActivation
from workbench.registry_files import _TMP, RegistryFiles  # noqa: F401  (re-exported)
from workbench.registry_types import (  # noqa: F401  (re-exported)
    _NAME,
    ACTIVATED_AT,
    DEACTIVATED_AT,
    MAX_VERSION,
    MODEL_TYPES,
    CleanupReport,
    Comparison,
    Deactivated,
    RegistryError,
    Version,
    _check_type,
    _check_version,
    _read_doc,
    flatten_metrics,
    stamp_version,
    version_below,
)

if TYPE_CHECKING:
    import sqlite3

    import pandas as pd

    from workbench.evaluate.gates import BlockingGate
    from workbench.library import Library

#: Environment hook for tests: pause (sleep) at a named step of :meth:`Registry.register`.
PAUSE_ENV = "WORKBENCH_REGISTRY_PAUSE_AT"
PAUSE_POINTS = ("tmp-written", "package-renamed")


def _pause(point: str) -> None:
    """Test hook: with ``$WORKBENCH_REGISTRY_PAUSE_AT=<point>``, announce and sleep (to be killed)."""
    if os.environ.get(PAUSE_ENV) == point:
        print(f"PAUSED {point}", flush=True)
        time.sleep(float(os.environ.get("WORKBENCH_REGISTRY_PAUSE_S", "60")))


class Registry(RegistryActivation, RegistryFiles):
    """The model registry under ``models/`` (see the module docstring).

    Parameters
    ----------
    library : Library, a database path, or None (the default library)
    root : the models folder (default: the library's workspace, ``library.workspace.models``)
    cleanup : run :meth:`cleanup` now (removes what a crashed export left)

    Reading (listing, comparing) never creates ``models/``; the first export does.
    """

    def __init__(self, library: Library | str | os.PathLike[str] | None = None, *, root: str | os.PathLike[str] | None = None,
                 cleanup: bool = True) -> None:
        from workbench.library import Library

        self._owns = not isinstance(library, Library)
        self.library = library if isinstance(library, Library) else Library(library)
        workspace = getattr(self.library, "workspace", None)
        if root is not None:
            self.root = Path(root).expanduser().resolve()
        elif workspace is not None:
            self.root = Path(workspace.models).resolve()
        else:
            self.root = config.models_dir(None)
        self.last_cleanup = self.cleanup() if cleanup else CleanupReport()

    def close(self) -> None:
        if self._owns:
            self.library.store.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------
    def _row_to_version(self, row: sqlite3.Row) -> Version:
        try:
            meta = json.loads(row["metadata"])
        except (TypeError, ValueError):
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        forced = meta.get("forced") or []
        return Version(model_type=row["model_type"], version=int(row["version"]),
                       path=self._package_path(row["model_type"], int(row["version"])),
                       active=bool(row["active"]), created_at=row["created_at"], metadata=meta.get("metadata") or {},
                       metrics=meta.get("metrics") or {}, export=meta.get("export") or {}, job_id=row["job_id"],
                       run_id=row["run_id"], forced=tuple(f for f in forced if isinstance(f, dict)),
                       activated_at=meta.get(ACTIVATED_AT), deactivated_at=meta.get(DEACTIVATED_AT))

    def list(self, model_type: str | None = None) -> list[Version]:
        """All versions (of one type, or all), by type then version.

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"} or None
            Only this type; None lists every type.

        Returns
        -------
        list of Version
        """
        if model_type is not None:
            _check_type(model_type)
            rows = self.library.conn.execute(
                "SELECT * FROM model_versions WHERE model_type = ? ORDER BY version", (model_type,)).fetchall()
        else:
            rows = self.library.conn.execute("SELECT * FROM model_versions ORDER BY model_type, version").fetchall()
        return [self._row_to_version(r) for r in rows if r["model_type"] in MODEL_TYPES]

    def get(self, model_type: str, version: int) -> Version:
        """One version of a type.

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"}
        version : int >= 1
            The version number.

        Returns
        -------
        Version

        Raises
        ------
        RegistryError
            No such version (the message lists the versions there are).
        """
        _check_type(model_type)
        _check_version(version)
        row = self.library.conn.execute("SELECT * FROM model_versions WHERE model_type = ? AND version = ?",
                                        (model_type, version)).fetchone()
        if row is None:
            have = [v.version for v in self.list(model_type)]
            if not have:  # "versions are []" named nothing allowed
                raise RegistryError(f"no {model_type} version {version}: no {model_type} version is registered yet "
                                    "(`workbench export RUN` registers a run's models)")
            raise RegistryError(f"no {model_type} version {version}; versions are {have}")
        return self._row_to_version(row)

    def active(self, model_type: str) -> Version | None:
        """The active version of a type, or None.

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"}

        Returns
        -------
        Version or None
        """
        _check_type(model_type)
        row = self.library.conn.execute("SELECT * FROM model_versions WHERE model_type = ? AND active = 1",
                                        (model_type,)).fetchone()
        return self._row_to_version(row) if row else None

    # -- gates -----------------------------------------------------------------------------
    def gates(self, model_type: str, metrics: Mapping[str, Any], *, version: int | None = None
              ) -> builtins.list[BlockingGate]:
        """The blocking gates of a model with these run metrics, against its baselines and the
        active version of its type (unless that is ``version`` itself); see
        :func:`workbench.evaluate.gates.blocking_gates`.

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"}
        metrics : mapping
            The run's ``metrics.json`` contents (``"model"``, ``"baselines"``, ``"held_out"``).
        version : int or None
            The version these metrics belong to, when it is registered already; None for a new model.

        Returns
        -------
        list of BlockingGate
        """
        from workbench.evaluate.gates import blocking_gates

        _check_type(model_type)
        current = self.active(model_type)
        if current is not None and current.version == version:
            current = None
        return blocking_gates(metrics or {}, model_type, active_metrics=None if current is None else current.metrics,
                              active_name=current.name if current is not None else "active version")

    def check_gates(self, model_type: str, metrics: Mapping[str, Any], *, what: str, force: bool = False,
                    version: int | None = None, forcing: str | None = None,
                    ) -> tuple[builtins.list[BlockingGate], builtins.list[BlockingGate]]:
        """``(gates, failing)``; raises :class:`~workbench.evaluate.gates.GateFailedError` when a gate
        blocks and ``force`` is False.

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"}
        metrics : mapping
            The run's ``metrics.json`` contents.
        what : str
            What is being checked, for the refusal message (``"activating head_v3"``).
        force : bool
            Return the failing gates instead of raising.
        version : int or None
            As in :meth:`gates`.
        forcing : str or None
            What ``--force`` would do, for the refusal message (None: "export or activate it anyway").

        Returns
        -------
        (gates, failing) : (list of BlockingGate, list of BlockingGate)
        """
        from workbench.evaluate.gates import GateFailedError, failing, refusal_message

        gates = self.gates(model_type, metrics, version=version)
        bad = failing(gates)
        if bad and not force:
            said = refusal_message(what, gates) if forcing is None else refusal_message(what, gates, forcing=forcing)
            raise GateFailedError(said, gates=bad)
        return gates, bad

    # -- writing ---------------------------------------------------------------------------
    def register(self, model_type: str, mlpackage_dir: str | os.PathLike[str], *, metadata: dict[str, Any],
                 metrics: dict[str, Any] | None = None, export: dict[str, Any] | None = None,
                 job_id: int | None = None, run_id: str | None = None, activate: bool | None = True,
                 move: bool = False, force: bool = False) -> Version:
        """Add a new version (number = the last one ever given + 1) and, by default, make it active.

        The package is copied (moved with ``move=True``), its version string stamped in
        (``metadata["version"]`` or ``"<N>.0.0"``), the JSON and the model card written beside it;
        all under temporary names, renamed into place with the JSON last.

        The blocking gates of ``metrics`` are checked first (:meth:`check_gates`): a model that
        fails one is refused (:class:`~workbench.evaluate.gates.GateFailedError`) unless
        ``force=True``, which is recorded in the JSON, the package and the card.

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"}
        mlpackage_dir : str or path
            An ``.mlpackage`` folder (it must hold ``Manifest.json``).
        metadata : dict
            The package's metadata (written into the JSON; ``"version"`` is the version string).
        metrics : dict or None
            The run's ``metrics.json`` contents; None records none (and the gates then block).
        export : dict or None
            The export report (lint, parity, size) for the JSON.
        job_id : int or None
            The training job; dropped from the row if the job row is gone.
        run_id : str or None
            The training run.
        activate : bool or None
            True: make the new version the active one of its type (forced or not); False: never; None:
            only when it passes its blocking gates (a version forced past one is registered inactive) and the type
            was not left with none active by :meth:`deactivate` (undone by ``activate``, not by an export).
        move : bool
            Move the package instead of copying it.
        force : bool
            Register a model that fails a blocking gate (recorded) instead of refusing it.

        Returns
        -------
        Version
            The new version.

        Raises
        ------
        ParameterError
            ``mlpackage_dir`` has no ``Manifest.json``, or ``metadata`` is not a dict.
        workbench.evaluate.gates.GateFailedError
            A blocking gate fails and ``force`` is False.
        RegistryError
            No version number is left for the type.
        """
        from workbench.registry_card import model_card
        from workbench.store import utc_now

        _check_type(model_type)
        src = Path(mlpackage_dir)
        if not (src / "Manifest.json").is_file():
            raise ParameterError(f"mlpackage_dir must be an .mlpackage folder; {src} has no Manifest.json")
        if not isinstance(metadata, dict):
            raise ParameterError(f"metadata must be a dict; got {type(metadata).__name__}")
        with self._lock():
            gates, bad = self.check_gates(model_type, metrics or {}, what=f"{model_type} of run {run_id or '-'}",
                                          force=force)
            switched_off = activate is None and self.deactivated(model_type) is not None  # the user's to undo
            n = self._next_version(model_type)
            name = f"{model_type}_v{n}"
            tmp = self.root / f".{name}.{os.getpid()}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            final = {ext: self.root / f"{name}.{ext}" for ext in ("mlpackage", "json", "md")}
            try:
                pkg = tmp / f"{name}.mlpackage"
                if move:
                    shutil.move(str(src), pkg)
                else:
                    shutil.copytree(src, pkg)
                semver = str(metadata.get("version") or f"{n}.0.0")
                meta = {**metadata, "version": semver}
                created = utc_now()
                forced = ([{"action": "export", "at": created, "failing_gates": [g.as_dict() for g in bad]}]
                          if bad else [])
                stamp_version(pkg, semver=semver, name=name,
                              forced="; ".join(str(g) for g in bad) if bad else None)
                doc = {"model_type": model_type, "version": n, "name": name, "created_at": created,
                       "job_id": job_id, "run_id": run_id, "metadata": meta, "metrics": metrics or {},
                       "export": export or {}, "gates": [g.as_dict() for g in gates], "forced": forced}
                (tmp / f"{name}.json").write_text(json.dumps(doc, indent=2, default=str))
                (tmp / f"{name}.md").write_text(model_card(doc))
                _pause("tmp-written")
                os.replace(pkg, final["mlpackage"])
                os.replace(tmp / f"{name}.md", final["md"])
                _pause("package-renamed")
                os.replace(tmp / f"{name}.json", final["json"])  # the commit mark
                tmp.rmdir()
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                if not final["json"].exists():
                    shutil.rmtree(final["mlpackage"], ignore_errors=True)
                    final["md"].unlink(missing_ok=True)
                raise
            self._insert(doc, activate=bool(activate) if activate is not None else not (bad or switched_off))
        return self.get(model_type, n)

    def compare(self, model_type: str, a: int, b: int) -> Comparison:
        """The two versions' training metrics (and size and parity) side by side.

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"}
        a, b : int >= 1
            The two version numbers.

        Returns
        -------
        Comparison
        """
        return Comparison.of(self.get(model_type, a), self.get(model_type, b))

    def frame(self, model_type: str | None = None) -> pd.DataFrame:
        """The versions as a pandas DataFrame (for the notebook's model screen).

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"} or None
            Only this type; None lists every type.

        Returns
        -------
        pandas.DataFrame
            One row per version: name, type, active mark, when it was created (column ``"created (UTC)"``, as
            `workbench models list` heads it: ``"2026-12-07 05:05"``), size in MB, compression, parity PSNR in dB, label agreement and up to three of the
            model's own held-out figures (``model.*``: its run's ``metrics["model"]`` scalars, counts
            left out; never a baseline's).
        """
        import pandas as pd

        from workbench.runs import started_text

        rows = []
        for v in self.list(model_type):
            par = (v.export or {}).get("parity") or {}
            own = v.metrics.get("model") if isinstance(v.metrics.get("model"), dict) else None
            flat = flatten_metrics(v.metrics) if own is None else {  # metrics.json is sorted: baseline* came first
                f"model.{k}": x for k, x in own.items()
                if isinstance(x, (int, float)) and not isinstance(x, bool) and not k.startswith("n_")}
            main = {k: flat[k] for k in list(flat)[:3]}
            rows.append({"model": v.name, "type": v.model_type, "version": v.version,
                         "active": "●" if v.active else "", "semver": v.metadata.get("version"),
                         "created (UTC)": started_text(v.created_at), "run": v.run_id, "size_MB": round(v.size_bytes / 1e6, 2),
                         "compression": v.metadata.get("compression"), "psnr_dB": _tenth(par.get("psnr_db")),
                         "label_agree": par.get("label_agreement"), **main})
        return pd.DataFrame(rows)


def _tenth(db: Any) -> Any:
    """A PSNR to 0.1 dB, as ``models list`` writes it (a table at 4 decimals wrote "96.1604"); else as is."""
    return round(float(db), 1) if isinstance(db, (int, float)) and not isinstance(db, bool) else db
