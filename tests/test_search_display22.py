"""What `similar` shows of a score (session 22, issue 17): the printed weights add up to 1, and the score is not
clipped into a tie or over a negative term."""

from __future__ import annotations

import types
from decimal import Decimal

import numpy as np
import pytest

from workbench.similarity.query import Match


def _record(weights_used: dict[str, float]) -> dict:
    from workbench.commands.library import similar_record

    match = Match(id=2, score=0.5, vibe=0.5, tempo=0.5, key=0.5, energy=None, bpm_delta=0.0, key_from="8A",
                  key_to="8A", energy_delta=None, explanation="x")
    result = types.SimpleNamespace(track=types.SimpleNamespace(id=2, name="b", path="/b.flac"), match=match,
                                   model="backbone", weights="w", weights_used=weights_used)
    return similar_record(result)


@pytest.mark.parametrize("used", [
    {"vibe": 1 / 3, "tempo": 1 / 3, "key": 1 / 3, "energy": 0.0},  # `--weights vibe=1,tempo=1,key=1,energy=0`
    {"vibe": 0.5 / 0.7, "tempo": 0.2 / 0.7, "key": 0.0, "energy": 0.0},  # 0.7143 + 0.2857: 1.0000 already
    {"vibe": 0.5 / 0.6, "tempo": 0.0, "key": 0.0, "energy": 0.1 / 0.6},  # tempo and key left out: 0.8333 + 0.1667
    {"vibe": 0.45 / 0.9, "tempo": 0.15 / 0.9, "key": 0.15 / 0.9, "energy": 0.15 / 0.9},  # 0.5 + 3 x 0.1667 = 1.0001
])
def test_similar_json_weights_used_add_up_to_one_as_printed(used):
    """Session 21 left this found: `weights_used` rounded each weight to 4 decimals alone, so thirds printed 0.3333 three
    times (0.9999) and sixths 0.5 + 3 x 0.1667 (1.0001): a reader rebuilding the score from them was off by 1e-4."""
    doc = _record(used)
    printed = doc["weights_used"]
    assert list(printed) == list(used)  # the same terms in the same order
    assert sum(Decimal(repr(v)) for v in printed.values()) == Decimal(1), printed
    for term, v in printed.items():  # each within one unit of the 4th decimal of the exact share
        assert abs(v - used[term]) < 1e-4 and round(v, 4) == v


def test_weights_in_words_add_up_to_100_percent():
    from workbench.similarity.learned_weights import weights_said
    from workbench.similarity.scores import Weights

    assert weights_said(Weights()) == "vibe 50%, tempo 20%, key 20%, energy 10%"
    said = weights_said(Weights(1.0, 1.0, 1.0, 0.0))
    assert said == "vibe 34%, tempo 33%, key 33%, energy 0%", said


def test_the_score_clip_hides_no_negative_term_and_makes_no_tie():
    """Session 21 asked whether `Match.score = clip(score, 0, 1)` (similarity.scoring.build_matches) could make two
    different matches tie or hide a negative term. It cannot: every term is in [0, 1] (a negative cosine is a vibe of
    0, documented) and the weights sum to 1, so the clip moves a score by float rounding at most; the ranking and
    min_score use the unclipped score. If either premise broke (a raw cosine let through, weights not normalised),
    a score would leave [0, 1] and this test fails."""
    from workbench.similarity import SimilarityIndex, brute_force_similar

    rng = np.random.default_rng(22)
    n, d = 400, 16
    emb = rng.normal(size=(n, d)).astype(np.float32)
    emb[200:] = -emb[:200]  # half the library opposite to the other half: cosines down to -1
    bpm = rng.uniform(80, 180, n)
    camelot = rng.choice([f"{i}{ab}" for i in range(1, 13) for ab in "AB"], n)
    energy = rng.integers(1, 11, n)
    index = SimilarityIndex(np.arange(n), emb, bpm, camelot, energy)
    for weights in (None, {"vibe": 1, "tempo": 0, "key": 0, "energy": 0}, {"vibe": 3, "tempo": 1, "key": 2,
                                                                                "energy": 0.5}):
        for q in (0, 7, 250):
            got = brute_force_similar(q, ids=np.arange(n), embeddings=emb, bpm=bpm, camelot=camelot, energy=energy,
                                      k=n - 1, weights=weights)
            assert [m.id for m in got] == [m.id for m in index.similar(q, k=n - 1, weights=weights)]
            scorer_side = {m.id: m for m in got}
            for m in got:  # the shown score is the sum of weight times term, unclipped, to float rounding
                w = np.asarray([3, 1, 2, 0.5] if weights and weights["vibe"] == 3 else
                               [1, 0, 0, 0] if weights else [0.5, 0.2, 0.2, 0.1], dtype=np.float64)
                w = w / w.sum()
                terms = np.array([m.vibe, m.tempo, m.key, m.energy])
                assert 0.0 <= m.vibe <= 1.0 and float(w @ terms) == pytest.approx(m.score, abs=1e-12)
            negative = [i for i in range(n) if i != q and float(emb[i] @ emb[q]) < 0]
            assert negative and all(scorer_side[i].vibe == 0.0 for i in negative)  # documented: vibe 0, not below
