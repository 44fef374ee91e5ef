"""Core ML export for the Apple Neural Engine, checked on Linux.

- :mod:`workbench.export.ane_layers`: the models rebuilt in the Neural-Engine layout (B, C, 1, S).
- :mod:`workbench.export.coreml`: ``export_head``, ``export_classifier``, ``export_embedding_model``.
  Its steps: :mod:`workbench.export.coreml_convert` (convert, compress, save) and
  :mod:`workbench.export.coreml_meta` (metadata); the OpenL3 layers: :mod:`workbench.export.ane_openl3`.
- :mod:`workbench.export.audio_in`: the audio-in models (mono samples in, the spectrogram inside:
  ``export_backbone``, ``export_audio_embedding``, ``export_audio_classifier``), their modules in
  :mod:`workbench.export.ane_audio`; the shared last step in :mod:`workbench.export.coreml_finish`.
- :mod:`workbench.export.track_in`: the whole-track section model (a track's samples in, every
  window's section probabilities, top label and time out; window features computed inside by
  :mod:`workbench.export.track_model` and :mod:`workbench.train.sections.features_torch`).
- :mod:`workbench.export.lint`: static Neural Engine lint of a saved program (and the share of
  compute ops that are Neural-Engine eligible).
- :mod:`workbench.export.mil_eval`: NumPy evaluator of the saved program; parity and fp16 audit.
- :mod:`workbench.export.run_export`: :func:`export_run`, a training run's model(s) -> checked
  packages -> :class:`workbench.registry.Registry`; :func:`exportable_runs`,
  :func:`not_exportable_reason`, :func:`run_windows` (real windows for the parity check).
- :mod:`workbench.export.reexport`: a run exported again with the same options is refused, naming its
  versions; :mod:`workbench.export.rerun`: :func:`~workbench.export.rerun.export_or_registered`
  (notebook 06's export cell, which may run again).
- :mod:`workbench.export.card`: the Markdown model card (it lives with the registry,
  :mod:`workbench.registry_card`; re-exported here).

This package is the public face: its names load on first use, so importing it loads nothing heavy
(coremltools and torch load inside functions).
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

__all__ = ["export_run", "exportable_runs", "not_exportable_reason", "run_windows"]

__getattr__, __dir__ = lazy_exports(__name__, {name: "workbench.export.run_export" for name in __all__}, globals())
