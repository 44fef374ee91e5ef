"""What "uncertain" means for a section suggestion: the rule on the calibrated scale, in numbers and words (issue 18)."""

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.labels import Suggestion
from workbench.labels.uncertain import UNCERTAIN_BELOW, uncertain_rule


def test_the_default_flags_a_calibrated_chance_of_being_wrong_above_one_in_five():
    """0.6 was chosen before the confidence map: mapped, it flagged 2-5 % of the dev sets' suggestions."""
    from workbench.train.sections import CONFIG_DEFAULTS
    from workbench.train.sections import UNCERTAIN_BELOW as SECTIONS_DEFAULT

    assert UNCERTAIN_BELOW == SECTIONS_DEFAULT == CONFIG_DEFAULTS["uncertain_below"] == 0.8
    assert uncertain_rule(UNCERTAIN_BELOW) == ("uncertain: confidence under 80 %, a calibrated chance of more than "
                                               "1 in 5 that it is wrong")


@pytest.mark.parametrize(("threshold", "words"), [
    (0.75, "under 75 %, a calibrated chance of more than 1 in 4 that it is wrong"),
    (0.9, "under 90 %, a calibrated chance of more than 1 in 10 that it is wrong"),
    (0.6, "under 60 %, a calibrated chance of more than 40 % that it is wrong"),
    (0.0, "never (the model's threshold is 0)"),
    (0.999, "under 99.9 %, a calibrated chance of more than 1 in 1000 that it is wrong"),  # not "under 100 %"
    (0.825, "under 82.5 %, a calibrated chance of more than 17.5 % that it is wrong"),  # not "under 82 %", "17 %"
    (None, "every suggestion (no section model made them"),
])
def test_the_rule_in_words_follows_the_models_threshold(threshold, words):
    assert words in uncertain_rule(threshold)


@pytest.mark.parametrize("bad", [1.5, -0.1, "0.8", True])
def test_a_threshold_outside_zero_one_is_refused_by_name(bad):
    with pytest.raises(ParameterError, match=r"threshold must be a number in \[0, 1\] or None; got"):
        uncertain_rule(bad)


def _track():
    from workbench.train.sections import TrackFrames

    duration_s = 64.0
    times = np.arange(0.25, duration_s, 0.5)
    beats = np.arange(0.0, duration_s, 0.5)
    return TrackFrames(1, "x", duration_s, np.zeros((times.size, 2)), times, beats, beats[::4], []), times


def test_suggestions_under_eighty_percent_are_flagged_by_default_and_carry_the_rule():
    from workbench.train.sections.suggestions import segments_for

    tr, times = _track()
    probs = np.empty((times.size, 2))
    first = times < 32
    probs[first] = [0.9, 0.1]  # intro at 0.9: wrong 1 in 10
    probs[~first] = [0.3, 0.7]  # outro at 0.7: wrong 3 in 10, more than 1 in 5 (the old 0.6 let it through)
    out = segments_for(tr, probs, ("intro", "outro"))
    assert [(s.label, s.uncertain) for s in out] == [("intro", False), ("outro", True)]
    assert [s.confidence for s in out] == pytest.approx([0.9, 0.7])
    assert all(s.uncertain_below == 0.8 for s in out) and "1 in 5" in out[1].uncertain_rule
    # the flag and the words follow a model's own threshold
    loose = segments_for(tr, probs, ("intro", "outro"), uncertain_below=0.6)
    assert not any(s.uncertain for s in loose) and "40 %" in loose[0].uncertain_rule


def test_a_suggestions_threshold_is_checked():
    from workbench.labels import LabelError

    with pytest.raises(LabelError, match=r"uncertain_below must be a number in \[0, 1\] or None; got 1.2"):
        Suggestion(1, "drop", 0, 16, 0.0, 8.0, 0.5, uncertain_below=1.2)  # named as itself, not as "confidence"
    s = Suggestion(1, "drop", 0, 16, 0.0, 8.0, 0.9, uncertain_below=0.8)
    assert s.uncertain_rule == uncertain_rule(0.8)
    assert Suggestion(1, "drop", 0, 16, 0.0, 8.0, 0.0, uncertain=True).uncertain_rule == uncertain_rule(None)


def test_the_sections_report_says_the_rule():
    from workbench.report.sections import calibration_part

    html = calibration_part({"calibration": {"temperature": 1.2, "uncertain_rule": uncertain_rule(0.8)}},
                            lambda *a: "")
    assert "In the labeler and <code>workbench suggest</code>, uncertain: confidence under 80 %, a calibrated chance " \
           "of more than 1 in 5 that it is wrong." in html
