"""The DJ-section classifier: windows of a track's embeddings → the seven section labels.

Pipeline (each step in a module of this package, all names importable from here):

1. :mod:`~workbench.train.sections.features`: :func:`check_readiness` (10 labelled sections per
   class, 2 classes); :func:`~workbench.train.sections.library_data.section_dataset` turns every labelled
   track's frame embeddings into window features (:class:`WindowFeatures`) with the label of the span each window's
   centre falls in (:class:`SectionData`, :class:`TrackFrames`).
2. :mod:`~workbench.train.sections.trainer`: :class:`SectionTrainer`, a scikit-learn classifier
   around a small MLP with class weighting and early stopping on validation *tracks*;
   :func:`save_section_model` / :func:`load_section_model`.
3. :mod:`~workbench.train.sections.baselines`: the majority-class and scikit-learn baselines
   (:func:`make_baseline`) and grouped cross-validation (:func:`cross_validate`).
4. :mod:`~workbench.train.sections.suggestions`: full-track inference, frames → beats → bars →
   smoothed segments snapped to bars, each with a confidence (:func:`suggest_sections`).
5. :mod:`~workbench.train.sections.training`: :func:`train_sections`, the model and every
   baseline scored on the same held-out tracks (:class:`SectionResult`).
6. :mod:`~workbench.train.sections.job`: :func:`train_sections_job`, the same as a job on the
   library's stored labels, written as a run.

Beyond the demo (issue 18): :mod:`~workbench.train.sections.transfer` scores every group of
tracks (crate or folder; the demo's crates are its styles) held out in turn
(:func:`leave_one_group_out`); :mod:`~workbench.train.sections.novelty` finds boundaries with
no labels (the unsupervised baseline, and :func:`fallback_suggestions` before any model is
trained); :mod:`~workbench.train.sections.grammar` learns order, position and duration priors
from the user's labels (:func:`learn_grammar`); the model's probabilities are calibrated by a
temperature fitted on held-out predictions (:mod:`workbench.evaluate.calibration`) and
suggestions below ``uncertain_below`` are marked ``uncertain``;
:mod:`~workbench.train.sections.dj_features` adds level, low end, onsets, brightness, novelty
and distance to the ends to the window features (:data:`DEFAULT_FEATURES`).

The smoothing model lives in :mod:`workbench.train.smoothing`, the segment scores in
:func:`~workbench.evaluate.segmentation.segment_eval` (:meth:`TrackFrames.segment_eval`).
"""

from __future__ import annotations

from workbench.train.datasets import demo_sections
from workbench.train.sections.baselines import (
           BASELINES,
           MODELS,
           cross_validate,
           grouped_folds,
           held_out_baselines,
           make_baseline,
)
from workbench.train.sections.epoch_loop import overfit_warning
from workbench.train.sections.features import (
           DEFAULT_FEATURES,
           NotReadyError,
           SectionData,
           TrackFrames,
           WindowFeatures,
           check_readiness,
)
from workbench.train.sections.grammar import Grammar, learn_grammar
from workbench.train.sections.job import HOW_TO_LABEL, sections_not_ready, train_sections_job
from workbench.train.sections.library_data import section_dataset, track_frames, track_groups
from workbench.train.sections.model_file import load_section_model, save_section_model
from workbench.train.sections.suggestions import (
           SMOOTHING_DEFAULTS,
           UNCERTAIN_BELOW,
           fallback_suggestions,
           novelty_suggestions,
           segments_for,
           suggest_sections,
           suggester,
)
from workbench.train.sections.trainer import (
           EpochCallback,
           NotFittedError,
           SectionTrainer,
           classifier_proba,
)
from workbench.train.sections.training import CONFIG_DEFAULTS, SectionResult, train_sections
from workbench.train.sections.transfer import leave_one_group_out

__all__ = ["BASELINES", "CONFIG_DEFAULTS", "DEFAULT_FEATURES", "HOW_TO_LABEL", "UNCERTAIN_BELOW", "Grammar",
           "fallback_suggestions", "learn_grammar", "sections_not_ready", "leave_one_group_out", "novelty_suggestions", "track_groups", "MODELS", "SMOOTHING_DEFAULTS", "EpochCallback",
           "NotFittedError", "NotReadyError", "SectionData", "SectionResult", "SectionTrainer", "TrackFrames",
           "WindowFeatures", "check_readiness", "classifier_proba", "cross_validate", "demo_sections",
           "grouped_folds", "held_out_baselines", "load_section_model", "make_baseline", "overfit_warning",
           "save_section_model", "section_dataset", "segments_for", "suggest_sections", "suggester",
           "track_frames", "train_sections", "train_sections_job"]
