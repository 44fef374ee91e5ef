"""The album-effect bench's pieces: whole-track statistics, their cosines, and P@3 by folder over a chosen pool."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    return importlib.import_module("bench_search_track_stats")


def test_p_at_3_counts_folder_matches_among_the_pool_and_skips_lone_queries(bench):
    groups = {1: "A", 2: "A", 3: "A", 4: "B", 5: "B", 6: "C"}
    pool = {1, 2, 3, 4, 5, 6}
    wrong = {1: {2: 0.1, 3: 0.2, 4: 0.9, 5: 0.8, 6: 0.0}, 6: {t: 0.5 for t in range(1, 6)}}
    right = {1: {2: 0.9, 3: 0.8, 4: 0.1, 5: 0.2, 6: 0.0}, 6: wrong[6]}
    assert bench.p_at_3(wrong, groups, [1, 6], pool) == {"p_at_3": pytest.approx(1 / 3), "n_queries": 1}
    assert bench.p_at_3(right, groups, [1, 6], pool)["p_at_3"] == pytest.approx(2 / 3)
    # a pool without the query's folder-mates (its held-out tracks removed) skips it
    assert bench.p_at_3(right, groups, [1], {1, 4, 5, 6})["n_queries"] == 0


def test_stats_cosine_z_scores_each_dimension_over_the_tracks(bench):
    a = {"tilt": np.array([1.0]), "level": np.array([-20.0])}
    b = {"tilt": np.array([1.0]), "level": np.array([-20.0])}
    c = {"tilt": np.array([-1.0]), "level": np.array([-40.0])}
    cos = bench.stats_cosine([a, b, c], ("tilt", "level"))
    assert cos[0, 1] == pytest.approx(1.0) and cos[0, 2] == pytest.approx(-1.0)
    # a statistic the tracks share says nothing: only the level separates them here
    d = {"tilt": np.array([5.0]), "level": np.array([-20.0])}
    e = {"tilt": np.array([5.0]), "level": np.array([-40.0])}
    assert bench.stats_cosine([d, e], ("tilt", "level"))[0, 1] == pytest.approx(-1.0)


def test_the_projection_learns_the_separating_statistic_from_the_fitted_tracks_only(bench):
    rng = np.random.default_rng(0)
    folders = ["A"] * 4 + ["B"] * 4
    stats = [{"mfcc_mean": np.r_[(3.0 if f == "A" else -3.0) + rng.normal(0, 0.3), rng.normal(0, 3, 5)]}
             for f in folders + ["A", "B"]]  # the last two are queries, never fitted
    cos = bench.stats_cosine(stats, ("mfcc_mean",), list(range(8)), folders)
    assert cos[8, :4].min() > cos[8, 4:8].max() and cos[9, 4:8].min() > cos[9, :4].max()


def test_track_statistics_of_a_file(bench, tmp_path):
    import soundfile as sf

    sr = 22050
    t = np.arange(sr * 3) / sr
    low, high = 0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 3520 * t)
    sf.write(tmp_path / "mono.wav", low, sr)
    sf.write(tmp_path / "wide.wav", np.stack([low + high, low - high], axis=1), sr)
    mono, wide = bench.track_statistics(str(tmp_path / "mono.wav")), bench.track_statistics(str(tmp_path / "wide.wav"))
    assert mono["mfcc_mean"].shape == (20,) and mono["contrast"].shape == (7,)
    assert mono["width"][0] == -60.0 and wide["width"][0] == pytest.approx(0.0, abs=0.5)  # side as loud as mid
    assert np.isfinite(np.concatenate(list(mono.values()))).all()


def test_the_mean_table_takes_each_row_from_the_runs_that_have_it(bench):
    """``--queries all`` on dev libraries: each library has its own folders, so a folder's row is in one run only; the
    mean table read every key of the first run from every run (KeyError) and missed the later runs' folders."""
    nan = float("nan")
    results = [{"rows": {"backbone|default|mfcc|0": {"p_at_3": 0.5, "n_queries": 4},
                         "backbone|default|mfcc|0|strings": {"p_at_3": 0.25, "n_queries": 4}}},
               {"rows": {"backbone|default|mfcc|0": {"p_at_3": 0.75, "n_queries": 6},
                         "backbone|default|mfcc|0|brass": {"p_at_3": 1.0, "n_queries": 6},
                         "backbone|default|mfcc|1": {"p_at_3": nan, "n_queries": 0}}}]
    assert bench.mean_rows(results) == {"backbone|default|mfcc|0": (0.625, 2, 10),
                                        "backbone|default|mfcc|0|strings": (0.25, 1, 4),
                                        "backbone|default|mfcc|0|brass": (1.0, 1, 6)}
