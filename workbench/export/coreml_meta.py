"""The metadata of an exported Core ML package: descriptions, the standard fields, ``com.workbench.*`` keys.

Split out of :mod:`workbench.export.coreml`, which re-exports every name here.
"""

from __future__ import annotations

import json
import os
from typing import Any

from workbench.validate import check_choice

#: Model types of an exported package (the registry keeps the first three; ``"backbone"`` is the
#: audio-in frame embedder of :func:`workbench.export.audio_in.export_backbone`).
MODEL_TYPES = ("dj_section", "embedding", "head", "backbone")
#: Our reverse-DNS prefix for user-defined metadata (the converter's com.github.apple.coremltools.* stay).
METADATA_PREFIX = "com.workbench."
DEFAULT_AUTHOR = "workbench (local training)"
DEFAULT_LICENSE = "Private: trained on the owner's own music library; not for redistribution."


# -- metadata ---------------------------------------------------------------------------

def describe_input(name: str, *, dim: int | None = None, backbone: dict[str, Any] | None = None) -> str:
    """A description with units for one of our inputs.

    Parameters
    ----------
    name : str
        ``"samples"``, ``"logmel"``, or any other name for a pooled vector input (``"embedding"``).
    dim : int or None
        Length of a pooled vector input.
    backbone : dict or None
        The run's backbone (``{"name": ...}``); a ``features*`` name describes the feature frontend.

    Returns
    -------
    str
    """
    if name == "samples":
        return ("One 1-second mono audio window: 48000 float samples at 48 kHz, full scale +-1.0 "
                "(resample and downmix before; windows every 0.5 s (hop) for a track).")
    if name == "logmel":
        return ("OpenL3 log-mel patch (1, 1, 128, 199): 128 Slaney mel bands 0-24 kHz x 199 frames of a 1-s "
                "window at 48 kHz (periodic Hann, n_fft 2048, hop 242 samples = 5.04 ms), 10*log10 of the "
                "magnitude relative to the window's maximum, clipped at -80 dB.")
    name_b = (backbone or {}).get("name", "backbone")
    if str(name_b).startswith("features"):
        return (f"Pooled feature vector ({dim} floats) of the workbench feature frontend {name_b} "
                "(log-mel, MFCC, spectral contrast, chroma, onset and tempogram statistics of 1-s windows at "
                "22.05 kHz, hop 0.5 s), averaged over the section. Compute it in the app exactly as "
                "workbench.embed.features does.")
    return f"Pooled {name_b} embedding ({dim} floats), averaged over the 1-s windows (hop 0.5 s) of the section."


def build_metadata(*, model_type: str, description: str, labels: tuple[str, ...] = (), metrics: dict | None = None,
                   fingerprint: str | None = None, backbone: dict[str, Any] | None = None,
                   weights_source: str | None = None, run_id: str | None = None, version: str | None = None,
                   author: str = DEFAULT_AUTHOR, license: str = DEFAULT_LICENSE,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The metadata dict stored in the package and the registry's JSON (plain JSON values).

    ``version`` is the semantic version; None lets the registry stamp ``"<N>.0.0"`` for version N.

    Parameters
    ----------
    model_type : {"dj_section", "embedding", "head", "backbone"}
    description : str
        One sentence for the package's short description.
    labels : tuple of str
        Class names of a classifier; empty for an embedding model.
    metrics : dict or None
        The training run's metrics (``training_metrics``).
    fingerprint : str or None
        The training data's fingerprint.
    backbone : dict or None
        The backbone the model takes its input from (``name``, ``dim``, ...).
    weights_source : str or None
        Where pretrained weights came from (file and SHA-256).
    run_id : str or None
        The training run.
    version : str or None
        Semantic version.
    author, license : str
    extra : dict or None
        More keys, merged in last.

    Returns
    -------
    dict
        Plain JSON values, with ``workbench_version`` (the code version) added.

    Raises
    ------
    ParameterError
        ``model_type`` is not one of :data:`MODEL_TYPES`.
    """
    from workbench.runs import code_version

    check_choice("model_type", model_type, MODEL_TYPES)
    return {"model_type": model_type, "description": description, "author": author, "license": license,
            "version": version, "labels": list(labels), "training_metrics": metrics or {},
            "data_fingerprint": fingerprint, "backbone": backbone or {}, "weights_source": weights_source,
            "run_id": run_id, "workbench_version": code_version(), **(extra or {})}


def apply_metadata(mlmodel: Any, meta: dict[str, Any], *, inputs: dict[str, str], outputs: dict[str, str]) -> None:
    """Write ``meta`` into the model: the standard fields and our reverse-DNS keys.

    Parameters
    ----------
    mlmodel : coremltools.models.MLModel
        Changed in place.
    meta : dict
        ``description``, ``author``, ``license``, ``version`` go to the standard fields; every other
        key but ``inputs``/``outputs`` to ``com.workbench.<key>`` (strings as they are, others as JSON).
    inputs, outputs : dict of str to str
        Feature name -> its description.
    """
    mlmodel.short_description = str(meta.get("description", ""))
    mlmodel.author = str(meta.get("author", ""))
    mlmodel.license = str(meta.get("license", ""))
    if meta.get("version"):
        mlmodel.version = str(meta["version"])
    for key, value in meta.items():
        if key in ("description", "author", "license", "version", "inputs", "outputs"):
            continue
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        mlmodel.user_defined_metadata[METADATA_PREFIX + key] = text
    for name, text in inputs.items():
        mlmodel.input_description[name] = text
    for name, text in outputs.items():
        mlmodel.output_description[name] = text


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Our metadata back from a saved package (standard fields + ``com.workbench.*`` keys).

    Parameters
    ----------
    path : str or path
        A saved ``.mlpackage``.

    Returns
    -------
    dict
        ``description``, ``author``, ``license``, ``version``, each ``com.workbench.*`` key without its
        prefix (JSON decoded where it is JSON), and ``inputs``/``outputs`` {name: description}.
    """
    from workbench.export.quiet import coremltools

    ct = coremltools()

    m = ct.models.MLModel(str(path), skip_model_load=True)
    out: dict[str, Any] = {"description": m.short_description, "author": m.author, "license": m.license,
                           "version": m.version}
    for k, v in m.user_defined_metadata.items():
        if k.startswith(METADATA_PREFIX):
            try:
                out[k[len(METADATA_PREFIX):]] = json.loads(v)
            except json.JSONDecodeError:
                out[k[len(METADATA_PREFIX):]] = v
    spec = m.get_spec()
    out["inputs"] = {i.name: i.shortDescription for i in spec.description.input}
    out["outputs"] = {o.name: o.shortDescription for o in spec.description.output}
    return out
