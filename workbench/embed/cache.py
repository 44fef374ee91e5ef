"""Embeddings on disk, keyed by content hash + backbone + settings.

``<root>/<backbone>/<settings-hash>/<content-hash>.npz`` holds ``embeddings`` (n, d) and
``timestamps_s`` (n,). A write goes to a temporary file in the same folder and is renamed
into place, so a killed extraction never leaves a half-written entry under a real name.
An entry that cannot be read back whole (truncated, a flipped byte, wrong shapes or values)
reads as missing, so it is computed again and replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from workbench.errors import ParameterError, WriteError, os_cause
from workbench.fileio import atomic_write, atomic_write_bytes


def settings_hash(settings: dict[str, object]) -> str:
    """16 hex digits naming a settings dict (order-independent).

    Parameters
    ----------
    settings : dict
        JSON-ready settings.
    """
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class EmbeddingCache:
    """A folder of cached embeddings for one backbone and its settings.

    Parameters
    ----------
    root : path-like
        The cache's top folder (e.g. ``data/embeddings``).
    backbone : str
        The backbone's name (``"features-v1"``, ``"openl3-mel128-music-6144"``, ...).
    settings : dict
        Everything that changes the output (hop, window, augmentation, ...).
    """

    def __init__(self, root: str | os.PathLike[str], *, backbone: str, settings: dict[str, object]) -> None:
        if not backbone or "/" in backbone or backbone.startswith("."):
            raise ParameterError(f"backbone must be a plain name without '/'; got {backbone!r}")
        self.folder = Path(root) / backbone / settings_hash(settings)
        self.backbone = backbone
        self.settings = dict(settings)

    def path(self, content_hash: str) -> Path:
        """Where the entry of one track's content is (or would be) stored.

        Parameters
        ----------
        content_hash : str
            The track's hex sha256 (lower case, at least 16 digits).

        Raises
        ------
        ParameterError
            ``content_hash`` is not lower-case hex of at least 16 digits.
        """
        if len(content_hash) < 16 or any(c not in "0123456789abcdef" for c in content_hash):
            raise ParameterError(f"content_hash must be a lower-case hex sha256; got {content_hash!r}")
        return self.folder / f"{content_hash}.npz"

    def get(self, content_hash: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The cached ``(embeddings, timestamps_s)``, or ``None`` on a miss.

        A damaged entry is a miss too: one that cannot be read (truncated zip, bad CRC, bad
        header, permission denied), or whose arrays are not finite float ``(n, d)`` embeddings
        with ``n`` timestamps.

        Parameters
        ----------
        content_hash : str
            The track's hex sha256 (lower case, at least 16 digits).

        Returns
        -------
        (np.ndarray [shape=(n, d)], np.ndarray [shape=(n,)]) or None
            Embeddings and their times in seconds.
        """
        p = self.path(content_hash)
        try:
            if not p.is_file():
                return None
            with np.load(p, allow_pickle=False) as data:
                emb, ts = np.asarray(data["embeddings"]), np.asarray(data["timestamps_s"])
        except Exception:  # zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, ...
            return None
        if (emb.ndim != 2 or emb.shape[0] == 0 or emb.shape[1] == 0 or ts.shape != (emb.shape[0],)
                or emb.dtype.kind != "f" or ts.dtype.kind != "f"
                or not (np.isfinite(emb).all() and np.isfinite(ts).all())):
            return None
        return emb, ts

    def put(self, content_hash: str, embeddings: np.ndarray, timestamps_s: np.ndarray) -> Path:
        """Store an entry atomically; returns its path.

        Parameters
        ----------
        content_hash : str
            The track's hex sha256 (lower case, at least 16 digits).
        embeddings : np.ndarray [shape=(n, d)]
            Stored as float32.
        timestamps_s : np.ndarray [shape=(n,)]
            Each frame's time in seconds, stored as float64.

        Raises
        ------
        WriteError
            The folder or file cannot be written (disk full, permission denied, read-only
            file system, ...); the message names the path and the cause.
        """
        p = self.path(content_hash)
        try:
            return self._put(p, embeddings, timestamps_s)
        except OSError as exc:
            raise WriteError(f"{p}: cannot write the embedding cache: {os_cause(exc)}") from exc

    def _put(self, p: Path, embeddings: np.ndarray, timestamps_s: np.ndarray) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "settings.json"
        if not meta.exists():
            atomic_write_bytes(meta, json.dumps({"backbone": self.backbone, **self.settings}, indent=2).encode())

        def _write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, embeddings=np.asarray(embeddings, dtype=np.float32),
                         timestamps_s=np.asarray(timestamps_s, dtype=np.float64))

        return atomic_write(p, _write)
