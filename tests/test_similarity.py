"""Explainable similarity search: component scores, explanations, exactness against brute force,
index mutation and persistence, and every parameter error."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import ParameterError, TrackNotFoundError
from workbench.similarity import (
    CAMELOT_CODES,
    IndexFileError,
    IndexNotFoundError,
    Match,
    Query,
    SimilarityIndex,
    Weights,
    brute_force_similar,
    energy_score,
    format_explanation,
    key_relation,
    key_score,
    tempo_delta,
    tempo_score,
    vibe_score,
)
from workbench.similarity._inputs import cosine_rows, normalize_rows
from workbench.similarity.query import vibe_words

faiss = pytest.importorskip("faiss")


# --------------------------------------------------------------------------- helpers


def make_library(rng: np.random.Generator, n: int, d: int, *, clustered: bool = False, duplicates: int = 0,
                 integer_bpm: bool = False) -> dict:
    """A random library as the keyword arguments of SimilarityIndex / brute_force_similar."""
    if clustered and n > 0:
        centres = rng.standard_normal((max(1, n // 50), d))
        emb = centres[rng.integers(0, centres.shape[0], n)] + 0.3 * rng.standard_normal((n, d))
    else:
        emb = rng.standard_normal((n, d))
    emb = emb.astype(np.float32)
    ids = rng.permutation(max(1, 5 * n))[:n].astype(np.int64) - n  # some negative ids too
    bpm = rng.integers(70, 180, n).astype(float) if integer_bpm else rng.uniform(60.0, 180.0, n)
    keys = rng.integers(0, 24, n)
    energy = rng.integers(1, 11, n)
    if duplicates and n >= 2:
        src = rng.integers(0, n, duplicates)
        dst = rng.integers(0, n, duplicates)
        emb[dst], bpm[dst], keys[dst], energy[dst] = emb[src], bpm[src], keys[src], energy[src]
    return {"ids": ids, "embeddings": emb, "bpm": bpm, "camelot": [CAMELOT_CODES[i] for i in keys],
            "energy": energy}


def assert_same(got: list[Match], want: list[Match]) -> None:
    assert [m.id for m in got] == [m.id for m in want]
    for a, b in zip(got, want, strict=True):
        assert a.score == pytest.approx(b.score, abs=1e-6)
        assert a.score == b.score  # bit-identical in practice: same arithmetic per row
        assert a.explanation == b.explanation


def unit(*components: float, d: int = 8) -> np.ndarray:
    v = np.zeros(d, dtype=np.float32)
    v[: len(components)] = components
    return v


# --------------------------------------------------------------------------- component scores


@pytest.mark.parametrize(("a", "b", "want"), [
    (128, 130, 0.8), (130, 128, 0.8), (70, 140, 1.0), (140, 70, 1.0), (128, 138, 0.0), (128, 150, 0.0),
    (128, 128, 1.0), (128, 133, 0.5), (64, 129, 0.9), (174, 86, 0.9),
])
def test_tempo_score_golden(a, b, want):
    assert tempo_score(a, b) == pytest.approx(want, abs=1e-12)


def test_tempo_score_is_exact_for_the_spec_examples():
    assert tempo_score(128, 130) == 0.8
    assert tempo_score(70, 140) == 1.0
    assert tempo_score(128, 138) == 0.0


@pytest.mark.parametrize(("a", "b", "want"), [
    (128, 130, 2.0), (130, 128, -2.0), (70, 141, 1.0), (140, 69, -1.0), (128, 128, 0.0), (100, 90, -10.0),
])
def test_tempo_delta_is_signed_after_matching(a, b, want):
    assert tempo_delta(a, b) == pytest.approx(want)


def test_tempo_vectorised():
    got = tempo_score(np.array([128.0, 70.0]), np.array([[130.0, 140.0], [128.0, 71.0]]))
    np.testing.assert_allclose(got, [[0.8, 1.0], [1.0, 0.9]])


@pytest.mark.parametrize(("a", "b", "want", "relation"), [
    ("8A", "8A", 1.0, "same"), ("8A", "8B", 0.9, "relative"), ("8A", "9A", 0.8, "compatible"),
    ("8A", "7A", 0.8, "compatible"), ("12A", "1A", 0.8, "compatible"), ("1B", "12B", 0.8, "compatible"),
    ("8A", "10A", 0.6, "two steps"), ("11A", "1A", 0.6, "two steps"), ("8A", "3B", 0.2, "clash"),
    ("8A", "9B", 0.2, "clash"), ("8A", "11A", 0.2, "clash"), ("8a", " 8B ", 0.9, "relative"),
])
def test_key_score_golden(a, b, want, relation):
    assert key_score(a, b) == want
    assert key_relation(a, b) == relation


def test_key_score_vectorised_is_symmetric():
    table = key_score(np.array(CAMELOT_CODES)[:, None], np.array(CAMELOT_CODES)[None, :])
    assert table.shape == (24, 24)
    np.testing.assert_array_equal(table, table.T)
    assert set(np.unique(table)) == {0.2, 0.6, 0.8, 0.9, 1.0}
    assert (table == 1.0).sum() == 24 and (table == 0.9).sum() == 24 and (table == 0.8).sum() == 48


@pytest.mark.parametrize(("a", "b", "want"), [(5, 7, 0.6), (7, 5, 0.6), (5, 5, 1.0), (1, 6, 0.0), (1, 10, 0.0),
                                              (3, 4, 0.8)])
def test_energy_score_golden(a, b, want):
    assert energy_score(a, b) == want


def test_vibe_score():
    q = unit(1.0)
    assert vibe_score(q, unit(1.0)) == pytest.approx(1.0)
    assert vibe_score(q, unit(0.0, 1.0)) == 0.0
    assert vibe_score(q, unit(-1.0)) == 0.0  # negative cosine clipped
    assert vibe_score(q, unit(3.0, 4.0)) == pytest.approx(0.6)  # scale does not matter
    got = vibe_score(q, np.stack([unit(1.0), unit(-1.0), unit(1.0, 1.0)]))
    np.testing.assert_allclose(got, [1.0, 0.0, math.sqrt(0.5)], rtol=1e-6)


def test_cosine_rows_does_not_depend_on_the_batch():
    """The exactness argument needs a row's cosine to be the same bits alone or in any batch."""
    rng = np.random.default_rng(7)
    for d in (16, 33, 64, 512):
        v = normalize_rows(rng.standard_normal((1500, d)))
        q = normalize_rows(rng.standard_normal((1, d)))[0]
        full = cosine_rows(v, q)
        rows = rng.choice(1500, 97, replace=False)
        np.testing.assert_array_equal(cosine_rows(v[rows], q), full[rows])
        np.testing.assert_array_equal(cosine_rows(v[rows[:1]], q), full[rows[:1]])
        np.testing.assert_array_equal(normalize_rows(v[rows]), v[rows])


