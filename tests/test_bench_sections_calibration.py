"""The cross-generator calibration benchmark's temperature rules: per-row temperatures and the shift fit."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import bench_module

from workbench.evaluate.calibration import apply_temperature


@pytest.fixture(scope="module")
def bench():
    return bench_module("bench_sections_calibration")


def test_row_temperature_is_apply_temperature_row_by_row(bench):
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), size=40)
    temps = rng.uniform(0.5, 3.0, size=40)
    want = np.vstack([apply_temperature(p[i:i + 1], temps[i]) for i in range(40)])
    np.testing.assert_allclose(bench.row_temperature(p, temps), want, atol=1e-12)


def test_fit_shift_recovers_a_temperature_that_grows_with_disagreement(bench):
    # labels drawn from softmax(z / T(d)), T(d) = exp(0.1 + 2 d); the model states softmax(z)
    rng = np.random.default_rng(1)
    n_tracks, per, k = 300, 40, 4
    d = np.repeat(rng.uniform(0.0, 0.6, size=n_tracks), per)
    z = rng.normal(0.0, 3.0, size=(n_tracks * per, k))
    stated = bench.row_temperature(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), np.ones(len(d)))
    truth = bench.row_temperature(stated, np.exp(0.1 + 2.0 * d))
    y = np.array([rng.choice(k, p=q) for q in truth])
    a, b = bench.fit_shift(stated, y, d)
    assert a == pytest.approx(0.1, abs=0.05)
    assert b == pytest.approx(2.0, abs=0.2)


def test_per_track_is_each_rows_track_mean(bench):
    got = bench.per_track(np.array([1.0, 0.0, 3.0, 1.0]), np.array([7, 7, 9, 9]))
    np.testing.assert_allclose(got, [0.5, 0.5, 2.0, 2.0])
