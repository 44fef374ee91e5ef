"""Repetition in the decoder: a track whose bars 16-31 return as 48-63 gets one label on both copies."""

import numpy as np
import pytest

from tests.test_sections_repetition import BAR_S, N_BARS, _track_with_a_repeat
from workbench.errors import ParameterError
from workbench.train.sections import repeat_decode as rd
from workbench.train.smoothing import BeatSegment

BEATS_PER_BAR = 4


def _grid():
    beats = np.arange(0.0, N_BARS * BAR_S, BAR_S / BEATS_PER_BAR)
    starts = np.arange(N_BARS) * BEATS_PER_BAR
    return beats, starts


def _probs():
    """Per beat: 'verse' (0) outside the repeat; the first copy says 'drop' (2) weakly, the second 'chorus' (1) strongly."""
    p = np.tile([0.8, 0.1, 0.1], (N_BARS * BEATS_PER_BAR, 1))
    p[16 * BEATS_PER_BAR:32 * BEATS_PER_BAR] = [0.1, 0.4, 0.5]
    p[48 * BEATS_PER_BAR:] = [0.1, 0.8, 0.1]
    return p


def _known_repeat():
    """Bar starts, the synthetic track's bar repeats and :func:`_probs`."""
    frames, times, _, _ = _track_with_a_repeat()
    beats, starts = _grid()
    return starts, rd.bar_repeats(frames, times, beats, starts, duration_s=N_BARS * BAR_S), _probs()


def test_bar_repeats_finds_the_known_repeat():
    frames, times, _, _ = _track_with_a_repeat()
    beats, starts = _grid()
    rep = rd.bar_repeats(frames, times, beats, starts, duration_s=N_BARS * BAR_S)
    assert rep.shape == (N_BARS, N_BARS) and np.array_equal(rep, rep.T)
    pairs = {tuple(x) for x in np.argwhere(np.triu(rep))}
    assert pairs == {(b, b + 32) for b in range(16, 32)}
    # no features-v1 frames, or a track too short for a repeat: nothing to tie
    assert rd.bar_repeats(frames[:, :16], times, beats, starts, duration_s=N_BARS * BAR_S) is None
    assert rd.bar_repeats(None, times, beats, starts, duration_s=N_BARS * BAR_S) is None
    assert rd.bar_repeats(frames, times, beats[:40], starts[:10], duration_s=20.0) is None


def test_relabel_gives_both_copies_the_label_they_carry_most_strongly():
    starts, rep, p = _known_repeat()
    b = BEATS_PER_BAR
    segs = [BeatSegment(0, 16 * b, 0, .8), BeatSegment(16 * b, 32 * b, 2, .5), BeatSegment(32 * b, 48 * b, 0, .8),
            BeatSegment(48 * b, 64 * b, 1, .8)]
    out = rd.relabel_repeats(segs, p, starts, rep)
    assert [s.label for s in out] == [0, 1, 0, 1]  # summed over both copies: chorus .4 + .8 beats drop .5 + .1
    assert out[1].confidence == pytest.approx(0.4) and out[3].label == 1 and out[3].confidence == pytest.approx(0.8)
    assert [(s.start_beat, s.end_beat) for s in out] == [(s.start_beat, s.end_beat) for s in segs]
    # a label the decoded family does not hold is never chosen, and a section decoded with one never moves
    kept = rd.relabel_repeats(segs, p, starts, rep, allowed=np.array([True, False, True]))
    assert [s.label for s in kept] == [0, 2, 0, 1]  # the chorus copy is outside it: left alone, pooled with none
    # sections that do not repeat each other are left alone
    assert rd.relabel_repeats(segs, p, starts, np.zeros_like(rep)) == segs
    # by the first occurrence: the later copy follows the earlier one's decoded label
    assert [s.label for s in rd.relabel_repeats(segs, p, starts, rep, by="first")] == [0, 2, 0, 2]
    with pytest.raises(ParameterError, match="by must be"):
        rd.relabel_repeats(segs, p, starts, rep, by="last")
    with pytest.raises(ParameterError, match="min_share"):
        rd.relabel_repeats(segs, p, starts, rep, min_share=0)