# --------------------------------------------------------------------------- weights


def test_weights_defaults_and_normalisation():
    w = Weights()
    assert (w.vibe, w.tempo, w.key, w.energy) == (0.5, 0.2, 0.2, 0.1)
    assert Weights(2, 0, 0, 2).normalized() == (0.5, 0.0, 0.0, 0.5)
    assert Weights.coerce(None) == w
    assert Weights.coerce({"vibe": 1}) == Weights(vibe=1.0)
    with pytest.raises(AttributeError):
        w.vibe = 1.0  # frozen


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"key": -1}, r"weights\['key'\] must be >= 0; got -1"),
    ({"vibe": float("nan")}, r"weights\['vibe'\] must be finite; got nan"),
    ({"tempo": float("inf")}, r"weights\['tempo'\] must be finite; got inf"),
    ({"energy": "0.1"}, r"weights\['energy'\] must be a real number >= 0; got '0.1'"),
    ({"energy": True}, r"weights\['energy'\] must be a real number >= 0; got True"),
    ({"vibe": 0, "tempo": 0, "key": 0, "energy": 0}, r"weights must have a sum > 0"),
])
def test_weights_errors(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        Weights(**kwargs)


def test_weights_coerce_errors():
    with pytest.raises(ParameterError, match=r"weights keys must be among \('vibe', 'tempo', 'key', 'energy'\); got 'bpm'"):
        Weights.coerce({"bpm": 1})
    with pytest.raises(ParameterError, match="weights must be a Weights, a mapping"):
        Weights.coerce([0.5, 0.5])
    with pytest.raises(ParameterError, match=r"weights\['key'\] must be >= 0; got -1"):
        Weights.coerce({"key": -1})


# --------------------------------------------------------------------------- explanations


@pytest.mark.parametrize(("kwargs", "want"), [
    ({"vibe": 0.82, "bpm_delta": 2.0, "key_from": "8A", "key_to": "9A", "energy_delta": 1},
     "similar vibe (82%); Δ+2 BPM; key: 8A→9A (compatible); energy +1"),
    ({"vibe": 0.5, "bpm_delta": 0.0, "key_from": "8A", "key_to": "8A", "energy_delta": 0},
     "similar vibe (50%); same BPM; key: 8A (same); energy same"),
    ({"vibe": 0.996, "bpm_delta": -2.6, "key_from": "8A", "key_to": "8B", "energy_delta": -2},
     "similar vibe (100%); Δ-3 BPM; key: 8A→8B (relative); energy -2"),
    ({"vibe": 0.0, "bpm_delta": 0.4, "key_from": "8A", "key_to": "10A", "energy_delta": 3},
     "different vibe (0%); same BPM; key: 8A→10A (two steps); energy +3"),
    ({"vibe": 0.125, "bpm_delta": 2.5, "key_from": "8A", "key_to": "3B", "energy_delta": -1},
     "different vibe (13%); Δ+3 BPM; key: 8A→3B (clash); energy -1"),
    ({"vibe": 0.7349, "key_to": "5A"}, "similar vibe (73%)"),
    ({"vibe": 0.494, "key_to": "5A"}, "loosely related vibe (49%)"),
    ({"vibe": 0.244, "key_to": "5A"}, "different vibe (24%)"),
    ({"vibe": 0.25, "bpm_delta": None, "key_from": "8A", "key_to": "8A", "energy_delta": 0, "tempo_unknown": True},
     "loosely related vibe (25%); tempo unknown (no beat); key: 8A (same); energy same"),
])
def test_format_explanation(kwargs, want):
    assert format_explanation(**kwargs) == want


def test_a_half_or_double_time_delta_says_so() -> None:
    from workbench.similarity.query import tempo_match_of
    from workbench.similarity.scores import tempo_delta, tempo_score

    # 64.5 BPM against a 120.2 BPM query is matched at half time (60.1): +4.4 from it, not -55.7
    d = float(tempo_delta(120.2, 64.5))
    assert d == pytest.approx(4.4) and tempo_match_of(120.2, 64.5) == "half"
    assert format_explanation(vibe=0.6, bpm_delta=d, tempo_match="half") == "similar vibe (60%); Δ+4 BPM (half time)"
    # 89.9 is nearest half time too (+29.8) but matches at no multiple (tempo term 0): the plain gap, no "half time"
    assert tempo_delta(120.2, 89.9) == pytest.approx(-30.3) and tempo_match_of(120.2, 89.9) is None
    assert tempo_score(120.2, 89.9) == 0.0 and tempo_score(120.2, 64.5) == pytest.approx(0.56)
    assert tempo_match_of(70.0, 141.0) == "double" and tempo_delta(70.0, 141.0) == pytest.approx(1.0)
    assert tempo_match_of(128.0, 130.0) is None
    assert tempo_match_of(None, 130.0) is None and tempo_match_of(float("nan"), 130.0) is None


def test_match_explanation_end_to_end():
    """Query 128 BPM 8A energy 5; candidate 130 BPM 9A energy 6 with cosine 0.82."""
    c = 0.82
    emb = np.stack([unit(1.0), unit(c, math.sqrt(1 - c * c)), unit(0.0, 0.0, 1.0)])
    index = SimilarityIndex([1, 2, 3], emb, [128.0, 130.0, 64.0], ["8A", "9A", "8A"], [5, 6, 5], kind="flat")
    got = index.similar(1, k=2)
    assert [m.id for m in got] == [2, 3]
    m = got[0]
    assert m.explanation == "similar vibe (82%); Δ+2 BPM; key: 8A→9A (compatible); energy +1"
    assert (m.bpm_delta, m.key_from, m.key_to, m.energy_delta) == (pytest.approx(2.0), "8A", "9A", 1)
    assert (m.vibe, m.tempo, m.key, m.energy) == (pytest.approx(c, abs=1e-6), pytest.approx(0.8), 0.8, 0.8)
    assert m.score == pytest.approx(0.5 * c + 0.2 * 0.8 + 0.2 * 0.8 + 0.1 * 0.8, abs=1e-6)
    # Track 3 is orthogonal (vibe 0) at half tempo (64 vs 128 -> Δ0), same key, same energy.
    assert got[1].explanation == "different vibe (0%); same BPM (half time); key: 8A (same); energy same"
    assert got[1].score == pytest.approx(0.5)


# --------------------------------------------------------------------------- exactness


def naive_scores(lib: dict, q_vec: np.ndarray, q_bpm: float, q_key: str, q_energy: int, w: Weights) -> dict:
    """Scalar reference over every track with the public component functions."""
    wv, wt, wk, we = w.normalized()
    out = {}
    for i, track_id in enumerate(lib["ids"].tolist()):
        s = (wv * vibe_score(q_vec, lib["embeddings"][i]) + wt * tempo_score(q_bpm, lib["bpm"][i])
             + wk * key_score(q_key, lib["camelot"][i]) + we * energy_score(q_energy, int(lib["energy"][i])))
        out[track_id] = s
    return out


def test_brute_force_matches_a_naive_scalar_reference():
    rng = np.random.default_rng(3)
    lib = make_library(rng, 300, 24)
    query = Query(rng.standard_normal(24), 126.0, "4B", 7)
    w = Weights(0.4, 0.3, 0.2, 0.1)
    naive = naive_scores(lib, query.vector, query.bpm, query.camelot, query.energy, w)
    want = sorted(naive, key=lambda i: (-naive[i], i))[:25]
    got = brute_force_similar(query, k=25, weights=w, **lib)
    assert [m.id for m in got] == want
    for m in got:
        assert m.score == pytest.approx(naive[m.id], abs=1e-6)
        assert m.score == pytest.approx(w.normalized()[0] * m.vibe + w.normalized()[1] * m.tempo
                                        + w.normalized()[2] * m.key + w.normalized()[3] * m.energy, abs=1e-12)


def random_weights(rng: np.random.Generator) -> Weights:
    w = rng.uniform(0, 1, 4)
    w[rng.uniform(0, 1, 4) < 0.3] = 0.0  # zeros, vibe included
    if w.sum() == 0:
        w[rng.integers(0, 4)] = 1.0
    return Weights(*w.tolist())


def test_similar_equals_brute_force_on_many_random_libraries():
    """Flat index == brute force exactly, over random sizes, dims, weights, k, queries and ties."""
    rng = np.random.default_rng(20240601)
    paths: Counter[str] = Counter()
    for case in range(120):
        n = int(np.exp(rng.uniform(0, np.log(2000)))) if case else 1
        d = int(rng.integers(16, 65))
        lib = make_library(rng, n, d, clustered=bool(rng.integers(0, 2)), duplicates=int(rng.integers(0, 3)) * n // 20,
                           integer_bpm=bool(rng.integers(0, 2)))
        index = SimilarityIndex(**lib, kind="flat")
        weights = random_weights(rng)
        k = int(rng.integers(1, n + 6)) if rng.uniform() < 0.3 else int(rng.integers(1, 30))
        min_score = None if rng.uniform() < 0.7 else float(rng.uniform(0, 0.9))
        kind = rng.integers(0, 3)
        if kind == 0:
            query = int(lib["ids"][rng.integers(0, n)])
            exclude_self = bool(rng.integers(0, 2))
        elif kind == 1:
            row = int(rng.integers(0, n))
            vec = lib["embeddings"][row] + 0.1 * rng.standard_normal(d).astype(np.float32)
            query = Query(vec, float(rng.uniform(60, 180)), CAMELOT_CODES[rng.integers(0, 24)], int(rng.integers(1, 11)))
            exclude_self = True
        else:
            query = rng.standard_normal(d).astype(np.float32)
            exclude_self = True
            if weights.vibe == 0:
                weights = Weights(vibe=1.0)
        opts = {"k": k, "min_score": min_score, "weights": weights, "exclude_self": exclude_self}
        got = index.similar(query, **opts)
        want = brute_force_similar(query, **lib, **opts)
        assert_same(got, want)
        assert index.last_search.exact
        assert got == index.brute_force(query, **opts)
        expected_len = min(k, n - (1 if kind == 0 and exclude_self else 0))
        if min_score is None:
            assert len(got) == expected_len
        paths[index.last_search.path] += 1
    # The bound-based early exits, the rescoring step and the fallbacks all ran.
    assert {"bound", "rescored", "complete", "metadata"} <= set(paths), paths


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 600),
    d=st.integers(16, 64),
    k=st.integers(1, 650),
    weights=st.tuples(*[st.sampled_from([0.0, 1e-3, 0.1, 0.5, 1.0])] * 4).filter(lambda w: sum(w) > 0),
    removed=st.floats(0.0, 0.2),
)
def test_similar_equals_brute_force_property(seed, n, d, k, weights, removed):
    rng = np.random.default_rng(seed)
    lib = make_library(rng, n, d, clustered=bool(seed % 2), duplicates=n // 10, integer_bpm=bool(seed % 3))
    index = SimilarityIndex(**lib, kind="flat", rebuild_fraction=1.0)
    gone = lib["ids"][rng.random(n) < removed]
    if gone.size:
        index.remove(gone.tolist())
    keep = ~np.isin(lib["ids"], gone)
    live = {key: (np.asarray(v) if isinstance(v, list) else v)[keep] for key, v in lib.items()}
    live["camelot"] = list(live["camelot"])
    if not keep.any():
        assert index.similar(np.ones(d), k=k) == []
        return
    query = int(live["ids"][rng.integers(0, keep.sum())])
    opts = {"k": k, "weights": Weights(*weights)}
    assert_same(index.similar(query, **opts), brute_force_similar(query, **live, **opts))


def test_exactness_on_a_library_bigger_than_the_first_fetch():
    """n >> m: the bound must decide; clustered, 4 duplicated tracks and heavy metadata weights."""
    rng = np.random.default_rng(11)
    lib = make_library(rng, 6000, 32, clustered=True, duplicates=200, integer_bpm=True)
    index = SimilarityIndex(**lib, kind="flat")
    seen = set()
    for trial in range(30):
        query = int(lib["ids"][rng.integers(0, 6000)])
        weights = [Weights(), Weights(0.2, 0.4, 0.3, 0.1), Weights(0.9, 0.05, 0.05, 0),
                   Weights(0.05, 1, 1, 1)][trial % 4]
        opts = {"k": int(rng.integers(1, 40)), "weights": weights}
        assert_same(index.similar(query, **opts), brute_force_similar(query, **lib, **opts))
        seen.add(index.last_search.path)
    assert {"bound", "rescored"} <= seen


@pytest.mark.parametrize(("noise", "spread"), [(1e-3, 0.6), (1e-5, 0.6), (1e-2, 8.0)])
def test_exactness_when_vibe_and_metadata_nearly_tie(noise, spread):
    """Adversarial: a cluster of near-identical vectors much bigger than the first fetch, with
    metadata that differs by fractions of a BPM, so tracks FAISS did not return sit right at the
    bound. Only a correct bound (and the rescoring of rows it cannot rule out) stays exact."""
    rng = np.random.default_rng(21)
    n, d, size = 3000, 16, 1500
    centre = rng.standard_normal(d)
    emb = rng.standard_normal((n, d))
    emb[:size] = centre + noise * rng.standard_normal((size, d))
    bpm = rng.uniform(60, 180, n)
    bpm[:size] = 128.0 + rng.uniform(-spread, spread, size)
    keys = [CAMELOT_CODES[i] for i in rng.integers(0, 24, n)]
    keys[:size] = ["8A"] * size
    energy = rng.integers(1, 11, n)
    energy[:size] = 5
    lib = {"ids": np.arange(n) * 3 + 1, "embeddings": emb.astype(np.float32), "bpm": bpm, "camelot": keys,
           "energy": energy}
    index = SimilarityIndex(**lib, kind="flat")
    query = Query(centre, 128.0, "8A", 5)
    for k in (1, 5, 10, 40):
        for weights in (Weights(), Weights(0.9, 0.1, 0, 0), Weights(0.1, 0.9, 0, 0), Weights(0.3, 0.6, 0.1, 0)):
            assert_same(index.similar(query, k=k, weights=weights),
                        brute_force_similar(query, **lib, k=k, weights=weights))
            assert index.last_search.path in ("bound", "rescored")


def test_rows_reaching_is_a_superset_of_the_rows_that_reach():
    """The (key, energy, BPM)-sorted metadata index never drops a row that could reach the threshold."""
    from workbench.similarity._meta import MetaIndex
    from workbench.similarity.scoring import Scorer

    rng = np.random.default_rng(31)
    for trial in range(300):
        n = int(rng.integers(1, 3000))
        bpm = rng.uniform(40, 200, n) if trial % 3 else rng.integers(60, 180, n).astype(float)
        key = rng.integers(0, 24, n).astype(np.int8)
        energy = rng.integers(1, 11, n).astype(np.int8)
        meta = MetaIndex(bpm, key, energy)
        w = random_weights(rng)
        q_bpm = float(rng.choice([rng.uniform(30, 400), float(bpm[rng.integers(0, n)]) / 2, float(bpm[0])]))
        scorer = Scorer(np.ones(1, dtype=np.float32), q_bpm, int(rng.integers(0, 24)), int(rng.integers(1, 11)),
                        w.normalized())
        vibe_bound = float(rng.uniform(0, 1))
        all_bounds = scorer.combine(vibe_bound, scorer.rest(bpm, key, energy))
        threshold = float(np.quantile(all_bounds, rng.uniform(0.5, 1.0)))
        want = np.flatnonzero(all_bounds >= threshold)
        got = meta.rows_reaching(scorer, vibe_bound, threshold)
        assert np.isin(want, got).all(), (trial, np.setdiff1d(want, got)[:5])
        assert np.unique(got).size == got.size
        assert got.size <= want.size + n // 20 + 5  # and not much more than needed


def test_ties_are_broken_by_id_in_both_paths():
    emb = np.tile(unit(1.0, 0.5), (6, 1))
    ids = [50, 7, 9, 3, 11, 2]
    lib = {"ids": ids, "embeddings": emb, "bpm": [128.0] * 6, "camelot": ["8A"] * 6, "energy": [5] * 6}
    index = SimilarityIndex(**lib, kind="flat")
    got = index.similar(9, k=4)
    assert [m.id for m in got] == [2, 3, 7, 11]
    assert len({m.score for m in got}) == 1
    assert_same(got, brute_force_similar(9, **lib, k=4))


def test_min_score_filters():
    rng = np.random.default_rng(5)
    lib = make_library(rng, 500, 16, clustered=True)
    index = SimilarityIndex(**lib, kind="flat")
    query = int(lib["ids"][0])
    everything = index.similar(query, k=500)
    cut = everything[20].score
    got = index.similar(query, k=500, min_score=cut)
    assert got == [m for m in everything if m.score >= cut]
    assert all(m.score >= cut for m in got) and len(got) >= 21
    assert index.similar(query, k=5, min_score=1.0) == []
    assert_same(got, brute_force_similar(query, **lib, k=500, min_score=cut))


def test_query_by_raw_vector_scores_vibe_only():
    rng = np.random.default_rng(6)
    lib = make_library(rng, 200, 16)
    index = SimilarityIndex(**lib)
    vec = rng.standard_normal(16)
    got = index.similar(vec, k=5, weights=Weights(vibe=0.1, tempo=5))  # other weights dropped
    assert len(got) == 5
    for m in got:
        assert m.score == m.vibe
        assert (m.tempo, m.key, m.energy, m.bpm_delta, m.key_from, m.energy_delta) == (None,) * 6
        assert m.key_to in CAMELOT_CODES
        assert m.explanation == f"{vibe_words(math.floor(m.vibe * 100 + 0.5))} ({math.floor(m.vibe * 100 + 0.5)}%)"
    want = sorted(lib["ids"].tolist(), key=lambda i: -vibe_score(vec, lib["embeddings"][list(lib["ids"]).index(i)]))
    assert [m.id for m in got] == want[:5]
    assert got == index.similar(list(vec), k=5)  # a list works too


def test_query_object_for_audio_not_in_the_library():
    rng = np.random.default_rng(8)
    lib = make_library(rng, 300, 16)
    index = SimilarityIndex(**lib)
    row = 17
    q = Query(lib["embeddings"][row] * 3.0, float(lib["bpm"][row]), lib["camelot"][row].lower(), int(lib["energy"][row]))
    assert q.camelot == lib["camelot"][row]
    assert not q.vector.flags.writeable
    got = index.similar(q, k=3)
    assert got[0].id == int(lib["ids"][row])  # itself: nothing excludes it for a Query
    assert got[0].score == pytest.approx(1.0, abs=1e-6)
    assert got[0].explanation.startswith("similar vibe (100%); same BPM; key: ")
    assert_same(got, brute_force_similar(q, **lib, k=3))


def test_exclude_self():
    rng = np.random.default_rng(9)
    lib = make_library(rng, 50, 16)
    index = SimilarityIndex(**lib)
    track = int(lib["ids"][4])
    assert track not in [m.id for m in index.similar(track, k=50)]
    with_self = index.similar(track, k=3, exclude_self=False)
    assert with_self[0].id == track and with_self[0].vibe == pytest.approx(1.0, abs=1e-6)
    assert len(index.similar(track, k=100)) == 49


def test_hnsw_is_close_to_exact_on_a_small_library():
    rng = np.random.default_rng(10)
    lib = make_library(rng, 3000, 32, clustered=True)
    index = SimilarityIndex(**lib, kind="hnsw")
    assert index.backend == "hnsw" and not index.exact
    recall = []
    for query in lib["ids"][:20].tolist():
        got = {m.id for m in index.similar(query, k=10)}
        want = {m.id for m in brute_force_similar(query, **lib, k=10)}
        recall.append(len(got & want) / 10)
    assert np.mean(recall) >= 0.9


@pytest.mark.parametrize(("query_kind", "widen"), [("id", True), ("Query", True), ("id", False), ("Query", False)])
def test_hnsw_that_went_astray_is_caught(monkeypatch, query_kind, widen):
    """Simulate an HNSW search stuck in the wrong region (it returns the *least* similar rows):
    the own-track check (id queries) and the row sample (any query) must catch it, widen the beam
    and, when that fails too, fall back to scoring every row -- so the answer is still exact."""
    rng = np.random.default_rng(17)
    lib = make_library(rng, 6000, 16, clustered=True)
    index = SimilarityIndex(**lib, kind="hnsw")
    calls = []

    def astray(q, m):
        calls.append(m)
        ip = index._vectors() @ q
        rows = np.argsort(ip)[:m]  # the worst rows, best first, as FAISS would order them
        rows = rows[np.argsort(-ip[rows], kind="stable")]
        return ip[rows].astype(np.float32), rows.astype(np.int64)

    monkeypatch.setattr(index, "_faiss_search", astray)
    if widen:  # by default a 6000-row library is too small to widen the beam (n/128 < 256)
        monkeypatch.setattr("workbench.similarity.search_exact._ROWS_PER_WIDE_CANDIDATE", 1)
    row = 123
    query = int(lib["ids"][row]) if query_kind == "id" else Query(lib["embeddings"][row], 125.0, "5B", 4)
    got = index.similar(query, k=10)
    assert index.last_search.path == "brute" and index.last_search.exact
    assert calls == ([256, 1024, 4096] if widen else [256])
    assert_same(got, brute_force_similar(query, **lib, k=10))


# --------------------------------------------------------------------------- add / remove / save / load


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_add_remove_save_load_round_trip(tmp_path, kind):
    rng = np.random.default_rng(12)
    lib = make_library(rng, 400, 16, clustered=True)
    first = {key: (value[:300] if not isinstance(value, list) else value[:300]) for key, value in lib.items()}
    index = SimilarityIndex(**first, kind=kind, rebuild_fraction=0.5)
    assert len(index) == 300
    rest = {key: value[300:] for key, value in lib.items()}
    index.add(**rest)
    assert len(index) == 400
    new_id = int(lib["ids"][350])
    assert new_id in index
    assert new_id in [m.id for m in index.similar(new_id, k=1, exclude_self=False)]
    assert index.similar(new_id, k=1, exclude_self=False)[0].vibe == pytest.approx(1.0, abs=1e-6)

    removed = lib["ids"][::7].tolist()
    index.remove(removed)
    assert len(index) == 400 - len(removed)
    assert all(r not in index for r in removed)
    live = {key: (np.asarray(value) if isinstance(value, list) else value) for key, value in lib.items()}
    keep = ~np.isin(lib["ids"], removed)
    live = {key: value[keep] for key, value in live.items()}
    live["camelot"] = list(live["camelot"])
    queries = live["ids"][:15].tolist()
    before = {q: index.similar(q, k=20) for q in queries}
    for q in queries:
        assert not set(removed) & {m.id for m in before[q]}
        if kind == "flat":
            assert_same(before[q], brute_force_similar(q, **live, k=20))
    with pytest.raises(TrackNotFoundError, match=f"track id {removed[0]} is not in the similarity index"):
        index.similar(removed[0])

    index.save(tmp_path / "idx")
    loaded = SimilarityIndex.load(tmp_path / "idx")
    assert len(loaded) == len(index) and loaded.backend == index.backend and loaded.dim == 16
    assert sorted(loaded.ids.tolist()) == sorted(index.ids.tolist())
    for q in queries:
        assert loaded.similar(q, k=20) == before[q]
    # A removed id can come back; saving again replaces the files.
    loaded.add([removed[0]], lib["embeddings"][:1], [120.0], ["1A"], [3])
    assert removed[0] in loaded
    loaded.save(tmp_path / "idx")
    files = sorted(p.name for p in (tmp_path / "idx").iterdir() if p.name != ".similarity-index.lock")
    assert len(files) == 3 and "similarity-index.json" in files
    again = SimilarityIndex.load(tmp_path / "idx")
    assert removed[0] in again and len(again) == len(index) + 1


def test_remove_triggers_rebuild_and_results_stay_exact():
    rng = np.random.default_rng(13)
    lib = make_library(rng, 400, 16)
    index = SimilarityIndex(**lib, kind="flat", rebuild_fraction=0.1)
    index.remove(lib["ids"][:30].tolist())
    assert "tombstones=30" in repr(index)
    index.remove(lib["ids"][30:50].tolist())  # 50 > 0.1 * 400: rebuilt
    assert "tombstones=0" in repr(index)
    live = {key: (np.asarray(v) if isinstance(v, list) else v)[50:] for key, v in lib.items()}
    live["camelot"] = list(live["camelot"])
    for q in live["ids"][:10].tolist():
        assert_same(index.similar(q, k=15), brute_force_similar(q, **live, k=15))
    index.compact()
    assert len(index) == 350


def test_auto_switches_to_hnsw_by_size():
    rng = np.random.default_rng(14)
    lib = make_library(rng, 120, 16)
    small = {key: value[:50] for key, value in lib.items()}
    index = SimilarityIndex(**small, kind="auto", hnsw_threshold=100)
    assert index.backend == "flat"
    index.add(**{key: value[50:] for key, value in lib.items()})
    assert index.backend == "hnsw" and len(index) == 120
    index.remove(lib["ids"][:60].tolist())  # 60 > 0.25 * 120 -> rebuild, back under the threshold
    assert index.backend == "flat" and len(index) == 60
    assert SimilarityIndex(**lib, hnsw_threshold=100).backend == "hnsw"
    assert SimilarityIndex(**lib, kind="flat", hnsw_threshold=100).backend == "flat"


def test_empty_index():
    index = SimilarityIndex([], np.zeros((0, 8), dtype=np.float32), [], [], [])
    assert len(index) == 0 and index.dim == 8
    assert index.similar(np.ones(8), k=3) == []
    index.add([1], np.ones((1, 8)), [120.0], ["8A"], [5])
    assert index.similar(1) == []
    assert [m.id for m in index.similar(1, exclude_self=False)] == [1]
    index.remove(1)
    assert len(index) == 0 and index.similar(np.ones(8)) == []


def test_saved_keys_use_the_pinned_compact_encoding(tmp_path):
    """The saved key column holds camelot.index_of's integers (1A..12A -> 0..11, 1B..12B -> 12..23),
    not positions in CAMELOT_CODES, so indexes saved by earlier versions load with the right keys."""
    codes = ["1A", "12A", "1B", "12B", "8A", "8B"]
    n = len(codes)
    rng = np.random.default_rng(4)
    index = SimilarityIndex(list(range(n)), rng.standard_normal((n, 8)).astype(np.float32), [120.0] * n, codes,
                            [5] * n, kind="flat")
    manifest = json.loads(index.save(tmp_path / "a").read_text())
    with np.load(tmp_path / "a" / manifest["meta_file"]) as data:
        assert data["key"].tolist() == [0, 11, 12, 23, 7, 19]
    loaded = SimilarityIndex.load(tmp_path / "a")
    for i, code in enumerate(codes):
        assert loaded.similar(i, k=1, exclude_self=False)[0].key_to == code


def test_load_errors(tmp_path):
    with pytest.raises(IndexNotFoundError, match="no saved similarity index"):
        SimilarityIndex.load(tmp_path / "nothing")
    index = SimilarityIndex([1, 2], np.eye(2, 4), [120.0, 121.0], ["1A", "2A"], [1, 2])
    manifest = index.save(tmp_path / "a")
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(IndexFileError, match="format version must be 1; got 99"):
        SimilarityIndex.load(tmp_path / "a")
    manifest.write_text(json.dumps({**data, "rows": 3}))
    with pytest.raises(IndexFileError, match="with d=4 and 3 rows; got IndexFlatIP with d=4 and 2 rows"):
        SimilarityIndex.load(tmp_path / "a")
    manifest.write_text("{not json")
    with pytest.raises(IndexFileError, match="cannot read"):
        SimilarityIndex.load(tmp_path / "a")
    manifest.write_text(json.dumps(data))
    (tmp_path / "a" / data["meta_file"]).unlink()
    with pytest.raises(IndexFileError, match="cannot read the similarity index"):
        SimilarityIndex.load(tmp_path / "a")
    assert isinstance(IndexNotFoundError("x"), FileNotFoundError)


_SAVER = """
import sys
import numpy as np
from workbench.similarity import SimilarityIndex

seed, folder, rounds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(seed)
n = 50 + 10 * seed
index = SimilarityIndex(np.arange(n), rng.normal(size=(n, 32)), np.full(n, 120.0), ["8A"] * n, np.full(n, 5))
print("READY", flush=True)
sys.stdin.readline()  # start together
for _ in range(rounds):
    index.save(folder)
"""


def test_two_processes_saving_at_once_leave_a_loadable_index(tmp_path):
    """Two writers save one folder 30 times each, at once, while this process loads it: every load
    succeeds and the last save is one writer's whole index (the lock serialises saves)."""
    import os
    from pathlib import Path

    folder = tmp_path / "idx"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", _SAVER, str(seed), str(folder), "30"], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for seed in (0, 1)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "READY"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        loads = 0
        while any(p.poll() is None for p in procs):
            if (folder / "similarity-index.json").exists():
                loaded = SimilarityIndex.load(folder)  # never half a save, never a file deleted under it
                assert len(loaded) in (50, 60)
                loads += 1
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    final = SimilarityIndex.load(folder)
    assert len(final) in (50, 60) and loads > 0
    # one index and one meta file left, the ones the manifest names; no temporary files
    names = sorted(p.name for p in folder.iterdir() if p.name != ".similarity-index.lock")
    manifest = json.loads((folder / "similarity-index.json").read_text())
    assert names == sorted([manifest["index_file"], manifest["meta_file"], "similarity-index.json"])


# --------------------------------------------------------------------------- parameter errors


GOOD = {"ids": [1, 2, 3], "embeddings": np.eye(3, 4, dtype=np.float32), "bpm": [120.0, 124.0, 128.0],
        "camelot": ["8A", "9A", "10B"], "energy": [3, 5, 7]}


@pytest.mark.parametrize(("change", "match"), [
    ({"embeddings": np.ones(4, dtype=np.float32)}, r"embeddings must be 2-D, shape \(n, d\); got shape \(4,\)"),
    ({"embeddings": np.ones((3, 0))}, r"embeddings must have d >= 1 columns"),
    ({"embeddings": np.array([[1, 0, 0, np.nan], [0, 1, 0, 0], [0, 0, 1, 0]])},
     r"embeddings must be finite; row 0 \(id 1\) contains NaN or inf"),
    ({"embeddings": np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]])},
     r"embeddings row 1 \(id 2\) is a zero vector"),
    ({"embeddings": np.array([["a"] * 4] * 3)}, r"embeddings must be real numbers"),
    ({"ids": [1, 2, 2]}, r"ids must be unique; id 2 appears 2 times"),
    ({"ids": [1.0, 2.0, 3.0]}, r"ids must be integers; got dtype float64"),
    ({"ids": [[1, 2, 3]]}, r"ids must be a 1-D sequence of integers"),
    ({"ids": [1, 2]}, r"lengths must match \(one row per track\); got ids=2, embeddings=3, bpm=3, camelot=3, energy=3"),
    ({"bpm": [120.0, 124.0]}, r"lengths must match"),
    ({"camelot": ["8A", "9A"]}, r"lengths must match"),
    ({"energy": [3, 5, 7, 9]}, r"lengths must match"),
    ({"energy": [3, 11, 7]}, r"energy must be integers in 1..10; got 11 for id 2"),
    ({"energy": [0, 5, 7]}, r"energy must be integers in 1..10; got 0 for id 1"),
    ({"energy": [3.0, 5.0, 7.0]}, r"energy must be integers in 1..10; got dtype float64"),
    ({"bpm": [120.0, 0.0, 128.0]}, r"bpm must be finite and > 0; got 0.0 for id 2"),
    ({"bpm": [120.0, -5.0, 128.0]}, r"bpm must be finite and > 0; got -5.0 for id 2"),
    ({"bpm": [120.0, 124.0, float("nan")]}, r"bpm must be finite and > 0; got nan for id 3"),
    ({"bpm": 120.0}, r"bpm must be 1-D, one value per track"),
    ({"camelot": ["8A", "13A", "10B"]}, r"camelot must be Camelot codes 1A..12A or 1B..12B; got '13A' for id 2"),
    ({"camelot": ["8A", "8C", "10B"]}, r"got '8C' for id 2"),
    ({"camelot": ["8A", None, "10B"]}, r"got None for id 2"),
    ({"camelot": "8A"}, r"camelot must be a sequence of Camelot codes, one per track"),
])
def test_build_errors(change, match):
    with pytest.raises(ParameterError, match=match):
        SimilarityIndex(**{**GOOD, **change})
    with pytest.raises(ParameterError, match=match):
        brute_force_similar(1, **{**GOOD, **change})


