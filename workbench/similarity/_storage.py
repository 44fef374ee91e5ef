"""The saved similarity index's files: format, version, atomic writes and the folder lock.

A saved index is a folder holding ``index-<token>.faiss`` (FAISS), ``meta-<token>.npz`` (ids,
bpm, compact key indices of :func:`workbench.camelot.index_of`, energy, tombstones) and the
manifest ``similarity-index.json`` naming them with the index's options.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from workbench.camelot import N_KEYS
from workbench.errors import IndexFileError, IndexNotFoundError
from workbench.similarity._faiss import load_faiss
from workbench.similarity.scores import ENERGY_RANGE

_FORMAT = "workbench.similarity-index"
_FORMAT_VERSION = 1
_MANIFEST = "similarity-index.json"
_LOCK = ".similarity-index.lock"
_ARRAYS: tuple[str, ...] = ("ids", "bpm", "key", "energy", "alive")


def write_index(root: Path, index: Any, arrays: dict[str, np.ndarray], settings: dict[str, Any]) -> Path:
    """Write ``index`` (FAISS), ``arrays`` (:data:`_ARRAYS`) and the manifest to ``root``; its path.

    ``settings`` (dim, rows, backend and the options) go into the manifest. Each file is
    written atomically (:func:`workbench.fileio.atomic_write`) under an exclusive lock on the
    folder; older index/meta files are deleted afterwards.

    Parameters
    ----------
    root : Path
        The index's folder; created if needed.
    index : faiss.Index
        The FAISS index.
    arrays : dict of str to np.ndarray
        The row arrays, one entry per row each.
    settings : dict
        JSON-ready settings for the manifest.
    """
    from workbench.fileio import atomic_write

    faiss = load_faiss()
    root.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:16]
    index_name, meta_name = f"index-{token}.faiss", f"meta-{token}.npz"

    def _write_meta(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, ids=arrays["ids"], bpm=arrays["bpm"], key=arrays["key"], energy=arrays["energy"],
                     alive=arrays["alive"])

    manifest = {"format": _FORMAT, "version": _FORMAT_VERSION, **settings,
                "index_file": index_name, "meta_file": meta_name}
    with _folder_lock(root, exclusive=True):
        atomic_write(root / index_name, lambda tmp: faiss.write_index(index, str(tmp)))
        atomic_write(root / meta_name, _write_meta)
        atomic_write(root / _MANIFEST,
                     lambda tmp: tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8"))
        for old in list(root.glob("index-*.faiss")) + list(root.glob("meta-*.npz")):
            if old.name not in (index_name, meta_name):
                try:
                    old.unlink()
                except OSError:  # pragma: no cover - best effort
                    pass
    return root / _MANIFEST


@contextlib.contextmanager
def reading(root: Path) -> Iterator[None]:
    """Hold the folder's shared lock while a saved index is read (never mid-save).

    Parameters
    ----------
    root : Path
        The index's folder.

    Raises
    ------
    IndexNotFoundError
        ``root`` has no ``similarity-index.json``.
    """
    if not (root / _MANIFEST).exists():
        raise IndexNotFoundError(f"no saved similarity index in {str(root)!r} (no {_MANIFEST})")
    with _folder_lock(root, exclusive=False):
        yield


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest of the index saved in ``root``, of this format and version.

    Parameters
    ----------
    root : Path
        The index's folder.

    Raises
    ------
    IndexNotFoundError
        No manifest.
    IndexFileError
        Unreadable, or of another format or version.
    """
    try:
        manifest = json.loads((root / _MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexNotFoundError(f"no saved similarity index in {str(root)!r} (no {_MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise IndexFileError(f"cannot read {str(root / _MANIFEST)!r}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise IndexFileError(f"{str(root / _MANIFEST)!r} is not a {_FORMAT} manifest")
    if manifest.get("version") != _FORMAT_VERSION:
        raise IndexFileError(
            f"similarity index format version must be {_FORMAT_VERSION}; got {manifest.get('version')!r}"
        )
    return manifest


def read_files(index_path: Path, meta_path: Path, root: Path, *, dim: int, rows: int,
               backend: str) -> tuple[Any, dict[str, np.ndarray]]:
    """The FAISS index and the row arrays a manifest names, checked against it.

    Parameters
    ----------
    index_path, meta_path : Path
        The files the manifest names.
    root : Path
        The index's folder (for messages).
    dim : int
        Vector dimension the manifest gives.
    rows : int
        Row count the manifest gives.
    backend : {"flat", "hnsw"}
        The manifest's FAISS backend.

    Raises
    ------
    IndexFileError
        Unreadable files, or files that do not match the manifest or each other.
    """
    faiss = load_faiss()
    if backend not in ("flat", "hnsw"):
        raise IndexFileError(f"manifest backend must be 'flat' or 'hnsw'; got {backend!r}")
    try:
        index = faiss.read_index(str(index_path))
        with np.load(meta_path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in _ARRAYS}
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise IndexFileError(f"cannot read the similarity index in {str(root)!r}: {exc}") from exc
    _check_loaded(index, arrays, dim=dim, rows=rows, backend=backend, faiss=faiss)
    return index, arrays


def _check_loaded(index: Any, arrays: dict[str, np.ndarray], *, dim: int, rows: int, backend: str,
                  faiss: Any) -> None:
    expected = faiss.IndexFlatIP if backend == "flat" else faiss.IndexHNSWFlat
    if not isinstance(index, expected) or index.d != dim or index.ntotal != rows:
        raise IndexFileError(
            f"saved FAISS index must be {expected.__name__} with d={dim} and {rows} rows; "
            f"got {type(index).__name__} with d={index.d} and {index.ntotal} rows"
        )
    if index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IndexFileError("saved FAISS index must use the inner-product metric")
    for name, arr in arrays.items():
        if arr.shape != (rows,):
            raise IndexFileError(f"saved {name} must have shape ({rows},); got {arr.shape}")
    ids, alive = arrays["ids"], arrays["alive"]
    if not np.issubdtype(ids.dtype, np.integer) or alive.dtype != np.bool_:
        raise IndexFileError("saved ids must be integers and alive flags booleans")
    if np.unique(ids[alive]).shape[0] != int(alive.sum()):
        raise IndexFileError("saved ids of live tracks must be unique")
    bpm, key, energy = arrays["bpm"], arrays["key"], arrays["energy"]
    if not (np.isfinite(bpm).all() and (bpm > 0).all()):
        raise IndexFileError("saved bpm must be finite and > 0")
    if ((key < 0) | (key >= N_KEYS)).any():
        raise IndexFileError("saved keys must be Camelot indices 0..23")
    if ((energy < ENERGY_RANGE[0]) | (energy > ENERGY_RANGE[1])).any():
        raise IndexFileError("saved energy must be in 1..10")


@contextlib.contextmanager
def _folder_lock(root: Path, *, exclusive: bool) -> Iterator[None]:
    """``flock`` on ``<root>/.similarity-index.lock`` (exclusive to save, shared to load). Where the
    lock file cannot be opened (a read-only folder) a load goes on without it."""
    try:
        fd = os.open(root / _LOCK, os.O_CREAT | os.O_RDWR, 0o666)
    except OSError:
        if exclusive:
            raise
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
