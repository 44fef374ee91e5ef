"""The grammar's tied pair: chorus and drop evidence pulled together, the section before names it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import ParameterError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_sections_transfer import FORM, _track  # noqa: E402

CLASSES = ("intro", "build", "drop", "break", "outro", "chorus")


def _grammar(tie_weight: float):
    from workbench.train.sections.grammar import learn_grammar

    seqs = [(list(FORM), [8.0] * len(FORM), [(j / 7, (j + 1) / 7) for j in range(7)])] * 4
    seqs += [(["intro", "chorus", "break", "chorus", "outro"], [8.0] * 5, [(j / 5, (j + 1) / 5) for j in range(5)])]
    return learn_grammar(seqs, CLASSES, weight=2.0, tie_weight=tie_weight)


def test_tie_evidence_pulls_the_pair_to_its_mean_and_keeps_rows():
    g = _grammar(0.5)
    p = np.array([[0.1, 0.1, 0.6, 0.0, 0.0, 0.2], [0.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
    out = g.tie_evidence(p)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert out[0, 2] == pytest.approx(0.5) and out[0, 5] == pytest.approx(0.3) and out[0, 0] == 0.1
    np.testing.assert_array_equal(out[1], p[1])
    np.testing.assert_allclose(_grammar(1.0).tie_evidence(p)[0, [2, 5]], [0.4, 0.4])
    np.testing.assert_array_equal(_grammar(0.0).tie_evidence(p), p)
    from workbench.train.sections.grammar import Grammar, learn_grammar

    no_chorus = learn_grammar([(list(FORM), [8.0] * 7)], CLASSES[:5], tie_weight=1.0)
    np.testing.assert_array_equal(no_chorus.tie_evidence(p[:, :5]), p[:, :5])  # the pair needs both labels
    assert Grammar.from_dict(g.to_dict()).tie_weight == 0.5
    old = {k: v for k, v in g.to_dict().items() if k != "tie_weight"}  # a model file from before the tie
    assert Grammar.from_dict(old).tie_weight == 0.0
    with pytest.raises(ParameterError, match=r"tie_weight must be a float in \[0, 1\]; got 1.5"):
        learn_grammar([(list(FORM), [8.0] * 7)], CLASSES, tie_weight=1.5)
    with pytest.raises(ParameterError, match="duration_alpha must be None or > 0; got 0"):
        learn_grammar([(list(FORM), [8.0] * 7)], CLASSES, duration_alpha=0)


def test_a_small_alpha_sharpens_the_order_prior_and_duration_alpha_keeps_the_durations():
    from workbench.train.sections.grammar import learn_grammar

    seqs = [(list(FORM), [8.0] * 7, [(j / 7, (j + 1) / 7) for j in range(7)])] * 3
    wide, sharp = learn_grammar(seqs, CLASSES), learn_grammar(seqs, CLASSES, alpha=0.1, duration_alpha=1.0)
    b, d, c = CLASSES.index("build"), CLASSES.index("drop"), CLASSES.index("chorus")
    # build -> chorus never labelled: with a small count it costs far more than build -> drop
    assert (sharp.log_transitions[b, d] - sharp.log_transitions[b, c]) > (wide.log_transitions[b, d]
                                                                          - wide.log_transitions[b, c]) + 2
    np.testing.assert_allclose(sharp.log_phrase, wide.log_phrase)  # the duration prior unchanged
    assert not np.allclose(learn_grammar(seqs, CLASSES, alpha=0.1).log_phrase, wide.log_phrase)


def test_the_section_before_names_a_drop_once_tied():
    from workbench.train.sections import segments_for

    rng = np.random.default_rng(3)
    centres = {c: np.zeros(12) for c in ("intro", "build", "drop", "break", "outro", "verse", "chorus")}
    tr = _track(1, "a", rng, centres)
    lab = tr.window_labels()
    probs = np.full((len(tr.times_s), len(CLASSES)), 0.02)
    for i, c in enumerate(lab):
        probs[i, CLASSES.index(c)] = 0.9
    drops = lab == "drop"
    probs[drops, CLASSES.index("drop")], probs[drops, CLASSES.index("chorus")] = 0.1, 0.8  # sounds like a chorus
    probs /= probs.sum(axis=1, keepdims=True)

    def labels(tie: float) -> list[str]:
        return [s.label for s in segments_for(tr, probs, CLASSES, grammar=_grammar(tie))]

    assert "chorus" in labels(0.0) and "drop" not in labels(0.0)  # the sound wins: a build into a "chorus"
    assert labels(1.0) == list(FORM)  # tied: after a build comes a drop


def test_order_weight_scales_the_order_prior_alone():
    from workbench.train.sections.grammar import Grammar, learn_grammar

    seqs = [(list(FORM), [8.0] * 7, [(j / 7, (j + 1) / 7) for j in range(7)])] * 3
    full, half = learn_grammar(seqs, CLASSES, weight=2.0), learn_grammar(seqs, CLASSES, weight=2.0, order_weight=0.5)
    a, b = full.viterbi_options(), half.viterbi_options()
    np.testing.assert_allclose(b["log_transitions"], 0.5 * a["log_transitions"])
    assert not np.allclose(a["log_transitions"], 0.0)
    for key in ("log_init", "log_final", "log_middle"):  # the position and first/last priors keep their weight
        np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_array_equal(a["length_logprior"](np.arange(1, 40)), b["length_logprior"](np.arange(1, 40)))
    none = learn_grammar(seqs, CLASSES, order_weight=0.0).viterbi_options()["log_transitions"]
    np.testing.assert_array_equal(none[np.isfinite(a["log_transitions"])], 0.0)
    assert not np.isnan(none).any()
    assert Grammar.from_dict(half.to_dict()).order_weight == 0.5
    old = {k: v for k, v in half.to_dict().items() if k != "order_weight"}  # a model file from before the knob
    assert Grammar.from_dict(old).order_weight == 1.0
    with pytest.raises(ParameterError, match="order_weight must be a float >= 0; got -1"):
        learn_grammar(seqs, CLASSES, order_weight=-1)


def test_position_free_labels_leave_the_position_factor_and_nothing_else():
    from workbench.train.sections.grammar import Grammar, learn_grammar

    seqs = [(list(FORM), [8.0] * 7, [(j / 7, (j + 1) / 7) for j in range(7)])] * 3
    full, free = learn_grammar(seqs, CLASSES, weight=2.0), learn_grammar(seqs, CLASSES, weight=2.0,
                                                                          position_free=["build"])
    b = CLASSES.index("build")
    assert np.ptp(full.log_position[b]) > 0.5  # learned: builds sit in the middle of FORM
    np.testing.assert_array_equal(free.log_position[b], 0.0)
    others = [i for i in range(len(CLASSES)) if i != b]
    np.testing.assert_array_equal(free.log_position[others], full.log_position[others])
    for key in ("log_transitions", "log_init", "log_final", "log_middle"):
        np.testing.assert_array_equal(full.viterbi_options()[key], free.viterbi_options()[key])
    p, pos = np.full((3, len(CLASSES)), 1 / len(CLASSES)), np.array([0.05, 0.5, 0.95])
    assert np.ptp(free.position_adjust(p, pos)[:, b] / free.position_adjust(p, pos).max(axis=1)) < np.ptp(
        full.position_adjust(p, pos)[:, b] / full.position_adjust(p, pos).max(axis=1))
    np.testing.assert_array_equal(Grammar.from_dict(free.to_dict()).log_position, free.log_position)
    np.testing.assert_array_equal(learn_grammar(seqs, CLASSES, position_free="build").log_position[b], 0.0)
    for bad in (["bridge"], 3):
        with pytest.raises(ParameterError, match="position_free must list section labels among"):
            learn_grammar(seqs, CLASSES, position_free=bad)
    from workbench.train.sections.config_check import check_sections_config

    check_sections_config({"position_free": ["build", "drop"]})
    check_sections_config({"position_free": "build"})  # `--set position_free=build` gives the string
    with pytest.raises(ParameterError, match="position_free must list section labels among .*got 'bridge'"):
        check_sections_config({"position_free": "bridge"})  # refused before any training


def test_ends_weight_scales_the_first_and_last_priors_alone():
    from workbench.train.sections.grammar import Grammar, learn_grammar

    seqs = [(list(FORM), [8.0] * 7, [(j / 7, (j + 1) / 7) for j in range(7)])] * 3
    full, twice = learn_grammar(seqs, CLASSES, weight=2.0), learn_grammar(seqs, CLASSES, weight=2.0, ends_weight=2.0)
    a, b = full.viterbi_options(), twice.viterbi_options()
    for key in ("log_init", "log_final"):
        np.testing.assert_allclose(b[key], 2.0 * a[key])
        assert not np.allclose(a[key], 0.0)
    for key in ("log_transitions", "log_middle"):  # the order and middle priors keep their weight
        np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_array_equal(a["length_logprior"](np.arange(1, 40)), b["length_logprior"](np.arange(1, 40)))
    assert Grammar.from_dict(twice.to_dict()).ends_weight == 2.0
    old = {k: v for k, v in twice.to_dict().items() if k != "ends_weight"}  # a model file from before the knob
    assert Grammar.from_dict(old).ends_weight == 1.0
    with pytest.raises(ParameterError, match="ends_weight must be a float >= 0; got -1"):
        learn_grammar(seqs, CLASSES, ends_weight=-1)