@pytest.mark.parametrize(("option", "match"), [
    ({"kind": "ivf"}, r"kind must be one of \('auto', 'flat', 'hnsw'\); got 'ivf'"),
    ({"hnsw_threshold": 0}, r"hnsw_threshold must be an integer >= 1; got 0"),
    ({"hnsw_m": 1}, r"hnsw_m must be an integer >= 2; got 1"),
    ({"ef_search": 2.5}, r"ef_search must be an integer >= 1; got 2.5"),
    ({"ef_construction": True}, r"ef_construction must be an integer >= 1; got True"),
    ({"rebuild_fraction": 0}, r"rebuild_fraction must be a number in \(0, 1\]; got 0"),
])
def test_option_errors(option, match):
    with pytest.raises(ParameterError, match=match):
        SimilarityIndex(**GOOD, **option)


def test_add_and_remove_errors():
    index = SimilarityIndex(**GOOD)
    with pytest.raises(ParameterError, match=r"embeddings must have 4 columns \(the index's dimension\); got shape \(1, 5\)"):
        index.add([9], np.ones((1, 5)), [120.0], ["8A"], [5])
    with pytest.raises(ParameterError, match="ids must not already be in the index; id 2 is"):
        index.add([2], np.ones((1, 4)), [120.0], ["8A"], [5])
    with pytest.raises(TrackNotFoundError, match="track id 99 is not in the similarity index") as err:
        index.remove([1, 99])
    assert isinstance(err.value, LookupError)
    assert len(index) == 3  # all or nothing
    with pytest.raises(ParameterError, match="ids must be integers"):
        index.remove(["a"])


