"""Integrated loudness in LUFS (ITU-R BS.1770-4 / EBU R128) with pyloudnorm."""

from __future__ import annotations

import warnings

import numpy as np

#: The shortest audio BS.1770 gating can measure: one 400 ms block.
MIN_DURATION_S = 0.4


def integrated_lufs(y: np.ndarray, *, sr: int) -> float:
    """Integrated loudness of a whole signal.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Samples at their original level (not normalised); channels are weighted as BS.1770
        weights front channels (1.0 each).
    sr : int > 0
        Sample rate in Hz.

    Returns
    -------
    float
        LUFS; ``-inf`` when every block is below the absolute gate (-70 LUFS).
    """
    import pyloudnorm

    data = y.T if y.ndim == 2 else y
    meter = pyloudnorm.Meter(sr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyloudnorm warns on clipping; peaks above 1 are real here
        return float(meter.integrated_loudness(np.asarray(data, dtype=np.float64)))
