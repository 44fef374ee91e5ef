"""The registry's value types and file rules: :class:`Version`, :class:`Deactivated`, :class:`CleanupReport`,
:class:`Comparison`, version-number checks, a version JSON's validation, and the stamping of a
package's version string (used by :mod:`workbench.registry`, which re-exports them)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.runs import flatten
from workbench.validate import check_choice, check_int

if TYPE_CHECKING:
    import pandas as pd

MODEL_TYPES = ("dj_section", "embedding", "head")
#: The largest version number (SQLite integers are 64-bit; numbers past this are not ours).
MAX_VERSION = 999_999_999
_NAME = re.compile(r"^(dj_section|embedding|head)_v(\d+)\.(mlpackage|json|md)$")
#: The key, in a version's ``model_versions.metadata`` row, of when it was last made active (ISO 8601 UTC, microseconds;
#: :func:`workbench.similarity.model.resolve_model` reads it to rank with the most recently activated model).
ACTIVATED_AT = "activated_at"
#: The key, in a version's row metadata, of when ``models deactivate`` last made it inactive (ISO 8601 UTC, microseconds;
#: its history: whether a type is off now is the ``model_deactivations`` table, :meth:`Registry.deactivated`).
DEACTIVATED_AT = "deactivated_at"


class RegistryError(WorkbenchError, ValueError):
    """A registry request cannot be done (unknown version, deleting the active one, ...)."""


@dataclass(frozen=True)
class Version:
    """One registered model version."""

    model_type: str
    version: int
    path: Path
    active: bool
    created_at: str
    metadata: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    job_id: int | None = None
    run_id: str | None = None
    forced: tuple[dict[str, Any], ...] = ()
    #: When it was last made active / last deactivated (ISO 8601 UTC), None if never (or before these were recorded).
    activated_at: str | None = None
    deactivated_at: str | None = None

    @property
    def name(self) -> str:
        return f"{self.model_type}_v{self.version}"

    @property
    def json_path(self) -> Path:
        return self.path.with_suffix(".json")

    @property
    def card_path(self) -> Path:
        return self.path.with_suffix(".md")

    @property
    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values (for ``--json`` output)."""
        return {"name": self.name, "model_type": self.model_type, "version": self.version, "path": str(self.path),
                "active": self.active, "created_at": self.created_at, "semver": self.metadata.get("version"),
                "run_id": self.run_id, "job_id": self.job_id, "size_bytes": self.size_bytes,
                "metrics": self.metrics, "parity": (self.export or {}).get("parity"), "forced": list(self.forced),
                "activated_at": self.activated_at, "deactivated_at": self.deactivated_at}