@pytest.mark.parametrize(("query", "opts", "error", "match"), [
    (1, {"k": 0}, ParameterError, r"k must be an integer >= 1; got 0"),
    (1, {"k": 2.0}, ParameterError, r"k must be an integer >= 1; got 2.0"),
    (1, {"k": True}, ParameterError, r"k must be an integer >= 1; got True"),
    (1, {"min_score": 1.5}, ParameterError, r"min_score must be None or a number in \[0, 1\]; got 1.5"),
    (1, {"min_score": float("nan")}, ParameterError, r"min_score must be None or a number in \[0, 1\]; got nan"),
    (1, {"weights": {"key": -1}}, ParameterError, r"weights\['key'\] must be >= 0; got -1"),
    (1, {"weights": {"vibe": 0, "tempo": 0, "key": 0, "energy": 0}}, ParameterError, r"weights must have a sum > 0"),
    (1, {"exclude_self": "yes"}, ParameterError, r"exclude_self must be True or False; got 'yes'"),
    (42, {}, TrackNotFoundError, r"track id 42 is not in the similarity index"),
    (np.ones(5), {}, ParameterError, r"query vector must have 4 values \(the index's dimension\); got 5"),
    (np.zeros(4), {}, ParameterError, r"query vector row 0 is a zero vector"),
    (np.array([1.0, np.nan, 0, 0]), {}, ParameterError, r"query vector must be finite"),
    (np.ones((2, 4)), {}, ParameterError, r"query must be a non-empty 1-D vector; got shape \(2, 4\)"),
    (np.ones(4), {"weights": Weights(vibe=0, tempo=1)}, ParameterError,
     r"weights\['vibe'\] must be > 0 for a query by raw vector"),
    ("8A", {}, ParameterError, r"query must be a track id \(int\), a Query or a 1-D embedding vector; got str"),
    (1.5, {}, ParameterError, r"query must be a track id"),
])
def test_similar_errors(query, opts, error, match):
    index = SimilarityIndex(**GOOD)
    with pytest.raises(error, match=match):
        index.similar(query, **opts)
    with pytest.raises(error, match=match):
        brute_force_similar(query, **GOOD, **opts)


