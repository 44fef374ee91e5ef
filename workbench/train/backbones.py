"""The backbone a training job embeds with, chosen by name: ``features``, ``openl3``, ``cnn`` or ``auto``.

``workbench train embeddings|sections --backbone features|openl3|cnn|auto --size 512|6144`` and the
notebooks' ``BACKBONE`` / ``SIZE`` parameters (``config={"backbone": ..., "size": ...}``) come
here. OpenL3 needs its published weights (:func:`workbench.embed.openl3_weights.find_weights`);
without them ``openl3`` fails with :class:`~workbench.embed.openl3_weights.WeightsError` saying
how to provide them, and ``auto`` takes the weight-free feature frontend (said in the run).
``cnn`` is the trainable CNN on log-mel patches (:mod:`workbench.models.cnn`): its weights come
from ``weights``, else ``$WORKBENCH_CNN_WEIGHTS``, else the newest embeddings run that trained it
(``workbench train embeddings --backbone cnn``), else it is untrained (seed 0; said in the run).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone

#: Backbone names a training job accepts.
BACKBONES = ("auto", "features", "openl3", "cnn")
#: Where ``cnn`` looks for weights first.
CNN_WEIGHTS_ENV = "WORKBENCH_CNN_WEIGHTS"
#: OpenL3 embedding sizes.
SIZES = (512, 6144)


def backbone_by_name(name: str = "auto", *, size: int = 512,
                     weights: str | os.PathLike[str] | None = None, hop_s: float = 0.5) -> Backbone:
    """The backbone called ``name``.

    Parameters
    ----------
    name : {"auto", "features", "openl3", "cnn"}
        ``features`` (or ``features-v1``, its recorded name): the weight-free feature frontend; ``openl3``: OpenL3 (mel128, music) with
        its published weights; ``auto``: OpenL3 when its weights are found, else the frontend;
        ``cnn``: the trainable CNN (:func:`cnn_backbone`).
    size : {512, 6144}
        OpenL3's embedding size (ignored by the feature frontend).
    weights : path or None
        An OpenL3 weight file (a CNN checkpoint for ``cnn``); None searches
        ``$WORKBENCH_OPENL3_WEIGHTS`` and ``models/openl3/`` (for ``cnn``: see :func:`cnn_backbone`).
    hop_s : float > 0
        OpenL3's hop between windows in seconds.

    Returns
    -------
    Backbone

    Raises
    ------
    ParameterError
        An unknown name or size.
    WeightsError
        ``openl3`` without weights (the message says where they were looked for and how to add them).
    """
    from workbench.embed.features import FeatureFrontend

    if name == FeatureFrontend.name:  # the name runs record ("features-v1") names the frontend too
        name = "features"
    if name not in BACKBONES:
        raise ParameterError(f"backbone must be one of {list(BACKBONES)}; got {name!r}")
    if isinstance(size, bool) or size not in SIZES:
        raise ParameterError(f"size must be one of {list(SIZES)} (OpenL3's embedding size); got {size!r}")
    if name == "features":
        return FeatureFrontend()
    if name == "cnn":
        return cnn_backbone(weights, hop_s=hop_s)
    try:
        from workbench.embed.openl3 import OpenL3, OpenL3Backbone, WeightsError
    except ImportError as exc:  # torch or h5py missing
        if name == "auto":
            return FeatureFrontend()
        raise ParameterError(f"backbone='openl3' needs torch and h5py ({exc}); use backbone='features'") from exc
    try:
        model = OpenL3.from_weights(weights, embedding_size=int(size))
    except WeightsError as exc:
        if name == "auto" and weights is None:
            return FeatureFrontend()
        why = str(exc).split("; until then")[0]  # the fallback the search uses does not apply to an explicit choice
        raise WeightsError(f"backbone='openl3' (--backbone openl3) needs the published OpenL3 weights: {why}. "
                           "Or train on the weight-free frontend with --backbone features") from exc
    return OpenL3Backbone(model, hop_s=hop_s)


def cnn_backbone(weights: str | os.PathLike[str] | None = None, *, hop_s: float = 0.5, seed: int = 0,
                 search: bool = True, stats: bool = False, rhythm_lags: int = 0, tempo_bands: int = 0) -> Backbone:
    """The CNN backbone: from ``weights``, else ``$WORKBENCH_CNN_WEIGHTS``, else the newest run that trained it, else untrained.

    Parameters
    ----------
    weights : path or None
        A CNN checkpoint (``model.pt`` of a ``--backbone cnn`` embeddings run, or :func:`workbench.models.cnn.save_cnn`'s file).
    hop_s : float in [0.1, 10]
        Seconds between embedding windows.
    seed : int >= 0
        Seed of the initial weights when none are found.
    search : bool
        Look in ``$WORKBENCH_CNN_WEIGHTS`` and the workspace's runs when ``weights`` is None; False
        starts from the seed's initial weights (a training run from scratch).
    stats : bool
        Initial weights with the band-statistics branch (:class:`workbench.models.cnn.MelCNN`; the
        distilled CNN's); weights read from a file keep their own architecture.
    rhythm_lags : int >= 0
        Initial weights with the rhythm branch (:class:`workbench.models.cnn.MelCNN`; 0: off), as ``stats``.
    tempo_bands : int >= 0
        Initial weights with the tempo bands (:class:`workbench.models.cnn.MelCNN`; 0: off), as ``stats``.

    Returns
    -------
    CNNBackbone
        Its ``trained`` says where the weights came from.

    Raises
    ------
    ParameterError
        ``weights`` (or ``$WORKBENCH_CNN_WEIGHTS``) names no file.
    CheckpointError
        The file is not a CNN checkpoint.
    """
    from workbench.models.cnn import build_cnn, load_cnn
    from workbench.models.cnn_backbone import CNNBackbone

    path, said = weights, "weights file"
    if path is None and search and os.environ.get(CNN_WEIGHTS_ENV):
        path, said = os.environ[CNN_WEIGHTS_ENV], f"${CNN_WEIGHTS_ENV}"
    if path is not None:
        if not os.path.isfile(path):
            raise ParameterError(f"the CNN weights ({said}) must be a file written by `workbench train embeddings "
                                 f"--backbone cnn` (its run's model.pt); got {os.fspath(path)!r}")
        return CNNBackbone(load_cnn(path), hop_s=hop_s, trained=f"{said} {os.fspath(path)}")
    if search:
        from workbench.runs import latest_cnn_run

        found = latest_cnn_run()
        if found is not None:
            run_id, model_path = found
            return CNNBackbone(load_cnn(model_path), hop_s=hop_s, trained=f"run {run_id}")
    return CNNBackbone(build_cnn(seed=seed, stats=stats, rhythm_lags=rhythm_lags, tempo_bands=tempo_bands), hop_s=hop_s,
                       trained=f"untrained (seed {seed})")