@dataclass(frozen=True)
class Deactivated:
    """A type ``models deactivate`` left with no active version (its row of the ``model_deactivations`` table): which
    version was active and when it was turned off. The version may since have been deleted; the type stays off."""

    model_type: str
    version: int
    #: When (ISO 8601 UTC, microseconds).
    deactivated_at: str
    #: The version is no longer registered (``models delete``): nothing makes it active again.
    deleted: bool = False
    #: The version's forced activations and exports (``Version.forced``); empty when deleted.
    forced: tuple[dict[str, Any], ...] = ()
    #: The version numbers of the type registered now.
    versions: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.model_type}_v{self.version}"

    @property
    def named(self) -> str:
        """Its name, with ``" (deleted)"`` once deleted."""
        return self.name + (" (deleted)" if self.deleted else "")

    def way_back(self) -> str:
        """The command that makes a version of the type active again: this one (``--force`` where it was forced), or,
        once it is deleted, one of the versions left (or an export, with none left)."""
        t = self.model_type
        if not self.deleted:
            return f"`workbench models activate {t} {self.version}{' --force' if self.forced else ''}` makes it active again"
        if self.versions:
            return f"`workbench models activate {t} N` (N in {list(self.versions)}) makes a version active"
        return f"no {t} version is left: `workbench export RUN --activate` registers one and makes it active"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values (for ``--json`` output)."""
        return {"model_type": self.model_type, "name": self.name, "version": self.version,
                "deactivated_at": self.deactivated_at, "deleted": self.deleted}


@dataclass(frozen=True)
class CleanupReport:
    """What :meth:`Registry.cleanup` removed or repaired."""

    removed: tuple[str, ...] = ()
    rows_added: tuple[str, ...] = ()
    rows_dropped: tuple[str, ...] = ()
    #: ``(file name, reason)`` for files in ``models/`` that are not a valid version (left alone).
    problems: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.removed or self.rows_added or self.rows_dropped or self.problems)

    def __str__(self) -> str:
        if not self:
            return "registry clean"
        lines = []
        if self.removed or self.rows_added or self.rows_dropped:
            lines.append(f"registry cleanup: removed {list(self.removed)}; rows added for {list(self.rows_added)}; "
                         f"rows dropped for {list(self.rows_dropped)}")
        lines += [f"registry: skipped {name}: {why}" for name, why in self.problems]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"removed": list(self.removed), "rows_added": list(self.rows_added),
                "rows_dropped": list(self.rows_dropped),
                "problems": [{"file": n, "reason": r} for n, r in self.problems]}


@dataclass(frozen=True)
class Comparison:
    """Two versions' metrics side by side: rows ``(metric, a, b, b - a)``."""

    model_type: str
    a: int
    b: int
    rows: tuple[tuple[str, Any, Any, float | None], ...]

    @classmethod
    def of(cls, va: Version, vb: Version) -> Comparison:
        """Two versions of one type: training metrics, size and parity, with ``b - a`` for numbers.

        Parameters
        ----------
        va, vb : Version
            Two versions of one model type (``a`` and ``b`` of the comparison).

        Returns
        -------
        Comparison
            Rows with the headline first (:data:`HEADLINE_FIRST`: the model's own scores, parity, size), then by
            metric name (``models compare`` listed a sections model's accuracy after ~200 baseline rows);
            ``b - a`` is None where either value is not a number.
        """

        def facts(v: Version) -> dict[str, Any]:
            """Dotted training metrics, size in MB and parity of one version.

            Parameters
            ----------
            v : Version
            """
            out = {f"metrics.{k}": x for k, x in flatten_metrics(v.metrics).items()}
            out["size_mb"] = round(v.size_bytes / 1e6, 3)
            par = (v.export or {}).get("parity") or {}
            if "psnr_db" in par:
                out["parity.psnr_db"] = par["psnr_db"]
            if par.get("label_agreement") is not None:
                out["parity.label_agreement"] = par["label_agreement"]
            return out

        fa, fb = facts(va), facts(vb)
        rows = []
        for key in sorted(set(fa) | set(fb), key=lambda k: (_headline_rank(k), k)):  # `models compare` as notebook 06
            x, y = fa.get(key), fb.get(key)
            num = all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in (x, y))
            rows.append((key, x, y, (y - x) if num else None))
        return cls(va.model_type, va.version, vb.version, tuple(rows))

    def as_dict(self) -> dict[str, Any]:
        return {"model_type": self.model_type, "a": self.a, "b": self.b,
                "rows": [{"metric": m, "a": x, "b": y, "delta": d} for m, x, y, d in self.rows]}

    def to_frame(self, *, texts: bool = False) -> pd.DataFrame:
        """The rows as a pandas DataFrame indexed by metric (columns ``v<a>``, ``v<b>``, ``delta``), each value
        written as the text of :meth:`__str__` (a score with 4 fixed decimals, a count as an integer, the delta
        signed, "-" for none); ``rows`` keeps the numbers.

        The headline first (:data:`HEADLINE_FIRST`), then the rest by name. Notebook 06 showed a real sections
        model's 412 rows by name, the numbers aligned left as text because a few rows hold a sentence (a warning,
        a calibration's "fitted on") or True, and each sentence whole.

        Parameters
        ----------
        texts : bool
            Keep the rows whose values are texts or booleans (:meth:`__str__` and ``--json`` always have them);
            without them every column is numbers, aligned right by :func:`~workbench.report.tables.text_left`.
        """
        import pandas as pd

        def _is_number(v: Any) -> bool:
            return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))

        rows = [r for r in self.rows if texts or (_is_number(r[1]) and _is_number(r[2]))]
        rows.sort(key=lambda r: _headline_rank(r[0]))  # stable: by name within each
        shown = [(m, _fmt(a), _fmt(b), _fmt(d, signed=True)) for m, a, b, d in rows]
        return pd.DataFrame(shown, columns=["metric", f"v{self.a}", f"v{self.b}", "delta"]).set_index("metric")

    def __str__(self) -> str:
        w = max([len(r[0]) for r in self.rows] + [6])
        lines = [f"{'metric':{w}}  {'v' + str(self.a):>{CELL}}  {'v' + str(self.b):>{CELL}}  {'delta':>10}"]
        cut = False
        for name, a, b, d in self.rows:
            cut = cut or any(len(_fmt(x)) > CELL for x in (a, b))
            lines.append(f"{name:{w}}  {_cell(a):>{CELL}}  {_cell(b):>{CELL}}  {_fmt(d, signed=True):>10}")
        if cut:
            lines.append(f"(texts cut to {CELL} characters: `workbench models compare ... --json` has them whole)")
        return "\n".join(lines)


