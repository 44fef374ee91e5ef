"""OpenL3 weight files: where they are found, and readers for Keras ``.h5`` and torchopenl3 ``.pth.tar``.

Split out of :mod:`workbench.embed.openl3`, which re-exports every name here. Weights are data,
not code: Keras ``.h5`` files are read with h5py as arrays.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.errors import ParameterError, WorkbenchError

if TYPE_CHECKING:
    import torch

    from workbench.embed.openl3 import OpenL3

_KERAS_CONVS = [f"conv2d_{i}" for i in range(1, 8)] + ["audio_embedding_layer"]
_KERAS_BNS = [f"batch_normalization_{i}" for i in range(1, 9)]
WEIGHTS_ENV = "WORKBENCH_OPENL3_WEIGHTS"


class WeightsError(WorkbenchError, ValueError):
    """An OpenL3 weight file is missing, mislabelled or does not match the network."""


def _parse_name(name: str) -> tuple[str, str] | None:
    """``(input_repr, content_type)`` from a Keras (openl3) or torchopenl3 weight file name."""
    m = re.match(r"^openl3_audio_(linear|mel128|mel256)_(music|env)(?:[._-].*)?\.h5$", name)
    if m is None:
        m = re.match(r"^torchopenl3_(linear|mel128|mel256)_(music|env)(?:_(?:512|6144))?\.pth(?:\.tar)?$", name)
    return (m.group(1), m.group(2)) if m else None


def find_weights(path: str | os.PathLike[str] | None = None, *, input_repr: str | None = None,
                 content_type: str | None = None) -> Path:
    """The weight file: ``path``, else ``$WORKBENCH_OPENL3_WEIGHTS`` (a file or a folder), else
    ``models/openl3/``, else an installed ``openl3`` package's folder.

    Parameters
    ----------
    path : str, os.PathLike or None
        A weight file to use as it is (``~`` expanded).
    input_repr : {"linear", "mel128", "mel256"} or None
        The file name searched for; None: ``"mel128"``.
    content_type : {"music", "env"} or None
        The file name searched for; None: ``"music"``.

    Raises
    ------
    WeightsError
        Nothing found; the message lists where it looked and how to get the files.
    """
    from workbench import config

    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            return p
        raise WeightsError(f"no OpenL3 weight file at {p}")
    name = f"openl3_audio_{input_repr or 'mel128'}_{content_type or 'music'}.h5"
    candidates = []
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        e = Path(env).expanduser()
        candidates.append(e / name if e.is_dir() else e)
    candidates.append(config.models_dir() / "openl3" / name)
    import importlib.util

    spec = importlib.util.find_spec("openl3")  # an installed openl3 keeps its weights beside its code
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / name)
    for c in candidates:
        if c.is_file():
            return c
    looked = ", ".join(str(c) for c in candidates)
    raise WeightsError(
        f"no OpenL3 weights found (looked for {name} in: {looked}). Copy the published openl3 0.4.x "
        f"file {name} (from the openl3 package's folder on a machine that has it) into models/openl3/, "
        f"or set {WEIGHTS_ENV}; until then the workbench uses the weight-free feature frontend"
    )


def _check_unfolded(model: OpenL3) -> None:
    if model.network.folded:
        raise ParameterError("cannot load weights into a network whose batch norms are folded; build a new OpenL3")


def load_keras_h5(model: OpenL3, path: str | os.PathLike[str]) -> None:
    """Copy a Keras-2 ``save_weights`` HDF5 file into ``model`` (arrays only; no code is run).

    Parameters
    ----------
    model : OpenL3
        A model whose batch norms are not folded yet.
    path : str or os.PathLike
        The ``.h5`` file.

    Raises
    ------
    WeightsError
        A weight is missing or has the wrong shape, or the file's frontend is another variant's.
    """
    import h5py

    _check_unfolded(model)
    def _read(f: h5py.File, layer: str, weight: str) -> np.ndarray:
        try:
            return np.asarray(f[layer][layer][f"{weight}:0"], dtype=np.float32)
        except KeyError as exc:
            raise WeightsError(f"{path}: no weight {layer}/{weight} (not an OpenL3 audio weight file?)") from exc

    with h5py.File(path, "r") as f:
        layer_names = [n.decode() if isinstance(n, bytes) else str(n) for n in f.attrs.get("layer_names", [])]
        frontend = "stft_magnitude" if model.input_repr == "linear" else "melspectrogram"
        other = "melspectrogram" if frontend == "stft_magnitude" else "stft_magnitude"
        if other in layer_names and frontend not in layer_names:
            raise WeightsError(f"{path}: the file was saved with a {other} frontend, but it is being loaded as "
                               f"input_repr={model.input_repr!r}: the file is mislabelled")
        net = model.network
        bns = [net.bn0, *net.bns]
        for layer, bn in zip(_KERAS_BNS, bns, strict=True):
            for weight, tensor in (("gamma", bn.weight), ("beta", bn.bias), ("moving_mean", bn.running_mean),
                                   ("moving_variance", bn.running_var)):
                _copy(tensor, _read(f, layer, weight), f"{path}: {layer}/{weight}")
        for layer, conv in zip(_KERAS_CONVS, net.convs, strict=True):
            _copy(conv.weight, _read(f, layer, "kernel").transpose(3, 2, 0, 1), f"{path}: {layer}/kernel")
            _copy(conv.bias, _read(f, layer, "bias"), f"{path}: {layer}/bias")


def load_torchopenl3(model: OpenL3, path: str | os.PathLike[str]) -> None:
    """Copy a torchopenl3 ``.pth`` / ``.pth.tar`` state dict into ``model``.

    Loaded with ``torch.load(..., weights_only=True)``: tensors only, no pickled code. Its keys
    are the Keras layer names (``batch_normalization_1.weight``, ``conv2d_1.weight``, ...,
    ``audio_embedding_layer.bias``) with torch's layouts; its spectrogram buffers are ignored
    (our frontend rebuilds them).

    Parameters
    ----------
    model : OpenL3
        A model whose batch norms are not folded yet.
    path : str or os.PathLike
        The state-dict file.

    Raises
    ------
    WeightsError
        The file is not a readable state dict, or a tensor is missing or has the wrong shape.
    """
    _check_unfolded(model)
    try:
        import torch

        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or non-tensor file
        raise WeightsError(f"{path}: not a readable torchopenl3 state dict ({exc})") from exc
    state = blob.get("state_dict", blob) if isinstance(blob, dict) else None
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state dict of tensors; got {type(blob).__name__}")
    state = {k.removeprefix("module."): v for k, v in state.items()}

    def _get(key: str) -> np.ndarray:
        if key not in state:
            raise WeightsError(f"{path}: no tensor {key!r} (not a torchopenl3 weight file?)")
        return state[key].detach().cpu().numpy()

    net = model.network
    for layer, bn in zip(_KERAS_BNS, [net.bn0, *net.bns], strict=True):
        for name, tensor in (("weight", bn.weight), ("bias", bn.bias), ("running_mean", bn.running_mean),
                             ("running_var", bn.running_var)):
            _copy(tensor, _get(f"{layer}.{name}"), f"{path}: {layer}.{name}")
    for layer, conv in zip(_KERAS_CONVS, net.convs, strict=True):
        _copy(conv.weight, _get(f"{layer}.weight"), f"{path}: {layer}.weight")
        _copy(conv.bias, _get(f"{layer}.bias"), f"{path}: {layer}.bias")


def _copy(tensor: torch.Tensor, array: np.ndarray, what: str) -> None:
    if tuple(tensor.shape) != array.shape:
        raise WeightsError(f"{what} has shape {array.shape}; the network expects {tuple(tensor.shape)} "
                           "(a file for another input representation?)")
    import torch

    with torch.no_grad():
        tensor.copy_(torch.from_numpy(np.ascontiguousarray(array)))
