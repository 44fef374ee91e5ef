"""Saving and loading a :class:`~workbench.similarity.sets.TrackSetIndex` (npz arrays + a JSON manifest)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import IndexFileError, IndexNotFoundError
from workbench.fileio import atomic_write, atomic_write_bytes

if TYPE_CHECKING:
    from workbench.similarity.sets import TrackSetIndex

_FILE = "track-sets.npz"
_MANIFEST = "track-sets.json"
_FORMAT = 1


def save_sets(index: TrackSetIndex, folder: str | os.PathLike[str], *, info: dict[str, Any] | None = None) -> Path:
    """Write ``track-sets.npz`` and then its manifest ``track-sets.json`` (atomically) in ``folder``.

    Parameters
    ----------
    index : TrackSetIndex
        What to save.
    folder : str or os.PathLike
        Created if needed.
    info : dict or None
        Extra JSON stored in the manifest (the model, track signatures).
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        """Write the arrays to ``tmp``.

        Parameters
        ----------
        tmp : Path
            The temporary file :func:`~workbench.fileio.atomic_write` renames into place.
        """
        with open(tmp, "wb") as fh:
            np.savez(fh, ids=index._ids, offsets=index._offsets, windows=index._windows, wweights=index._wweights,
                     baseline=np.float64(index.baseline), bpm=index._bpm, key=index._key, energy=index._energy,
                     rough=index._rough)

    atomic_write(root / _FILE, write)
    manifest = {"format": _FORMAT, "dim": index.dim, "tracks": len(index), **(info or {})}
    atomic_write_bytes(root / _MANIFEST, json.dumps(manifest, indent=1).encode())
    return root / _MANIFEST


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest :func:`save_sets` wrote in ``folder``, or None when there is none (or it is unreadable).

    Parameters
    ----------
    folder : str or os.PathLike
        The index's folder.
    """
    try:
        doc = json.loads((Path(folder) / _MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == _FORMAT else None


def load_sets(cls: type[TrackSetIndex], folder: str | os.PathLike[str]) -> TrackSetIndex:
    """Read an index :func:`save_sets` wrote.

    Parameters
    ----------
    cls : type
        :class:`~workbench.similarity.sets.TrackSetIndex` (or a subclass).
    folder : str or os.PathLike
        The index's folder.

    Raises
    ------
    IndexNotFoundError
        No manifest in ``folder``.
    IndexFileError
        The arrays are missing or inconsistent.
    """
    doc = read_manifest(folder)
    if doc is None:
        raise IndexNotFoundError(f"no track-set index in {str(folder)!r}")
    try:
        with np.load(Path(folder) / _FILE, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        obj = cls(int(doc["dim"]))
        obj._ids, obj._offsets = arrays["ids"].astype(np.int64), arrays["offsets"].astype(np.int64)
        obj._windows, obj._wweights = arrays["windows"].astype(np.float32), arrays["wweights"].astype(np.float32)
        obj.baseline = float(arrays["baseline"]) if "baseline" in arrays else 0.0
        obj._bpm, obj._key, obj._energy = (arrays["bpm"].astype(np.float64), arrays["key"].astype(np.int8),
                                           arrays["energy"].astype(np.int8))
        # tempo roughness (saved since window-sets-3): an older file's tracks read as steady
        obj._rough = arrays["rough"].astype(bool) if "rough" in arrays else np.zeros(obj._ids.shape[0], bool)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise IndexFileError(f"damaged track-set index in {str(folder)!r}: {exc}") from exc
    n = obj._ids.shape[0]
    if (obj._offsets.shape != (n + 1,) or obj._offsets[-1] != obj._windows.shape[0]
            or obj._windows.shape[1:] != (obj.dim,) or obj._bpm.shape != (n,) or obj._rough.shape != (n,)):
        raise IndexFileError(f"damaged track-set index in {str(folder)!r}: arrays do not match")
    return obj


def index_from_arrays(cls: type[TrackSetIndex], ids: np.ndarray, windows: np.ndarray, offsets: np.ndarray, *,
                      bpm: np.ndarray, key: np.ndarray, energy: np.ndarray,
                      wweights: np.ndarray | None = None, tempo_rough: np.ndarray | None = None) -> TrackSetIndex:
    """A whole index at once (``add`` track by track copies the arrays each time: quadratic at scale).

    Parameters
    ----------
    cls : type
        :class:`~workbench.similarity.sets.TrackSetIndex`.
    ids : np.ndarray [shape=(n,), dtype=int]
        Distinct track ids.
    windows : np.ndarray [shape=(W, d)]
        Window vectors, track after track (L2-normalised here).
    offsets : np.ndarray [shape=(n + 1,), dtype=int]
        Where each track's windows start; ``offsets[0] == 0``, ``offsets[-1] == W``, increasing.
    bpm : np.ndarray [shape=(n,)]
        Tempo in BPM (NaN: no steady beat).
    key : np.ndarray [shape=(n,), dtype=int]
        Camelot key index 0..23 (:func:`~workbench.similarity.scores.camelot_index`); -1: no key (drums only).
    energy : np.ndarray [shape=(n,), dtype=int]
        Energy 1..10.
    wweights : np.ndarray [shape=(W,)] or None
        Window weights; None: 1 each.
    tempo_rough : np.ndarray [shape=(n,), dtype=bool] or None
        Whose tempo is rough (``Δ~`` in explanations); None: none.

    Raises
    ------
    ParameterError
        Shapes that do not fit together, repeated ids, values out of range.
    """
    from workbench.errors import ParameterError
    from workbench.similarity._inputs import normalize_rows

    ids = np.asarray(ids, np.int64)
    offsets = np.asarray(offsets, np.int64)
    windows = np.asarray(windows)  # normalised from its own precision, as add() does
    n = ids.shape[0]
    if windows.ndim != 2 or offsets.shape != (n + 1,) or offsets[0] != 0 or offsets[-1] != windows.shape[0] \
            or (np.diff(offsets) < 1).any():
        raise ParameterError(f"offsets must be {n + 1} increasing integers from 0 to the number of windows "
                             f"({windows.shape[0] if windows.ndim == 2 else windows.shape}); got shape {offsets.shape}")
    if np.unique(ids).shape[0] != n:
        raise ParameterError("ids must be distinct; got repeated ids")
    arrays = {"bpm": np.asarray(bpm, np.float64), "key": np.asarray(key), "energy": np.asarray(energy),
              "tempo_rough": np.zeros(n, bool) if tempo_rough is None else np.asarray(tempo_rough, bool)}
    for name, a in arrays.items():
        if a.shape != (n,):
            raise ParameterError(f"{name} must have shape ({n},); got {a.shape}")
    if ((arrays["key"] < -1) | (arrays["key"] > 23)).any() or ((arrays["energy"] < 1) | (arrays["energy"] > 10)).any():
        raise ParameterError("key must be in 0..23 (-1: no key) and energy in 1..10; got values outside")
    ww = np.ones(windows.shape[0], np.float32) if wweights is None else np.asarray(wweights, np.float32)
    if ww.shape != (windows.shape[0],) or not (ww > 0).all():
        raise ParameterError(f"wweights must be {windows.shape[0]} positive numbers; got shape {ww.shape}")
    obj = cls(int(windows.shape[1]))
    obj._ids, obj._offsets, obj._windows, obj._wweights = ids, offsets, normalize_rows(windows, name="windows"), ww
    obj._bpm, obj._key, obj._energy = arrays["bpm"], arrays["key"].astype(np.int8), arrays["energy"].astype(np.int8)
    obj._rough = arrays["tempo_rough"]
    return obj
