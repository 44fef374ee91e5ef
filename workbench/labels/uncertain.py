"""When a section suggestion is "uncertain", in numbers and in words.

A suggestion's confidence is calibrated (a temperature on the window probabilities, then a Platt map
fitted on the training tracks' leave-one-style-out suggestions): a suggestion shown at 75 % was right
about 3 times in 4 on styles the model had not seen. A suggestion is marked ``uncertain`` when its
calibrated chance of being wrong is more than 1 in 5: confidence under :data:`UNCERTAIN_BELOW`. Where the
training's calibration guard dropped the map (it raised held-out groups' error), the confidence is only
temperature-scaled, and :func:`uncertain_rule` says so instead of stating a chance.

The threshold was chosen on the dev sets' captured suggestions (the devset's 30 dev tracks and 24
numpy-rendered tracks, the demo's model, seeds 0-2; ``benchmarks/bench_sections_devset_history.md``,
session 18): under 0.8 flags 34-40 % of the suggestions, right 71-81 % of the time against 91-94 % for
the rest; 0.6, chosen before the map existed, flagged 2-5 % once the map sent a stated 0.6 to 0.8.
"""

from __future__ import annotations

import math

from workbench.errors import ParameterError

#: A suggestion whose calibrated confidence is below this is marked ``uncertain`` (wrong more than 1 in 5).
UNCERTAIN_BELOW = 0.8


def uncertain_rule(threshold: float | None, *, mapped: bool = True) -> str:
    """The rule that marks a suggestion ``uncertain``, in words a labeler's user can act on.

    Parameters
    ----------
    threshold : float in [0, 1] or None
        The confidence under which the model marks a suggestion uncertain (a model's
        ``uncertain_below``); None: no model made the suggestions (the novelty fallback, every one
        uncertain).
    mapped : bool
        Whether the model kept its calibration map (the Platt map of the suggestions' confidence):
        False where the calibration guard dropped it, or none was fitted. The confidence is then
        only temperature-scaled, and the rule does not call it a chance of being wrong.

    Returns
    -------
    str
        ``"uncertain: confidence under 80 %, a calibrated chance of more than 1 in 5 that it is wrong"`` for 0.8.

    Raises
    ------
    ParameterError
        ``threshold`` is not None and not a number in [0, 1].
    """
    if threshold is None:
        return "uncertain: every suggestion (no section model made them: novelty boundaries, labels guessed)"
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise ParameterError(f"threshold must be a number in [0, 1] or None; got {threshold!r}")
    if threshold == 0.0:
        return "uncertain: never (the model's threshold is 0)"
    if not mapped:  # not measured against held-out suggestions: no "chance" to state
        return (f"uncertain: confidence under {threshold * 100:.3g} % (the model's probability, temperature-scaled "
                "only: no calibration map kept, so not a measured chance of being wrong)")
    wrong = 1.0 - float(threshold)
    odds = 1.0 / wrong if wrong > 0 else math.inf
    # percentages to 3 significant digits: whole ones read "80 %", and 0.999 reads "99.9 %", not "100 %"
    chance = f"1 in {round(odds)}" if math.isfinite(odds) and abs(odds - round(odds)) < 1e-6 else f"{wrong * 100:.3g} %"
    return f"uncertain: confidence under {threshold * 100:.3g} %, a calibrated chance of more than {chance} that it is wrong"


def unlike_note(distance: float) -> str:
    """What the labeler and ``workbench suggest`` say of a track unlike the model's labelled tracks.

    Config ``confidence_map_domain`` (:mod:`workbench.train.sections.domain_map`): the track lies
    farther from the training tracks than every style held out when the confidence was fitted.

    Parameters
    ----------
    distance : float
        The track's distance to the training tracks (1: a typical training track's to the others).

    Returns
    -------
    str
        One sentence, the distance to 1 decimal.
    """
    return (f"unlike your labelled tracks (distance {distance:.1f}, beyond every style held out when the confidence "
            f"was fitted): each confidence is the share of those held-out suggestions that were right")
