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
        Samples at their original level (not normalised). Mono and stereo are measured as
        BS.1770 measures front channels (weight 1.0 each). More than two channels are mixed
        down to mono by their mean first: the channel layout (which is LFE, which surround)
        is not known from the file, and pyloudnorm refuses more than five.
    sr : int > 0
        Sample rate in Hz.

    Returns
    -------
    float
        LUFS; ``-inf`` when every block is below the absolute gate (-70 LUFS).
    """
    import pyloudnorm

    if y.ndim == 2 and y.shape[0] > 2:
        y = y.mean(axis=0)
    data = y.T if y.ndim == 2 else y
    meter = pyloudnorm.Meter(sr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyloudnorm warns on clipping; peaks above 1 are real here
        return float(meter.integrated_loudness(np.asarray(data, dtype=np.float64)))