def test_pool_repeats_pulls_each_copy_to_the_pair_mean():
    starts, rep, p = _known_repeat()
    b = BEATS_PER_BAR
    full = rd.pool_repeats(p, starts, rep, weight=1.0)
    assert np.allclose(full[16 * b], [0.1, 0.6, 0.3]) and np.allclose(full[48 * b], [0.1, 0.6, 0.3])
    assert np.array_equal(full[:16 * b], p[:16 * b]) and np.allclose(full.sum(axis=1), 1.0)
    assert np.array_equal(rd.pool_repeats(p, starts, rep, weight=0.0), p)
    with pytest.raises(ParameterError, match="weight"):
        rd.pool_repeats(p, starts, rep, weight=1.5)
    with pytest.raises(ParameterError, match="repeats"):
        rd.pool_repeats(p, starts, rep[:10, :10], weight=0.5)


def test_segments_for_relabels_the_repeated_section_only_when_asked():
    from workbench.train.sections.features import TrackFrames
    from workbench.train.sections.grammar import learn_grammar
    from workbench.train.sections.suggestions import segments_for

    frames, times, downbeats, bar = _track_with_a_repeat()
    beats, _ = _grid()
    classes = ("verse", "chorus", "drop")
    grammar = learn_grammar([(["verse", "chorus", "verse", "chorus"], [32.0] * 4),
                             (["verse", "drop", "verse", "drop"], [32.0] * 4)] * 2, classes, position_weight=0.0)
    probs = np.tile([0.8, 0.1, 0.1], (times.size, 1))
    probs[(bar >= 16) & (bar < 32)] = [0.1, 0.4, 0.5]  # the first copy leans to drop, the second is a clear chorus
    probs[bar >= 48] = [0.1, 0.8, 0.1]
    track = TrackFrames(1, "t", N_BARS * BAR_S, probs, times, beats, downbeats, [], frames=frames)

    def label_at(segs, t):
        return next(s.label for s in segs if s.start_s <= t < s.end_s)

    plain = segments_for(track, probs, classes, grammar=grammar)
    tied = segments_for(track, probs, classes, grammar=grammar, repeat_relabel=0.5, repeat_options={"by": "sum"})
    assert label_at(plain, 48.0) == "drop" and label_at(plain, 112.0) == "chorus"
    assert label_at(tied, 48.0) == "chorus" and label_at(tied, 112.0) == "chorus"
    assert label_at(tied, 10.0) == label_at(plain, 10.0) == "verse"
    assert [s.start_s for s in tied] == [s.start_s for s in plain]
    # the same from the grammar (config repeat_relabel, kept in the model file), with the chosen tie's settings
    import dataclasses

    from workbench.train.sections.grammar import Grammar

    on = dataclasses.replace(grammar, repeat_relabel=0.5)
    assert Grammar.from_dict(on.to_dict()).repeat_relabel == 0.5 and grammar.repeat_relabel == 0.0
    by_grammar = segments_for(track, probs, classes, grammar=on)
    assert label_at(by_grammar, 48.0) == "drop" and label_at(by_grammar, 112.0) == "drop"  # the first copy's label
    # features that are not features-v1 frames: nothing to tie, the plain decoding
    other = TrackFrames(1, "t", N_BARS * BAR_S, probs, times, beats, downbeats, [], frames=probs)
    assert [s.label for s in segments_for(other, probs, classes, grammar=grammar, repeat_relabel=0.5)] == \
        [s.label for s in segments_for(other, probs, classes, grammar=grammar)]


def test_repeat_relabel_is_refused_out_of_range():
    from workbench.train.sections.config_check import check_sections_config
    from workbench.train.sections.grammar import learn_grammar

    with pytest.raises(ParameterError, match="repeat_relabel"):
        learn_grammar([(["verse", "chorus"], [8.0, 8.0])], ("verse", "chorus"), repeat_relabel=1.5)
    with pytest.raises(ParameterError, match="repeat_relabel"):
        check_sections_config({"repeat_relabel": -0.1})
