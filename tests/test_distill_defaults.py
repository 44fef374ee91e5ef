"""Issue 19: the distilled student's defaults (session 11's options) apply with ``distill`` only; the class term
needs classes; the job's CNN keeps the bench's dropout masks."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench.errors import ParameterError  # noqa: E402
from workbench.train.cnn_student import (  # noqa: E402
    DISTILL_OFF,
    DISTILL_STUDENT_DEFAULTS,
    DISTILL_TEMPO_DEFAULTS,
    class_term,
    resolve_job_student,
)


def _unset(distill):  # type: ignore[no-untyped-def]
    """A job's data settings with no student option given (as ``EMBEDDING_DATA_DEFAULTS`` has them)."""
    return {"distill": distill, **dict.fromkeys(DISTILL_OFF)}


def test_the_job_leaves_the_options_unset_until_it_resolves_them():
    from workbench.train.embeddings_job import EMBEDDING_DATA_DEFAULTS

    assert all(EMBEDDING_DATA_DEFAULTS[k] is None for k in DISTILL_OFF)


def test_defaults_are_on_with_distill_and_off_without():
    d = _unset("features")
    source = resolve_job_student(d)
    assert {k: d[k] for k in DISTILL_OFF} == {**DISTILL_STUDENT_DEFAULTS, **DISTILL_TEMPO_DEFAULTS}
    assert (d["distill_class_weight"], d["distill_average_epochs"], d["distill_rhythm_lags"],
            d["distill_keep_tempo"], d["distill_mask_bins"], d["distill_tempo_bands"]) == (0.5, 4, 96, True, 0, 0)
    assert set(source.values()) == {"default"}
    d = _unset(None)
    assert set(resolve_job_student(d).values()) == {"default"}  # a run without distill: every option off, no refusal
    assert {k: d[k] for k in DISTILL_OFF} == DISTILL_OFF


def test_an_explicit_zero_or_false_turns_an_option_off():
    d = {**_unset("features"), "distill_rhythm_lags": 0, "distill_keep_tempo": False, "distill_class_weight": 0,
         "distill_average_epochs": 0}
    source = resolve_job_student(d)
    assert (d["distill_rhythm_lags"], d["distill_keep_tempo"], d["distill_class_weight"],
            d["distill_average_epochs"]) == (0, False, 0, 0)
    assert [k for k, v in source.items() if v == "set"] == ["distill_average_epochs", "distill_class_weight",
                                                            "distill_rhythm_lags", "distill_keep_tempo"]
    d = {**_unset(None), "distill_rhythm_lags": 0, "distill_keep_tempo": False}
    resolve_job_student(d)  # asking for nothing is not refused without distill


@pytest.mark.parametrize(("key", "value"), [("distill_class_weight", 0.5), ("distill_average_epochs", 4),
                                            ("distill_rhythm_lags", 96), ("distill_keep_tempo", True),
                                            ("distill_mask_bins", 8), ("distill_tempo_bands", 12)])
def test_an_option_the_user_turns_on_without_distill_is_refused(key, value):
    with pytest.raises(ParameterError, match=rf"^{key} only apply with distill='features'; got distill=None$"):
        resolve_job_student({**_unset(None), key: value})


def test_bad_values_are_refused_with_distill_too():
    with pytest.raises(ParameterError, match=r"class_weight must be a number >= 0; got -1"):
        resolve_job_student({**_unset("features"), "distill_class_weight": -1})
    with pytest.raises(ParameterError, match=r"distill_keep_tempo must be true or false; got 1"):
        resolve_job_student({**_unset("features"), "distill_keep_tempo": 1})


def test_the_class_term_needs_a_class_with_two_training_tracks():
    assert class_term(0.5, {1: "a", 2: "a", 3: "b"}, np.array([1, 1, 2, 3])) is None
    off = class_term(0.5, {1: "1", 2: "2", 3: "3"}, np.array([1, 2, 3, 3]))  # self-supervised: each track its own
    assert off.startswith("off: no class has two training tracks")
    assert class_term(0.0, {1: "a", 2: "a"}, [1, 2]) == "off (distill_class_weight=0)"


def test_the_jobs_cnn_keeps_the_seeds_dropout_masks():
    """``cnn_plan`` keeps build_cnn's generator (bench_distill_draws' student), a file's network gets the run's seed."""
    from workbench.models.cnn import build_cnn
    from workbench.train.backbones import cnn_backbone
    from workbench.train.cnn_training import cnn_plan

    plan = cnn_plan(cnn_backbone(None, seed=3, search=False, stats=True, rhythm_lags=96), {"seed": 3, "dropout": 0.1})
    bench = build_cnn(seed=3, stats=True, dropout=0.1, rhythm_lags=96).net
    assert torch.equal(plan.net.drop.generator.get_state(), bench.drop.generator.get_state())
    assert plan.net.drop.p == 0.1


def test_the_jobs_cnn_from_a_file_draws_masks_from_the_runs_seed(tmp_path):
    from workbench.models.cnn import build_cnn, save_cnn
    from workbench.train.backbones import cnn_backbone
    from workbench.train.cnn_training import cnn_plan

    save_cnn(build_cnn(seed=1), tmp_path / "model.pt")
    plan = cnn_plan(cnn_backbone(tmp_path / "model.pt"), {"seed": 5})
    assert torch.equal(plan.net.drop.generator.get_state(), torch.Generator().manual_seed(5).get_state())


def test_a_self_supervised_distilled_run_turns_the_class_term_off_and_says_so(tmp_path):
    """Defaults and explicit values together: the class term set but off (no classes), rhythm and tempo set off."""
    from conftest import low_high_library
    from test_cnn_backbone import _write

    from workbench import cli
    from workbench.models.cnn import load_cnn
    from workbench.runs import load_run

    lib = low_high_library(tmp_path, _write)
    exp = tmp_path / "exp"
    try:
        rc = cli.main(["--db", str(lib.path), "--quiet", "train", "embeddings", "--backbone", "cnn", "--distill",
                       "features", "--classes", "self", "--epochs", "1", "--set", "invariance_clips=0",
                       "--set", "m=2", "--set", "batch_size=4", "--set", "test_size=0.34", "--set", "val_size=0.34",
                       "--set", "distill_class_weight=0.5", "--set", "distill_rhythm_lags=0",
                       "--set", "distill_keep_tempo=false", "--experiments", str(exp)])
    finally:
        lib.close()
    assert rc == 0
    run = load_run(next(exp.glob("*/model.pt")).parent)
    d = run.metrics["distill"]
    options = d["student_options"]
    assert options["class_term"].startswith("off: no class has two training tracks")
    assert options["distill_class_weight"] == {"value": 0.0, "from": "set"} and d["class_weight"] == 0.0
    assert options["distill_average_epochs"] == {"value": 4, "from": "default"}
    assert options["distill_rhythm_lags"] == {"value": 0, "from": "set"} and load_cnn(run.model_path).net.rhythm_lags == 0
    assert options["distill_keep_tempo"] == {"value": False, "from": "set"} and run.config["distill_keep_tempo"] is False
    assert any("distill_class_weight=0.5 was set but the class term is off" in w for w in run.metrics["warnings"])
    assert d["student_stopped"] == "reached max_epochs=1; weights averaged over epochs 1-1"
