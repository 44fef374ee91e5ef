"""Run folders: the on-disk record of one training run, ``experiments/<run_id>/``.

The folder is the source of truth for a run (the ``jobs`` table points at it by ``run_id``).
It is written whole or not at all: :func:`write_run` fills ``experiments/.<run_id>.<pid>.tmp/``
and renames it into place, so a crash leaves no visible run (and the stray temporary folder
is removed by the next :func:`list_runs`). A training job renames it inside the transaction
that marks the job completed (``commit``); a run whose job is not completed is never exported.

Files in a run folder (JSON unless noted):

``run.json``      ``run_id``, ``kind`` ("embeddings" | "sections"), ``created_at``,
                  ``finished_at``, ``job_id``, ``seed``, ``code_version``,
                  ``backbone`` {name, settings, dim}
``config.json``   the training hyperparameters as given
``data.json``     ``fingerprint`` (sha256 of the label set and track hashes), ``tracks``
                  [{id, content_hash, name}], ``label_counts`` {class: n}, ``splits``
``history.json``  one dict per epoch: ``epoch``, ``train_loss``, and what else was tracked
                  (``val_map_at_r``, ``mined_triplets``, ``seconds``, ...)
``metrics.json``  nested dict of final metrics, e.g. {"model": {...}, "baseline": {...}}; an
                  embeddings run's ``kept_epoch``: the epoch whose weights it kept
``arrays.npz``    evaluation arrays (e.g. ``embeddings``, ``classes``, ``y_true``,
                  ``y_pred``, ``probs``), optional
``timeline.json`` predicted vs true sections for a few held-out tracks, optional:
                  [{track_id, name, duration_s, truth: [{start_s, end_s, label}], predicted: [...]}]
``model.pt``      the trained weights (:func:`workbench.models.heads.save_checkpoint`), optional
``report.html``, ``plots/*.png``  written later by :mod:`workbench.report`
``notes.json``    the user's ``name`` and ``note`` for the run (:func:`set_run_notes`), optional;
                  the only file of a run that changes after it is written
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from workbench import config
from workbench.errors import ParameterError, StoreError
from workbench.fileio import atomic_write_bytes, jsonable, pid_alive
from workbench.timestamps import FINISHED_HEADING, STARTED_HEADING, parse_utc, started_text  # noqa: F401 (re-exported)

RUN_KINDS = ("embeddings", "sections")
_JSON_FILES = ("run", "config", "data", "history", "metrics")


def flatten(d: Mapping[str, Any], prefix: str = "", *, lists: bool = True) -> dict[str, Any]:
    """Nested dicts (config, metrics) to dotted keys: ``{"model": {"acc": 0.9}}`` -> ``{"model.acc": 0.9}``.

    A list becomes text (``"4.0, 16.0"``, ``"none"`` when empty, or ``"[n items]"`` past 12), or is
    left out with ``lists=False``.

    Parameters
    ----------
    d : mapping
        The nested dict.
    prefix : str
        Put before every key (used by the recursion).
    lists : bool
        Keep lists (as text); False leaves them out.
    """
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + ".", lists=lists))
        elif isinstance(v, (list, tuple)):
            if lists:
                out[key] = ("none" if not v else ", ".join(str(x) for x in v) if len(v) <= 12
                            else f"[{len(v)} items]")
        else:
            out[key] = v
    return out


def new_run_id(kind: str) -> str:
    """A sortable, unique run id: ``YYYYMMDD-HHMMSS-<kind>-<6 hex>`` (UTC).

    Parameters
    ----------
    kind : {"embeddings", "sections"}
        One of :data:`RUN_KINDS`.

    Raises
    ------
    ParameterError
        ``kind`` unknown.
    """
    if kind not in RUN_KINDS:
        raise ParameterError(f"kind must be one of {RUN_KINDS}; got {kind!r}")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{kind}-{secrets.token_hex(3)}"


def code_version() -> str:
    """The workbench version, plus the git commit when the package runs from a checkout."""
    from workbench import __version__

    head = Path(__file__).resolve().parent.parent / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            ref = (head.parent / ref[5:]).read_text().strip()
        return f"{__version__}+g{ref[:10]}"
    except OSError:
        return __version__


@dataclass
class Run:
    """A run folder, read back. Missing optional files read as empty."""

    path: Path
    info: dict[str, Any]
    config: dict[str, Any]
    data: dict[str, Any]
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.info["run_id"])

    @property
    def kind(self) -> str:
        return str(self.info["kind"])

    def arrays(self) -> dict[str, np.ndarray]:
        """The evaluation arrays (``arrays.npz``), or an empty dict."""
        p = self.path / "arrays.npz"
        if not p.exists():
            return {}
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    @property
    def notes(self) -> dict[str, str]:
        """The user's ``name`` and ``note`` (``notes.json``); empty strings when not set."""
        return read_run_notes(self.path)

    @property
    def kept_epoch(self) -> int | None:
        """The epoch whose weights the run kept (``history.json`` ``epoch``), or None when unknown.

        An embeddings run records it (``metrics.json`` ``kept_epoch``, written by the trainer that
        kept it: :class:`workbench.train.triplet.TripletResult`), and that record is read. Runs
        without it (sections runs; embeddings runs from before the record): a sections run that
        stopped early keeps ``early_stopping.best_epoch``; an embeddings run stopped on its
        validation slice keeps the first epoch of best ``val_map_at_r`` (the lowest ``val_loss``
        when no MAP@R was finite); every other run keeps its last epoch.
        """
        epochs = [r["epoch"] for r in self.history if isinstance(r.get("epoch"), int)]
        if not epochs:
            return None
        recorded = self.metrics.get("kept_epoch")
        if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded in epochs:
            return recorded
        es = self.metrics.get("early_stopping")
        es = es if isinstance(es, Mapping) else {}
        if es.get("used") and isinstance(es.get("best_epoch"), int):
            return int(es["best_epoch"])
        if es.get("rule") == "validation":
            for key, sign in (("val_map_at_r", 1.0), ("val_loss", -1.0)):
                scored = [(sign * float(r[key]), -int(r["epoch"])) for r in self.history
                          if isinstance(r.get(key), (int, float)) and np.isfinite(r[key]) and "epoch" in r]
                if scored:
                    return -max(scored)[1]
        return max(epochs)

    @property
    def model_path(self) -> Path | None:
        p = self.path / "model.pt"
        return p if p.exists() else None