#: The rows :meth:`Comparison.to_frame` shows first, in this order (name prefixes): the model's own scores, then
#: parity and size; the baselines, calibration and transfer details follow by name.
HEADLINE_FIRST: tuple[str, ...] = ("metrics.model.", "metrics.model_smoothed.", "parity.", "size_mb")


def _headline_rank(name: str) -> int:
    """Where a comparison row goes: its prefix's place in :data:`HEADLINE_FIRST`, the rest after them."""
    return next((i for i, p in enumerate(HEADLINE_FIRST) if name.startswith(p)), len(HEADLINE_FIRST))


#: Width of a version's column in :meth:`Comparison.__str__`; a longer text (an explanation) is cut.
CELL = 24


def _fmt(v: Any, *, signed: bool = False) -> str:
    """A value as the runs tables write one: a score with 4 fixed decimals (``.4g`` wrote a P@1 of 1.0 as "1"
    beside "0.6667"), a count (a JSON integer) as an integer, ``signed`` for a difference, "-" for none."""
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:+d}" if signed else f"{v:d}"
    if isinstance(v, float):
        return f"{v:+.4f}" if signed else f"{v:.4f}"
    return str(v)


def _cell(v: Any) -> str:
    text = _fmt(v)
    return text if len(text) <= CELL else text[:CELL - 1] + "…"


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"acc": 0.9}}`` -> ``{"model.acc": 0.9}`` (scalars only; lists dropped).

    Parameters
    ----------
    metrics : mapping
        Nested metrics (a run's ``metrics.json``).
    prefix : str
        Put before every key (``"metrics."``); empty for none.

    Returns
    -------
    dict of str to scalar
        Dotted keys to numbers, strings, booleans or None.
    """
    return {k: v for k, v in flatten(metrics, prefix, lists=False).items()
            if isinstance(v, (int, float, str, bool)) or v is None}


def version_below(versions: list[Version], version: int) -> Version | None:
    """The version ``models rollback`` goes to from ``version``: the highest one below it, or None.

    Parameters
    ----------
    versions : list of Version
        Every version of one model type, in ascending version order (as ``Registry.list`` gives them).
    version : int
        The version rolled back from.

    Returns
    -------
    Version or None
    """
    below = [v for v in versions if v.version < version]
    return below[-1] if below else None


def _check_type(model_type: object) -> str:
    return str(check_choice("model_type", model_type, MODEL_TYPES))


def _check_version(version: object) -> int:
    return check_int("version", version, min=1, max=MAX_VERSION)


def stamp_version(package: str | os.PathLike[str], *, semver: str, name: str, forced: str | None = None) -> None:
    """Write the version string and our ``com.workbench.registry_name`` key (and, for a forced
    export, ``com.workbench.forced`` with the failing gates) into a package's spec.

    Parameters
    ----------
    package : str or path
        An ``.mlpackage`` folder; its spec is rewritten in place.
    semver : str
        The version string (``"3.0.0"``).
    name : str
        The registry name (``"head_v3"``).
    forced : str or None
        The failing gates of a forced export, as text; None writes no ``com.workbench.forced`` key.
    """
    manifest = json.loads((Path(package) / "Manifest.json").read_text())
    root = manifest["rootModelIdentifier"]
    spec_file = Path(package) / "Data" / manifest["itemInfoEntries"][root]["path"]
    from coremltools.proto import Model_pb2

    spec = Model_pb2.Model()
    spec.ParseFromString(spec_file.read_bytes())
    spec.description.metadata.versionString = semver
    spec.description.metadata.userDefined["com.workbench.registry_name"] = name
    if forced:
        spec.description.metadata.userDefined["com.workbench.forced"] = forced
    spec_file.write_bytes(spec.SerializeToString())


def _read_doc(path: Path, model_type: str, version: int) -> tuple[dict[str, Any] | None, str]:
    """A version JSON if it is a valid document of ``<model_type>_v<version>``, else ``(None, reason)``."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(doc, dict):
        return None, "not a JSON object"
    missing = [k for k in ("model_type", "version", "created_at") if k not in doc]
    if missing:
        return None, f"missing key(s) {missing}"
    if doc["model_type"] != model_type or doc["version"] != version:
        return None, (f"describes {doc['model_type']}_v{doc['version']}, not {model_type}_v{version} "
                      "(a copied or renamed file?)")
    for key in ("metadata", "metrics", "export"):
        if not isinstance(doc.get(key, {}), dict):
            return None, f"{key!r} must be a JSON object"
    return doc, ""
