"""A boundary neither the model nor the music supports costs the decoder (config weak_boundary_penalty, session 22)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ParameterError

CLASSES = ("intro", "drop", "outro")


def _grammar(penalty: float):
    from workbench.train.sections.grammar import learn_grammar

    seqs = [(["intro", "drop", "outro"], [8.0, 40.0, 16.0])] * 4  # 16-bar outros: the prior puts one at bar 48
    return learn_grammar(seqs, CLASSES, weight=2.0, alpha=0.01, weak_boundary_penalty=penalty)


def _track(*, change_at_s: float | None, probs_change_at_s: float | None):
    """64 bars of 2 s: an intro (bars 0-7), then drop or outro a coin flip unless the probabilities change."""
    from workbench.train.sections import TrackFrames

    beats = np.arange(0, 128, 0.5)
    times = np.arange(0.5, 128, 1.0)
    rng = np.random.default_rng(0)
    frames = (1.0 + 0.01 * rng.standard_normal((times.size, 8))).astype(np.float32)
    frames[times < 16] += 2.0
    if change_at_s is not None:
        frames[times >= change_at_s, :4] += 2.0  # the music changes there
    probs = np.tile([0.9, 0.05, 0.05], (times.size, 1))
    probs[times >= 16] = [0.02, 0.49, 0.49]
    if probs_change_at_s is not None:
        probs[times >= probs_change_at_s] = [0.02, 0.1, 0.88]
    return TrackFrames(1, "t", 128.0, frames, times, beats, beats[::4], [], frames=frames), probs


def test_weak_boundaries_need_both_a_flat_posterior_and_no_novelty():
    from workbench.train.sections.novelty import weak_boundaries

    p = np.tile([0.5, 0.5], (12, 1))
    p[6:] = [0.1, 0.9]  # the model changes its mind at bar 6 (total variation 0.4)
    nov = np.zeros(12)
    nov[3] = 2.0  # the music changes at bar 3
    weak = weak_boundaries(p, nov)
    assert weak.shape == (12,) and weak.dtype == bool
    assert not weak[0]  # the track's start is no boundary
    assert not weak[2:5].any()  # novelty at bar 3 supports bars 2-4
    assert not weak[6]  # where the posterior moves by 0.4
    assert weak[5] and weak[7]  # a bar off, 2 bars each side see half of it (0.2 < 0.3)
    assert weak[1] and weak[9] and weak[11]
    assert not weak_boundaries(p, nov, change_below=0.15)[5]
    one = weak_boundaries(p, nov, bars=1)  # one bar each side: bar 5 sees no change, bar 6 all of it
    assert one[5] and not one[6]
    with pytest.raises(ParameterError, match=r"bar_probs must be \(n_bars, K\) and bar_novelty \(n_bars,\); got "
                                             r"\(12, 2\) and \(11,\)"):
        weak_boundaries(p, nov[:11])
    with pytest.raises(ParameterError, match="bars must be an int >= 1; got 0"):
        weak_boundaries(p, nov, bars=0)


def test_an_unsupported_boundary_moves_to_where_the_music_changes():
    """Without novelty in the decoder the duration prior puts the outro at 96 s, where nothing changes; with the
    penalty it starts at 80 s, where the music does (a test that fails without the option)."""
    from workbench.train.sections.suggestions import segments_for

    track, probs = _track(change_at_s=80.0, probs_change_at_s=None)
    starts = {p: [s.start_s for s in segments_for(track, probs, CLASSES, grammar=_grammar(p))] for p in (0.0, 4.0)}
    assert starts[0.0] == [0.0, 16.0, 96.0]
    assert starts[4.0] == [0.0, 16.0, 80.0]


def test_a_boundary_where_the_model_changes_its_mind_is_kept_and_the_prior_no_longer_overrules_it():
    from workbench.train.sections.suggestions import segments_for

    def starts(at_s: float, penalty: float) -> list[float]:
        track, probs = _track(change_at_s=None, probs_change_at_s=at_s)
        return [s.start_s for s in segments_for(track, probs, CLASSES, grammar=_grammar(penalty), novelty_weight=8.0)]

    assert starts(88.0, 0.0) == starts(88.0, 8.0) == [0.0, 16.0, 88.0]
    assert starts(104.0, 0.0) == [0.0, 16.0, 96.0]  # the duration prior pulls the outro 4 bars early, nothing changes there
    assert starts(104.0, 8.0) == [0.0, 16.0, 104.0]  # the penalty leaves it where the model says


def test_the_penalty_is_off_by_default_kept_in_the_model_file_and_refused_out_of_range():
    from workbench.train.sections import CONFIG_DEFAULTS
    from workbench.train.sections.config_check import check_sections_config
    from workbench.train.sections.grammar import Grammar, learn_grammar

    assert CONFIG_DEFAULTS["weak_boundary_penalty"] == 0.0 and _grammar(0.0).weak_boundary_penalty == 0.0
    on = _grammar(2.0)
    assert Grammar.from_dict(on.to_dict()).weak_boundary_penalty == 2.0
    old = {k: v for k, v in on.to_dict().items() if k != "weak_boundary_penalty"}  # a model file from before
    assert Grammar.from_dict(old).weak_boundary_penalty == 0.0
    with pytest.raises(ParameterError, match="weak_boundary_penalty must be a float >= 0; got -1"):
        learn_grammar([(list(CLASSES), [8.0] * 3)], CLASSES, weak_boundary_penalty=-1)
    check_sections_config({"weak_boundary_penalty": 2.0})
    with pytest.raises(ParameterError, match=r"weak_boundary_penalty must be in \[0, 100\]; got 101"):
        check_sections_config({"weak_boundary_penalty": 101.0})
