"""The grammar's outro gate: a last outro scored by how far the music thins out where it starts (config outro_gate)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ParameterError

CLASSES = ("intro", "drop", "outro")
FORM = ["intro", "drop", "outro"]


def _grammar(outro_gate: float):
    from workbench.train.sections.grammar import learn_grammar

    seqs = [(FORM, [8.0, 16.0, 16.0])] * 4  # 16-bar outros (no position factor)
    return learn_grammar(seqs, CLASSES, weight=2.0, outro_gate=outro_gate)


def test_level_fall_is_positive_where_the_rest_is_quieter_and_negative_before_louder_bars():
    from workbench.train.sections.novelty import level_fall

    level = np.r_[np.zeros(8), np.full(16, 3.0), np.zeros(8)]  # quiet, loud, quiet
    fall = level_fall(level)
    assert fall.shape == (32,) and fall[0] == 0.0
    assert fall[24] == fall.max() > 1.5  # the quiet tail starts at bar 24
    assert (fall[1:9] < -0.5).all()  # an outro before the loud bars
    assert np.abs(fall).max() <= 2.0
    assert np.allclose(level_fall(np.full(10, 5.0)), 0.0)  # no change, no fall
    with pytest.raises(ParameterError, match="bar_level must be a finite"):
        level_fall(np.array([1.0, np.nan]))


def test_a_final_bonus_scores_the_last_segment_by_its_start_and_label():
    from workbench.train.smoothing import segment_viterbi

    evidence = np.log(np.full((32, 2), 0.5))
    assert [s.label for s in segment_viterbi(evidence, min_len=4, switch_penalty=0.5)] == [0]
    bonus = np.zeros((32, 2))
    bonus[24, 1] = 3.0  # label 1 is worth closing the track only from bar 24
    segs = segment_viterbi(evidence, min_len=4, switch_penalty=0.5, final_bonus=bonus)
    assert [(s.start, s.end, s.label) for s in segs] == [(0, 24, 0), (24, 32, 1)]
    bonus[:, :] = 0.0
    bonus[24, 1] = 3.0
    bonus[:, 0] = 5.0  # only the last segment gets it: one segment of label 0 takes it too
    assert [s.label for s in segment_viterbi(evidence, min_len=4, switch_penalty=0.5, final_bonus=bonus)] == [0]
    with pytest.raises(ParameterError, match=r"final_bonus must be a finite \(32, 2\) array"):
        segment_viterbi(evidence, final_bonus=np.zeros((31, 2)))


def test_the_gate_is_off_by_default_kept_in_the_model_file_and_refused_below_zero():
    from workbench.train.sections.grammar import Grammar, learn_grammar

    off, on = _grammar(0.0), _grammar(1.5)
    level = np.r_[np.full(24, 3.0), np.zeros(8)]
    assert off.final_bonus(level) is None and on.final_bonus(None) is None
    bonus = on.final_bonus(level)
    assert bonus.shape == (32, 3) and not bonus[:, :2].any()
    assert bonus[24, 2] == pytest.approx(2.0 * 1.5 * 2.0)  # weight x gate x the fall (clipped at 2)
    assert Grammar.from_dict(on.to_dict()).outro_gate == 1.5
    assert Grammar.from_dict({k: v for k, v in off.to_dict().items() if k != "outro_gate"}).outro_gate == 0.0
    with pytest.raises(ParameterError, match="outro_gate must be a float >= 0; got -1"):
        learn_grammar([(FORM, [8.0] * 3)], CLASSES, outro_gate=-1)


def test_the_gate_ends_a_track_on_an_outro_where_the_music_thins_out():
    from workbench.train.sections import TrackFrames
    from workbench.train.sections.dj_features import FEATURES_V1_DIM
    from workbench.train.sections.suggestions import segments_for

    beats = np.arange(0, 128, 0.5)  # 120 BPM, 64 bars of 2 s
    times = np.arange(0.5, 128, 1.0)
    frames = np.zeros((times.size, FEATURES_V1_DIM), dtype=np.float32)
    frames[(times >= 16) & (times < 112), :64] = 3.0  # loud from bar 8 to bar 56, quiet after
    probs = np.tile([0.9, 0.05, 0.05], (times.size, 1))
    probs[times >= 16] = [0.02, 0.49, 0.49]  # drop or outro: a coin flip; a 16-bar outro would start at 96 s
    track = TrackFrames(1, "t", 128.0, frames, times, beats, beats[::4], [], frames=frames)
    ends = [segments_for(track, probs, CLASSES, grammar=_grammar(g))[-1] for g in (0.0, 2.0, 5.0)]
    assert ends[0].label == "drop"  # no outro at all without the gate
    assert ends[1].label == "outro"  # the quiet tail pulls one in
    assert ends[2].label == "outro" and ends[2].start_s == pytest.approx(112.0)  # where the music thins out
    frames[:, :64] = 3.0  # no level fall anywhere: the gate adds nothing
    assert segments_for(track, probs, CLASSES, grammar=_grammar(5.0))[-1].label == "drop"


@pytest.mark.parametrize("other", [{"label_families": "learned"}, {"grammar": False}])
def test_the_gate_is_refused_where_it_would_do_nothing(other):
    """The gate scores the grammar's last section; label families decode without it and no grammar has none: a
    config asking for it there is refused before a job, naming both keys, not run without it."""
    from workbench.train.sections.config_check import check_sections_config

    check_sections_config({"outro_gate": 1.0})
    check_sections_config({"outro_gate": 0.0, **other})
    with pytest.raises(ParameterError, match=r"outro_gate=1\.0 is not used with (label_families='learned'|grammar="
                                             r"False); set outro_gate=0"):
        check_sections_config({"outro_gate": 1.0, **other})
