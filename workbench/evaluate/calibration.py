"""Calibration of class probabilities: expected calibration error, reliability bins, temperature scaling.

A classifier is calibrated when, of the predictions it makes with confidence 0.8, about 80 %
are right. :func:`expected_calibration_error` (ECE, 15 equal-width confidence bins, weighted by
how many predictions fall in each) and :func:`reliability` (the bins themselves, for a
reliability diagram) measure it; :func:`fit_temperature` learns the one number ``T`` that
divides the log-probabilities (Guo et al. 2017, "On calibration of modern neural networks")
by minimising the negative log-likelihood on held-out predictions, and
:func:`apply_temperature` uses it. ``T > 1`` softens an over-confident classifier. For
predictions that state one confidence (a smoothed section): :func:`confidence_ece`, and a map
from stated confidence to the share right, :func:`fit_platt` (two parameters) or
:func:`fit_isotonic` (monotone steps), applied by :func:`apply_confidence_map`; their bins for a
reliability diagram: :func:`confidence_reliability`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.errors import ParameterError

#: Confidence bins of the ECE and the reliability diagram.
N_BINS = 15


def _check(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=np.float64)
    t = np.asarray(y)
    if p.ndim != 2 or p.shape[0] == 0 or t.shape != (p.shape[0],) or not np.all(np.isfinite(p)):
        raise ParameterError(f"probs must be a finite (n >= 1, K) array with one class index per row in y; "
                             f"got probs {p.shape}, y {t.shape}")
    if t.dtype.kind not in "iu" or t.min() < 0 or t.max() >= p.shape[1]:
        raise ParameterError(f"y must hold class indices in 0..{p.shape[1] - 1}; got {t.dtype} values "
                             f"{sorted(set(np.asarray(t).tolist()))[:5]}")
    return p, t.astype(np.int64)


def reliability(probs: np.ndarray, y: np.ndarray, *, n_bins: int = N_BINS) -> dict[str, Any]:
    """Confidence bins of the arg-max prediction: mean confidence, accuracy and count per bin.

    Parameters
    ----------
    probs : np.ndarray [shape=(n, K)]
        Class probabilities.
    y : np.ndarray [shape=(n,)] of int
        True class index of each row.
    n_bins : int >= 1
        Equal-width bins over [0, 1].

    Returns
    -------
    dict
        ``edges`` (n_bins + 1), ``confidence``, ``accuracy`` (None for an empty bin) and
        ``count`` per bin, and ``ece``.

    Raises
    ------
    ParameterError
        Bad shapes, non-finite probabilities or class indices out of range.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ParameterError(f"n_bins must be an int >= 1; got {n_bins!r}")
    p, t = _check(probs, y)
    conf = p.max(axis=1)
    right = (p.argmax(axis=1) == t).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    conf_sum = np.bincount(which, weights=conf, minlength=n_bins)
    right_sum = np.bincount(which, weights=right, minlength=n_bins)
    has = count > 0
    ece = float(np.sum(np.abs(right_sum[has] - conf_sum[has])) / len(t))
    return {"edges": edges.tolist(),
            "confidence": [float(c / n) if n else None for c, n in zip(conf_sum, count, strict=True)],
            "accuracy": [float(r / n) if n else None for r, n in zip(right_sum, count, strict=True)],
            "count": count.astype(int).tolist(), "ece": ece}


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, *, n_bins: int = N_BINS) -> float:
    """ECE: the count-weighted mean gap between confidence and accuracy over ``n_bins`` bins.

    Parameters
    ----------
    probs : np.ndarray [shape=(n, K)]
        Class probabilities.
    y : np.ndarray [shape=(n,)] of int
        True class index of each row.
    n_bins : int >= 1
        Equal-width confidence bins.

    Returns
    -------
    float in [0, 1]
    """
    return float(reliability(probs, y, n_bins=n_bins)["ece"])


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``log(probs) / temperature`` (rows sum to 1).

    Parameters
    ----------
    probs : np.ndarray [shape=(n, K)]
        Class probabilities.
    temperature : float > 0
        1 leaves them as they are.

    Returns
    -------
    np.ndarray [shape=(n, K)]
    """
    if not (isinstance(temperature, (int, float, np.floating)) and temperature > 0):
        raise ParameterError(f"temperature must be a float > 0; got {temperature!r}")
    logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)) / float(temperature)
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, y: np.ndarray, *, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature that minimises the negative log-likelihood of ``y`` under :func:`apply_temperature`.

    Parameters
    ----------
    probs : np.ndarray [shape=(n, K)]
        Held-out class probabilities (never those of the data the model was fitted on).
    y : np.ndarray [shape=(n,)] of int
        True class index of each row.
    bounds : (float, float)
        Search interval of the temperature.

    Returns
    -------
    float
        The fitted temperature (bounded scalar search, scipy).
    """
    from scipy.optimize import minimize_scalar

    p, t = _check(probs, y)
    logp = np.log(np.clip(p, 1e-12, 1.0))

    def nll(log_temp: float) -> float:
        """Mean negative log-likelihood at temperature ``exp(log_temp)``.

        Parameters
        ----------
        log_temp : float
            Natural log of the temperature.
        """
        z = logp / np.exp(log_temp)
        z -= z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(t)), t]))

    res = minimize_scalar(nll, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded")
    return float(np.exp(res.x))


def confidence_ece(confidence: np.ndarray, correct: np.ndarray, *, n_bins: int = N_BINS) -> float:
    """ECE of stated confidences (one per prediction) against whether each prediction was right.

    For predictions that carry one confidence rather than a probability row, e.g. a smoothed
    section's confidence at each window it covers.

    Parameters
    ----------
    confidence : np.ndarray [shape=(n,)]
        Stated confidence of each prediction, in [0, 1].
    correct : np.ndarray [shape=(n,)] of bool
        Whether each prediction was right.
    n_bins : int >= 1
        Equal-width confidence bins.

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ParameterError
        Empty or mismatched arrays, or confidences outside [0, 1].
    """
    _, conf_sum, right_sum = _confidence_bins(confidence, correct, n_bins)
    return float(np.abs(right_sum - conf_sum).sum() / len(np.asarray(confidence)))


def _confidence_bins(confidence: np.ndarray, correct: np.ndarray, n_bins: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked equal-width bins of stated confidences: (count, confidence sum, right sum) per bin.

    Parameters
    ----------
    confidence : np.ndarray [shape=(n,)]
        Stated confidence of each prediction, in [0, 1].
    correct : np.ndarray [shape=(n,)] of bool
        Whether each prediction was right.
    n_bins : int >= 1
        Equal-width confidence bins.
    """
    c = np.asarray(confidence, dtype=np.float64)
    r = np.asarray(correct, dtype=np.float64)
    if c.ndim != 1 or c.shape != r.shape or not len(c) or not np.all((c >= 0) & (c <= 1)):
        raise ParameterError(f"confidence must be (n >= 1,) values in [0, 1] with one correct flag each; "
                             f"got confidence {c.shape}, correct {r.shape}")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ParameterError(f"n_bins must be an int >= 1; got {n_bins!r}")
    which = np.clip(np.digitize(c, np.linspace(0.0, 1.0, n_bins + 1)[1:-1], right=True), 0, n_bins - 1)
    return (np.bincount(which, minlength=n_bins), np.bincount(which, weights=c, minlength=n_bins),
            np.bincount(which, weights=r, minlength=n_bins))


def confidence_reliability(confidence: np.ndarray, correct: np.ndarray, *, n_bins: int = N_BINS) -> dict[str, Any]:
    """Reliability bins of stated confidences (one per prediction): :func:`reliability`'s keys.

    Parameters
    ----------
    confidence : np.ndarray [shape=(n,)]
        Stated confidence of each prediction, in [0, 1] (e.g. a smoothed section's, at each window it covers).
    correct : np.ndarray [shape=(n,)] of bool
        Whether each prediction was right.
    n_bins : int >= 1
        Equal-width confidence bins.

    Returns
    -------
    dict
        ``edges`` (n_bins + 1), ``confidence``, ``accuracy`` (None for an empty bin), ``count`` per
        bin, and ``ece`` (:func:`confidence_ece`).

    Raises
    ------
    ParameterError
        As :func:`confidence_ece`.
    """
    count, conf_sum, right_sum = _confidence_bins(confidence, correct, n_bins)
    ece = float(np.abs(right_sum - conf_sum).sum() / count.sum())
    return {"edges": np.linspace(0.0, 1.0, n_bins + 1).tolist(),
            "confidence": [float(s / n) if n else None for s, n in zip(conf_sum, count, strict=True)],
            "accuracy": [float(s / n) if n else None for s, n in zip(right_sum, count, strict=True)],
            "count": count.astype(int).tolist(), "ece": ece}


def fit_isotonic(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A monotone map from stated confidence to the share right (isotonic regression, scikit-learn).

    Parameters
    ----------
    confidence : np.ndarray [shape=(n,)]
        Held-out confidences (never those of the data the model was fitted on), in [0, 1].
    correct : np.ndarray [shape=(n,)] of bool
        Whether each held-out prediction was right.

    Returns
    -------
    (np.ndarray, np.ndarray)
        Knots ``(x, y)``: :func:`apply_confidence_map` interpolates between them (clipped at the ends).

    Raises
    ------
    ParameterError
        As :func:`confidence_ece`.
    """
    from sklearn.isotonic import IsotonicRegression

    confidence_ece(confidence, correct)  # the same checks
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(np.asarray(confidence, dtype=np.float64), np.asarray(correct, dtype=np.float64))
    return np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, dtype=np.float64)


def apply_confidence_map(confidence: np.ndarray, knots: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Confidences mapped through the knots of :func:`fit_isotonic` or :func:`fit_platt` (linear between them).

    Parameters
    ----------
    confidence : np.ndarray [shape=(n,)]
        Stated confidences.
    knots : (np.ndarray, np.ndarray)
        ``(x, y)`` from :func:`fit_isotonic` or :func:`fit_platt`.

    Returns
    -------
    np.ndarray [shape=(n,)]
    """
    x, y = (np.asarray(k, dtype=np.float64) for k in knots)
    return np.interp(np.asarray(confidence, dtype=np.float64), x, y)


def fit_platt(confidence: np.ndarray, correct: np.ndarray, *, n_knots: int = 101,
              sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A smooth monotone map from stated confidence to the share right: logistic regression on its logit (Platt).

    Two parameters, so it holds better than :func:`fit_isotonic` when the held-out folds are
    few and differ (a style the model knows well beside one it does not).

    Parameters
    ----------
    confidence : np.ndarray [shape=(n,)]
        Held-out confidences, in [0, 1].
    correct : np.ndarray [shape=(n,)] of bool
        Whether each held-out prediction was right.
    n_knots : int >= 2
        Points of [0, 1] the map is tabulated at.
    sample_weight : np.ndarray [shape=(n,)], optional
        Non-negative weight of each prediction (e.g. one over the windows of its suggestion, so
        that each suggestion counts once); None: all 1.

    Returns
    -------
    (np.ndarray, np.ndarray)
        Knots ``(x, y)`` for :func:`apply_confidence_map` (which interpolates any tabulated map).

    Raises
    ------
    ParameterError
        As :func:`confidence_ece`, or ``n_knots`` < 2, or ``sample_weight`` not (n,) finite values >= 0
        with a positive sum.
    """
    from sklearn.linear_model import LogisticRegression

    confidence_ece(confidence, correct)  # the same checks
    if isinstance(n_knots, bool) or not isinstance(n_knots, int) or n_knots < 2:
        raise ParameterError(f"n_knots must be an int >= 2; got {n_knots!r}")
    r = np.asarray(correct, dtype=bool)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w is not None and (w.shape != r.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0):
        raise ParameterError(f"sample_weight must be ({len(r)},) finite values >= 0 with a positive sum; "
                             f"got shape {w.shape}")
    x = np.linspace(0.0, 1.0, n_knots)
    if w is not None:  # outcomes of zero weight do not count
        r_seen = r[w > 0]
        if r_seen.all() or not r_seen.any():
            return x, np.full(n_knots, float(r_seen.all()))
    if r.all() or not r.any():  # one outcome only: the share right is that outcome
        return x, np.full(n_knots, float(r.all()))

    def logit(c: np.ndarray) -> np.ndarray:
        """Log-odds of confidences (clipped away from 0 and 1).

        Parameters
        ----------
        c : np.ndarray
            Confidences in [0, 1].
        """
        c = np.clip(np.asarray(c, dtype=np.float64), 1e-4, 1 - 1e-4)
        return np.log(c / (1 - c))

    model = LogisticRegression(C=1.0).fit(logit(confidence)[:, None], r, sample_weight=w)
    return x, model.predict_proba(logit(x)[:, None])[:, 1]
