"""The embedding model that similar-track search ranks with: a backbone plus an optional trained head.

A track's *windows* are ``window_s``-second means of the backbone's frame embeddings every
``hop_s`` seconds (the unit the triplet head is trained on, :func:`workbench.train.datasets.section_windows`),
passed through the head when there is one. Whole-track similarity is computed from these window
sets (:mod:`workbench.similarity.sets`), so an excerpt of a track still finds it.

Which model: :func:`resolve_model` reads the library's registry table (``model_versions``) and the
run folder the head was trained in (its ``model.pt``, read with ``weights_only=True``):

* ``None`` (default): the active ``head`` version when one exists and was trained on the library's
  backbone, else the bare backbone (``said`` tells which, and why); but when the registry's active
  ``embedding`` version is a CNN (the user activated or exported one), that CNN if it was activated after the
  active head or no head is active (:func:`workbench.similarity.model_cnn.default_cnn`): the most recently
  activated of the two ranks, a tie keeps the head, and the result says so;
* ``"backbone"``: the bare backbone;
* ``"head"``: the active head (an error when none is active);
* ``"head@3"``: version 3 of the head, active or not;
* ``"cnn"``: a CNN trained by ``workbench train embeddings --backbone cnn`` (``--distill features`` too) ranks as
  the backbone, with no head: the registry's active ``embedding`` version when it is such a CNN, else the
  newest run that trained one (as ``workbench embed --backbone cnn`` finds it);
* ``"cnn@2"``: version 2 of the ``embedding`` model (the CNN that run trained), active or not.

A CNN's index is keyed by its weights (the backbone's name is ``cnn-v1-<sha256[:12]>``), and its results
name it (``"cnn@2 (cnn-v1-...)"``).

The registry module sits above this layer, so its table is read here directly (read-only).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.library import Library
    from workbench.models.heads import EmbeddingHead
    from workbench.similarity.blend import Blend

#: Window length in seconds when no head says otherwise (the triplet job's default).
DEFAULT_WINDOW_S = 8.0
_MODEL_RE = re.compile(r"^(backbone|head|cnn)(?:@(\d+))?$")


@dataclass(frozen=True, eq=False)
class EmbeddingModel:
    """A backbone and an optional head; :meth:`windows` turns frame embeddings into window vectors.

    Parameters
    ----------
    backbone : Backbone
        Makes the frame embeddings (and names the embedding cache).
    head : EmbeddingHead or None
        The trained triplet head (input: a window's mean backbone frame), or None for the bare backbone.
    version : int or None
        The head's registry version.
    window_s, hop_s : float > 0
        Window length and hop in seconds.
    backbone_said : str
        The backbone in words.
    note : str
        Why this model was chosen when it was not asked for (e.g. no active head), else "".
    weights_sha256 : str
        The head's ``model.pt`` digest (names its index).
    run_id : str or None
        The run that trained the head (or the CNN).
    label : str
        The name of a model with no head that is not the library's plain backbone (``"cnn@2"``); "" otherwise.
    blend : Blend or None
        The head's blend with the backbone (:mod:`workbench.similarity.blend`): window vectors are
        then the blended ones, whose cosine keeps ``blend.weight`` of the backbone's.
    """

    backbone: Backbone
    head: EmbeddingHead | None = None
    version: int | None = None
    window_s: float = DEFAULT_WINDOW_S
    hop_s: float = DEFAULT_WINDOW_S / 4
    backbone_said: str = ""
    note: str = ""
    weights_sha256: str = field(default="")
    run_id: str | None = None
    blend: Blend | None = None
    label: str = ""

    @property
    def name(self) -> str:
        """``"backbone"``, ``"head@<version>"``, ``"head of run <id>"`` for a head not registered (``"head of this
        run"`` while the run that trains it has no id yet), or the label
        of a CNN (``"cnn@<version>"``, ``"cnn of run <id>"``)."""
        if self.head is None:
            return self.label or "backbone"
        if self.version is not None:
            return f"head@{self.version}"
        # a run's search gate measures its head before the run has an id: "head of run None" in its card
        return f"head of run {self.run_id}" if self.run_id else "head of this run"

    @property
    def tag(self) -> str:
        """The head's short tag in folder names: ``head3-<weights sha256[:12]>`` (``""`` for the backbone),
        ``-b<weight>`` added for a blend with the backbone (the same file used without it has its own index),
        ``-b<weight>s`` where the blend's backbone end is search's (``blend.backbone == "search"``)."""
        if self.head is None:
            return ""
        tag = f"head{self.version if self.version is not None else 'run'}-{self.weights_sha256[:12]}"
        if self.blend is None:
            return tag
        return f"{tag}-b{self.blend.weight:g}{'s' if self.blend.backbone == 'search' else ''}"

    @property
    def key(self) -> str:
        """The model's identity in an index manifest: backbone, window, head version and weights."""
        base = f"{self.backbone.name}-w{self.window_s:g}-h{self.hop_s:g}"
        return base if self.head is None else f"{base}-{self.tag}"

    @property
    def dim(self) -> int:
        """Length of a window vector."""
        if self.head is None:
            return int(self.backbone.dim)
        return int(self.head.out_dim) + (0 if self.blend is None else self.blend.in_dim)

    @property
    def said(self) -> str:
        """E.g. ``"head@3 (on openl3-mel128-music-512)"``: the model that produced a result, in words.

        ``backbone_said`` has the backbone at length (and why it was chosen).
        """
        what = getattr(self.backbone, "said", None) or self.backbone.name  # a tuned OpenL3 says how it was tuned
        text = f"{self.name} (on {what})" if self.head is not None else f"{self.name} ({what})"
        if self.head is not None and self.blend is not None:
            text = (f"{self.name} (on {what}; backbone share {self.blend.weight:g}"
                    f"{', z-scored as search does' if self.blend.backbone == 'search' else ''})")
        return text + (f"; {self.note}" if self.note else "")

    def windows(self, frames: np.ndarray, timestamps_s: np.ndarray) -> np.ndarray:
        """Window vectors of one track or excerpt.

        Parameters
        ----------
        frames : np.ndarray [shape=(n, backbone.dim)]
            The backbone's frame embeddings.
        timestamps_s : np.ndarray [shape=(n,)]
            Each frame's time in seconds.

        Returns
        -------
        np.ndarray [shape=(n_windows, dim), dtype=float32]
            One row per ``window_s`` window every ``hop_s`` seconds (at least one: audio shorter
            than a window is one window); through the head when there is one.
        """
        means = window_means(frames, timestamps_s, window_s=self.window_s, hop_s=self.hop_s)
        if self.head is None:
            return means
        import torch

        self.head.eval()
        with torch.no_grad():
            out = self.head(torch.from_numpy(np.ascontiguousarray(means, dtype=np.float32)))
        if self.blend is not None:
            return self.blend.vectors(means, out.numpy())
        return out.numpy().astype(np.float32)


def window_means(frames: np.ndarray, timestamps_s: np.ndarray, *, window_s: float, hop_s: float) -> np.ndarray:
    """Mean frame embedding of each ``window_s`` window, every ``hop_s`` seconds.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, d)]
        Frame embeddings, ``n >= 1``.
    timestamps_s : np.ndarray [shape=(n,)]
        Frame times in seconds (ascending).
    window_s, hop_s : float > 0
        Window length and hop in seconds.

    Returns
    -------
    np.ndarray [shape=(n_windows, d), dtype=float32]

    Raises
    ------
    ParameterError
        No frames, or shapes that do not match.
    """
    e = np.asarray(frames, dtype=np.float64)
    ts = np.asarray(timestamps_s, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] == 0 or ts.shape != (e.shape[0],):
        raise ParameterError(f"frames must have shape (n >= 1, d) with n timestamps; got {e.shape} and {ts.shape}")
    span = float(ts[-1] - ts[0])
    n_win = 1 if span <= window_s else 1 + int(np.floor((span - window_s) / hop_s + 1e-9))
    starts = ts[0] + hop_s * np.arange(n_win)
    lo = np.searchsorted(ts, starts - 1e-9, side="left")
    hi = np.searchsorted(ts, starts + window_s - 1e-9, side="left")
    hi = np.maximum(hi, lo + 1)  # a window holds at least its first frame
    hi = np.minimum(hi, e.shape[0])
    csum = np.vstack([np.zeros((1, e.shape[1])), np.cumsum(e, axis=0)])
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    return ((csum[hi] - csum[lo]) / (hi - lo)[:, None]).astype(np.float32)


def _head_rows(library: Library, model_type: str = "head") -> list[dict[str, Any]]:
    """The registry's ``head`` (or ``model_type``) versions (version, active, run_id, metadata, activated_at: when
    it was last made active, else registered; deactivated_at: when ``models deactivate`` last turned it off, or
    None), read-only, by version."""
    rows = library.conn.execute(
        "SELECT version, active, run_id, metadata, created_at FROM model_versions WHERE model_type = ? ORDER BY version",
        (model_type,)).fetchall()
    out = []
    for r in rows:
        try:
            meta = json.loads(r["metadata"])
        except (TypeError, ValueError):
            meta = {}
        inner = meta.get("metadata") if isinstance(meta, dict) else None
        out.append({"version": int(r["version"]), "active": bool(r["active"]),
                    "run_id": r["run_id"] or (inner or {}).get("run_id"), "metadata": inner or {},
                    "activated_at": (meta.get("activated_at") if isinstance(meta, dict) else None) or r["created_at"],
                    "deactivated_at": meta.get("deactivated_at") if isinstance(meta, dict) else None})
    return out


def deactivated_head(library: Library) -> tuple[int, str, tuple[int, ...]] | None:
    """The head version ``models deactivate head`` last turned off, while no head is active (the registry's
    ``model_deactivations`` row: the type stays off when that version is deleted).

    Parameters
    ----------
    library : Library
        The library whose registry is read (read-only).

    Returns
    -------
    tuple of (int, str, tuple of int) or None
        Its version, when it was deactivated (ISO 8601 UTC), and the head versions registered now (its own missing
        once deleted); None when a head is active or none was deactivated.
    """
    rows = _head_rows(library)
    if any(r["active"] for r in rows):
        return None
    off = library.conn.execute("SELECT version, deactivated_at FROM model_deactivations WHERE model_type = 'head'"
                               ).fetchone()
    return None if off is None else (int(off["version"]), str(off["deactivated_at"]), tuple(r["version"] for r in rows))


def _backbone_named(name: str, dim: int | None) -> Backbone:
    """The backbone a head was trained on, by its cache name."""
    from workbench.embed.batch import default_backbone
    from workbench.embed.features import FeatureFrontend

    if name == FeatureFrontend.name:
        return FeatureFrontend()
    found, _ = default_backbone()
    if found.name == name:
        return found
    if name.startswith("openl3"):
        from workbench.embed.openl3 import OpenL3, OpenL3Backbone

        return OpenL3Backbone(OpenL3.from_weights(embedding_size=int(dim or 512)))
    raise ParameterError(f"the head's backbone must be the feature frontend or OpenL3; got {name!r}")


def _tuned_backbone(where: Library | Path, run_id: str | None, info: dict[str, Any],
                    frozen: Backbone | None) -> Backbone | None:
    """The fine-tuned OpenL3 a head was trained with (its run's ``backbone.pt``), or None when the head's
    backbone was not fine-tuned. ``where`` is the library (with ``run_id``) or the run folder itself.

    Raises
    ------
    ParameterError
        The run's ``backbone.pt`` is gone.
    """
    tuned = info.get("finetuned")
    if not tuned:
        return None
    from workbench.embed.openl3_tuned import tuned_backbone_from

    if isinstance(where, Path):
        folder = where
    else:
        root = getattr(getattr(where, "workspace", None), "experiments", None)
        folder = Path(root) / str(run_id) if root is not None and run_id else Path(".")
    path = folder / str(tuned.get("file", "backbone.pt"))
    if not path.is_file():
        raise ParameterError(f"the head's fine-tuned backbone {info.get('name')} ({path}) is gone; "
                             "train again or choose --model backbone")
    hop_s = getattr(frozen, "hop_s", None) or float((info.get("settings") or {}).get("hop_s", 0.5))
    return tuned_backbone_from(path, hop_s=float(hop_s))


def _read_head(path: Path) -> tuple[Any, Blend | None]:
    """The head in ``path`` (``model.pt``, read with ``weights_only=True``) and its blend, if any.

    A stored blend with no backbone share (weight 0) is the head alone: None, so search keeps the
    head's own vectors and index instead of padding every window with a zero-weighted backbone.
    """
    from workbench.models.heads import load_checkpoint, read_weights
    from workbench.similarity.blend import Blend

    data = read_weights(path)
    blend = Blend.from_checkpoint(data)
    return load_checkpoint(data), (blend if blend is not None and blend.weight > 0 else None)


def _load_head(library: Library, row: dict[str, Any]) -> tuple[EmbeddingHead, float, str, Blend | None]:
    """(head, window_s, weights sha256, blend) of a registry row, from its run's ``model.pt``.

    Raises
    ------
    ParameterError
        The run folder or its ``model.pt`` is gone, or the file is not an embedding head.
    """
    from workbench.models.heads import EmbeddingHead

    run_id = row["run_id"]
    root = Path(library.workspace.experiments) if getattr(library, "workspace", None) is not None else None
    path = (root / str(run_id) / "model.pt") if (root is not None and run_id) else None
    if path is None or not path.is_file():
        raise ParameterError(f"head@{row['version']}: its weights ({path or 'no run recorded'}) are gone; "
                             "train again or choose --model backbone")
    head, blend = _read_head(path)
    if not isinstance(head, EmbeddingHead):
        raise ParameterError(f"head@{row['version']}: {path} is a {type(head).__name__}, not an embedding head")
    window_s = DEFAULT_WINDOW_S
    try:
        data = json.loads((path.parent / "data.json").read_text())
        window_s = float(data.get("window_s", DEFAULT_WINDOW_S))
    except (OSError, ValueError, TypeError):
        pass
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return head, window_s, sha, blend


def resolve_model(library: Library, model: str | None = None, *, backbone: Backbone | None = None) -> EmbeddingModel:
    """The embedding model a search ranks with (see the module docstring).

    Parameters
    ----------
    library : Library
        Whose registry and runs are read.
    model : {None, "backbone", "head", "head@N", "cnn", "cnn@N"}
        Which model; None: the active head when there is one for the library's backbone, else the backbone; an
        active CNN ``embedding`` version activated after the active head (or with none active) instead.
        ``cnn``: a trained CNN as the backbone (see the module; ``backbone`` is then not used).
    backbone : Backbone or None
        The library's backbone; None: :func:`~workbench.embed.batch.default_backbone`.

    Returns
    -------
    EmbeddingModel

    Raises
    ------
    ParameterError
        ``model`` is not one of the choices (the message names them), names a version that does
        not exist, or asks for the active head when none is active.
    """
    from workbench.embed.batch import describe_backbone

    if model is not None and (not isinstance(model, str) or _MODEL_RE.match(model.strip()) is None):
        raise ParameterError(f"model must be {_model_choices(_head_rows(library))}; got {model!r}")
    if model is not None and model.strip().startswith("cnn"):
        from workbench.similarity.model_cnn import find_cnn

        cnn, run_id, label = find_cnn(library, model.strip(), _head_rows(library, "embedding"))
        return EmbeddingModel(cnn, backbone_said=describe_backbone(cnn), run_id=run_id, label=label)
    cnn_note = ""
    if model is None:  # the active embedding model when it is a CNN activated after the active head
        from workbench.similarity.model_cnn import default_cnn

        try:
            found = default_cnn(library, _head_rows(library, "embedding"), _head_rows(library))
        except ParameterError as exc:  # its weights are gone: said, and the head (or the backbone) ranks
            found, cnn_note = None, f"{exc}; ranked without it"
        if found is not None:
            cnn, run_id, label, why = found
            return EmbeddingModel(cnn, backbone_said=describe_backbone(cnn), run_id=run_id, label=label, note=why)
    chosen = _head_or_backbone(library, model, backbone)
    return chosen if not cnn_note else dataclasses.replace(chosen, note="; ".join(x for x in (chosen.note, cnn_note) if x))


def _model_choices(rows: list[dict[str, Any]]) -> str:
    """Every form ``--model`` takes, with the head versions ``rows`` (:func:`_head_rows`) registered, for an error."""
    versions = [r["version"] for r in rows]
    return ("'backbone', 'head' (the active one)" + (f", 'head@N' with N in {versions}" if versions else "")
            + ", 'cnn' or 'cnn@N' (a CNN trained with --backbone cnn)")


def _head_or_backbone(library: Library, model: str | None, backbone: Backbone | None) -> EmbeddingModel:
    """:func:`resolve_model` for ``None``, ``"backbone"``, ``"head"`` and ``"head@N"``, once no CNN was chosen."""
    from workbench.embed.batch import default_backbone, describe_backbone

    if backbone is None:
        backbone, said = default_backbone()
    else:
        said = describe_backbone(backbone)
    if model is not None and model.strip() == "backbone":
        return EmbeddingModel(backbone, backbone_said=said)
    rows = _head_rows(library)
    m = _MODEL_RE.match(model.strip()) if model is not None else None
    if m is not None and m.group(2) is not None:
        wanted = int(m.group(2))
        row = next((r for r in rows if r["version"] == wanted), None)
        if row is None:
            raise ParameterError(f"model must be {_model_choices(rows)}; got {model!r} (no head version {wanted})")
    else:
        row = next((r for r in rows if r["active"]), None)
        if row is None:
            off = deactivated_head(library)
            off_said = "" if off is None else (f" (head@{off[0]}{'' if off[0] in off[2] else ' (deleted)'} was "
                                               "deactivated: `workbench models deactivate head`)")
            if model is not None:
                raise ParameterError(f"model 'head' means the active head, and none is active{off_said} "
                                     f"(versions: {[r['version'] for r in rows]}); choose 'backbone', 'head@N', 'cnn' or 'cnn@N'")
            return EmbeddingModel(backbone, backbone_said=said, note=f"no active head in the registry{off_said}")
    info = row["metadata"].get("backbone") or {}
    name = str(info.get("name", "features-v1"))
    if model is None and str(info.get("base_name", name)) != backbone.name:  # a tuned OpenL3 head serves OpenL3
        return EmbeddingModel(backbone, backbone_said=said,
                              note=f"the active head@{row['version']} was trained on {name}, not {backbone.name}")
    try:
        head, window_s, sha, blend = _load_head(library, row)
    except ParameterError as exc:
        if model is None:
            return EmbeddingModel(backbone, backbone_said=said, note=str(exc))
        raise
    b = backbone if name == backbone.name else (_tuned_backbone(library, row["run_id"], info, backbone)
                                                or _backbone_named(name, info.get("dim")))
    if head.in_dim != b.dim:
        raise ParameterError(f"head@{row['version']} takes {head.in_dim}-d vectors; its backbone {b.name} gives {b.dim}")
    return EmbeddingModel(b, head, row["version"], window_s, window_s / 4,
                          backbone_said=said if b is backbone else describe_backbone(b), weights_sha256=sha,
                          run_id=row["run_id"], blend=blend)


def model_from_run(run: Any, *, backbone: Backbone | None = None) -> EmbeddingModel:
    """The head a training run wrote (its ``model.pt``), before or without registering it.

    Parameters
    ----------
    run : workbench.runs.Run
        An embeddings run.
    backbone : Backbone or None
        Its backbone; None: the one ``run.json`` names.

    Raises
    ------
    ParameterError
        The run has no ``model.pt``, or it is not an embedding head.
    """
    from workbench.embed.batch import describe_backbone
    from workbench.models.heads import EmbeddingHead

    path = run.model_path
    if path is None:
        raise ParameterError(f"run {run.run_id} has no model.pt")
    head, blend = _read_head(path)
    if not isinstance(head, EmbeddingHead):
        raise ParameterError(f"run {run.run_id}: model.pt is a {type(head).__name__}, not an embedding head")
    info = run.info.get("backbone") or {}
    b = backbone if backbone is not None else (_tuned_backbone(path.parent, None, info, None)
                                               or _backbone_named(str(info.get("name", "features-v1")), info.get("dim")))
    window_s = float((run.data or {}).get("window_s", DEFAULT_WINDOW_S))
    return EmbeddingModel(b, head, None, window_s, window_s / 4, backbone_said=describe_backbone(b),
                          weights_sha256=hashlib.sha256(path.read_bytes()).hexdigest(), run_id=run.run_id, blend=blend)


def cnn_model_from_run(run: Any) -> EmbeddingModel:
    """The CNN a ``--backbone cnn`` run trained, as the model search ranks with: no head, named ``cnn of run <id>``.

    Parameters
    ----------
    run : workbench.runs.Run
        An embeddings run of ``workbench train embeddings --backbone cnn``.

    Raises
    ------
    ParameterError
        The run has no ``model.pt``, or it is not a CNN.
    """
    from workbench.embed.batch import describe_backbone
    from workbench.similarity.model_cnn import cnn_of_run

    cnn = cnn_of_run(run)
    return EmbeddingModel(cnn, backbone_said=describe_backbone(cnn), run_id=run.run_id, label=f"cnn of run {run.run_id}")