def write_run(
    run_id: str,
    *,
    info: dict[str, Any],
    config_: dict[str, Any],
    data: dict[str, Any],
    history: list[dict[str, Any]],
    metrics: dict[str, Any],
    arrays: dict[str, np.ndarray] | None = None,
    timeline: list[dict[str, Any]] | None = None,
    extra: Callable[[Path], None] | None = None,
    root: str | os.PathLike[str] | None = None,
    commit: Callable[[], AbstractContextManager[object]] | None = None,
) -> Path:
    """Write a complete run folder atomically and return its path.

    ``extra(tmp_folder)`` may add more files (the model checkpoint) before the rename.
    ``commit()``, when given, is a context manager the rename runs inside (a training job
    records itself completed in the same database transaction: the rename happens only if
    that update succeeded, and the update is committed only after the rename).

    Parameters
    ----------
    run_id : str
        The folder's name (see :func:`new_run_id`).
    info : dict
        ``run.json`` (``run_id`` is added).
    config_ : dict
        ``config.json``: the hyperparameters.
    data : dict
        ``data.json``: what the run trained on.
    history : list of dict
        ``history.json``: one record per epoch.
    metrics : dict
        ``metrics.json`` (see ``docs/runs.md``).
    arrays : dict of str to np.ndarray, optional
        Saved to ``arrays.npz`` when non-empty.
    timeline : list of dict, optional
        ``timeline.json``; None writes no file.
    extra : callable(Path), optional
        Adds files to the temporary folder before the rename.
    root : path, optional
        The ``experiments/`` folder; None uses the workspace's.
    commit : callable() -> context manager, optional
        The rename runs inside it.

    Raises
    ------
    StoreError
        A run with this id already exists.
    """
    base = config.experiments_dir(root)
    base.mkdir(parents=True, exist_ok=True)
    final = base / run_id
    if final.exists():
        raise StoreError(f"run {run_id!r} already exists at {final}")
    tmp = base / f".{run_id}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        docs = {"run": {"run_id": run_id, **info}, "config": config_, "data": data,
                "history": history, "metrics": metrics}
        if timeline is not None:
            docs["timeline"] = timeline
        for name, doc in docs.items():
            (tmp / f"{name}.json").write_text(json.dumps(doc, indent=2, default=jsonable))
        if arrays:
            np.savez_compressed(tmp / "arrays.npz", **arrays)
        if extra is not None:
            extra(tmp)
        with commit() if commit is not None else contextlib.nullcontext():
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _run_by_part(experiments: Path, asked: str, tried: Path) -> Path:
    """The one run folder whose id ends in whole parts ``asked`` (``cfbd31``, ``sections-cfbd31``: not ``31``) or
    starts with it (a date-time), else a :class:`StoreError` that names the runs it could have meant."""
    ids = sorted(d.name for d in experiments.iterdir() if (d / "run.json").is_file()) if experiments.is_dir() else []
    found = [i for i in ids if asked and os.sep not in asked and (i.endswith(f"-{asked}") or i.startswith(asked))]
    if len(found) == 1:
        return experiments / found[0]
    said = f"no run folder with run.json at {tried} (looked for run id {asked!r})"
    if len(found) > 1:
        raise StoreError(f"{said}; {len(found)} run ids match it: {', '.join(found[:8])}"
                         + (" ..." if len(found) > 8 else "") + ": give more of the id")
    raise StoreError(said + (f"; the newest runs: {', '.join(ids[-3:])} (`workbench runs list` lists all)" if ids
                             else f"; no runs under {experiments} yet"))


