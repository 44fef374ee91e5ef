"""The backbone a training job embeds with, chosen by name: ``features``, ``openl3`` or ``auto``.

``workbench train embeddings|sections --backbone features|openl3|auto --size 512|6144`` and the
notebooks' ``BACKBONE`` / ``SIZE`` parameters (``config={"backbone": ..., "size": ...}``) come
here. OpenL3 needs its published weights (:func:`workbench.embed.openl3_weights.find_weights`);
without them ``openl3`` fails with :class:`~workbench.embed.openl3_weights.WeightsError` saying
how to provide them, and ``auto`` takes the weight-free feature frontend (said in the run).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone

#: Backbone names a training job accepts.
BACKBONES = ("auto", "features", "openl3")
#: OpenL3 embedding sizes.
SIZES = (512, 6144)


def backbone_by_name(name: str = "auto", *, size: int = 512,
                     weights: str | os.PathLike[str] | None = None, hop_s: float = 0.5) -> Backbone:
    """The backbone called ``name``.

    Parameters
    ----------
    name : {"auto", "features", "openl3"}
        ``features``: the weight-free feature frontend; ``openl3``: OpenL3 (mel128, music) with
        its published weights; ``auto``: OpenL3 when its weights are found, else the frontend.
    size : {512, 6144}
        OpenL3's embedding size (ignored by the feature frontend).
    weights : path or None
        An OpenL3 weight file; None searches ``$WORKBENCH_OPENL3_WEIGHTS`` and ``models/openl3/``.
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

    if name not in BACKBONES:
        raise ParameterError(f"backbone must be one of {list(BACKBONES)}; got {name!r}")
    if isinstance(size, bool) or size not in SIZES:
        raise ParameterError(f"size must be one of {list(SIZES)} (OpenL3's embedding size); got {size!r}")
    if name == "features":
        return FeatureFrontend()
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