def test_query_errors():
    vec = np.ones(4)
    with pytest.raises(ParameterError, match=r"Query.bpm must be a finite number > 0; got 0"):
        Query(vec, 0, "8A", 5)
    with pytest.raises(ParameterError, match=r"Query.bpm must be a finite number > 0; got nan"):
        Query(vec, float("nan"), "8A", 5)
    with pytest.raises(ParameterError, match=r"Query.camelot must be a Camelot code 1A..12A or 1B..12B; got '0A'"):
        Query(vec, 120, "0A", 5)
    with pytest.raises(ParameterError, match=r"Query.energy must be an integer in 1..10; got 11"):
        Query(vec, 120, "8A", 11)
    with pytest.raises(ParameterError, match=r"Query.energy must be an integer in 1..10; got 5.0"):
        Query(vec, 120, "8A", 5.0)
    with pytest.raises(ParameterError, match=r"Query.vector row 0 is a zero vector"):
        Query(np.zeros(4), 120, "8A", 5)
    with pytest.raises(ParameterError, match=r"Query.vector must be a non-empty 1-D vector"):
        Query(np.ones((2, 2)), 120, "8A", 5)


def test_component_score_errors():
    with pytest.raises(ParameterError, match=r"bpm_b must be finite and > 0; got 0.0"):
        tempo_score(120, 0)
    with pytest.raises(ParameterError, match=r"bpm_a must be real numbers; got dtype"):
        tempo_score("fast", 120)
    with pytest.raises(ParameterError, match=r"camelot_b must be a Camelot code 1A..12A or 1B..12B; got '13B'"):
        key_score("8A", "13B")
    with pytest.raises(ParameterError, match=r"energy_a must be integers in 1..10; got 0"):
        energy_score(0, 5)
    with pytest.raises(ParameterError, match=r"energy_b must be integers in 1..10; got dtype float64"):
        energy_score(5, 5.5)
    with pytest.raises(ParameterError, match=r"embeddings must have shape \(2,\) or \(n, 2\)"):
        vibe_score([1.0, 0.0], [1.0, 0.0, 0.0])
    with pytest.raises(ParameterError, match=r"embeddings row 0 is a zero vector"):
        vibe_score([1.0, 0.0], [0.0, 0.0])


def test_match_validates():
    with pytest.raises(ParameterError, match=r"Match.score must be a float in \[0, 1\]; got 1.5"):
        Match(1, 1.5, 0.5, None, None, None, None, None, "8A", None, "x")


def test_import_does_not_load_faiss():
    code = "import sys, workbench.similarity; print('faiss' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_hnsw_search_survives_faiss_torch_utils():
    """pytorch-metric-learning imports faiss.contrib.torch_utils, which replaces Index.search."""
    pytest.importorskip("faiss.contrib.torch_utils")
    import faiss.contrib.torch_utils  # noqa: F401

    rng = np.random.default_rng(3)
    n = 200
    idx = SimilarityIndex(list(range(n)), rng.standard_normal((n, 16)).astype(np.float32),
                          [120.0] * n, ["8A"] * n, [5] * n, kind="hnsw")
    assert len(idx.similar(0, k=5)) == 5