def load_run(path_or_id: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> Run:
    """Read a run folder by path or by run id (looked up under ``experiments/``).

    Parameters
    ----------
    path_or_id : str or path
        A run folder, or a run id under ``root`` (or the start of exactly one, or its end in whole
        ``-``-separated parts: ``cfbd31``, ``sections-cfbd31``).
    root : path, optional
        The ``experiments/`` folder; None uses the workspace's.

    Raises
    ------
    StoreError
        No ``run.json`` found, or a JSON file is not valid JSON.
    """
    p = Path(path_or_id)
    if not (p / "run.json").exists():
        p = config.experiments_dir(root) / str(path_or_id)
    if not (p / "run.json").exists():
        p = _run_by_part(config.experiments_dir(root), os.fspath(path_or_id), p)
    docs: dict[str, Any] = {}
    for name in (*_JSON_FILES, "timeline"):
        f = p / f"{name}.json"
        try:
            docs[name] = json.loads(f.read_text()) if f.exists() else ([] if name in ("history", "timeline") else {})
        except json.JSONDecodeError as exc:
            raise StoreError(f"{f}: not valid JSON ({exc})") from exc
    history = docs["history"]
    if isinstance(docs["config"], dict) and docs["config"].get("loss") in ("supcon", "proxy_anchor"):
        # runs before session 18 recorded a loss without a miner's batch rows as "mined_triplets" (read, not rewritten)
        history = [{("batch_rows" if k == "mined_triplets" else k): v for k, v in r.items()} if isinstance(r, dict)
                   else r for r in history]
    return Run(path=p, info=docs["run"], config=docs["config"], data=docs["data"], history=history,
               metrics=docs["metrics"], timeline=docs["timeline"])


def list_runs(root: str | os.PathLike[str] | None = None, *, kind: str | None = None) -> list[Run]:
    """All complete runs under ``experiments/``, oldest first; removes temporary folders left by dead writers.

    Parameters
    ----------
    root : path, optional
        The ``experiments/`` folder; None uses the workspace's.
    kind : {"embeddings", "sections"}, optional
        Only runs of this kind; None lists all.
    """
    base = config.experiments_dir(root)
    if not base.is_dir():
        return []
    runs = []
    for p in sorted(base.iterdir()):
        if p.name.startswith(".") and p.name.endswith(".tmp") and p.is_dir():
            if not _writer_alive(p.name):
                shutil.rmtree(p, ignore_errors=True)
            continue
        if (p / "run.json").exists():
            run = load_run(p)
            if kind is None or run.kind == kind:
                runs.append(run)
    return runs


def _writer_alive(tmp_name: str) -> bool:
    """Whether the process that named this temporary folder (``.<run_id>.<pid>.tmp``) still runs."""
    try:
        pid = int(tmp_name.rsplit(".", 2)[-2])
    except (ValueError, IndexError):
        return False
    return pid_alive(pid)


#: Longest run name (characters); a note has no limit but :data:`NOTE_MAX`.
NAME_MAX = 80
#: Longest run note (characters).
NOTE_MAX = 4000


def read_run_notes(path: str | os.PathLike[str]) -> dict[str, str]:
    """A run folder's ``notes.json``: ``{"name": str, "note": str}`` ("" where not set).

    Parameters
    ----------
    path : str or path
        The run folder.

    Raises
    ------
    StoreError
        ``notes.json`` exists but is not valid JSON.
    """
    f = Path(path) / "notes.json"
    if not f.exists():
        return {"name": "", "note": ""}
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StoreError(f"{f}: not valid JSON ({exc})") from exc
    return {"name": str(doc.get("name") or ""), "note": str(doc.get("note") or "")}


def set_run_notes(path_or_id: str | os.PathLike[str], *, name: str | None = None, note: str | None = None,
                  root: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Give a run a name and/or a note (``notes.json`` in its folder, written atomically).

    Parameters
    ----------
    path_or_id : str or path
        A run folder, or a run id under ``root``.
    name : str or None
        A short name shown beside the run id (one line, at most :data:`NAME_MAX` characters);
        None keeps the current one, "" clears it.
    note : str or None
        Free text (at most :data:`NOTE_MAX` characters); None keeps the current one, "" clears it.
    root : path, optional
        The ``experiments/`` folder; None uses the workspace's.

    Returns
    -------
    dict
        The notes now stored: ``{"name", "note"}``.

    Raises
    ------
    ParameterError
        ``name`` has a line break or is too long, or ``note`` is too long.
    StoreError
        No such run.
    """
    if name is not None:
        name = str(name).strip()
        if "\n" in name or "\r" in name or len(name) > NAME_MAX:
            raise ParameterError(f"name must be one line of at most {NAME_MAX} characters; got {name[:100]!r}")
    if note is not None and len(str(note)) > NOTE_MAX:
        raise ParameterError(f"note must be at most {NOTE_MAX} characters; got {len(str(note))}")
    run = load_run(path_or_id, root=root)
    notes = read_run_notes(run.path)
    if name is not None:
        notes["name"] = name
    if note is not None:
        notes["note"] = str(note).strip()
    doc = {**notes, "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    atomic_write_bytes(run.path / "notes.json", json.dumps(doc, indent=2).encode("utf-8"))
    return notes


def latest_cnn_run(root: str | os.PathLike[str] | None = None) -> tuple[str, str] | None:
    """The newest embeddings run that trained the CNN: ``(run_id, path of its model.pt)``, or None.

    Parameters
    ----------
    root : path or None
        The ``experiments/`` folder; None: the workspace's.
    """
    for run in reversed(list_runs(root, kind="embeddings")):
        if is_cnn_run(run) and run.model_path is not None:
            return run.run_id, str(run.model_path)
    return None


def is_cnn_run(run: Run) -> bool:
    """The run trained the CNN itself (``train embeddings --backbone cnn``): its ``model.pt`` is the network, no head.

    Parameters
    ----------
    run : Run
        Any run.
    """
    return run.kind == "embeddings" and run.config.get("backbone") == "cnn"
