"""The 303/acid features of a bass line: filter sweep, resonance, glide, accents and their composite.

Split from :mod:`workbench.style.features` (which calls :func:`acid` for every track); each
measure is validated on :func:`workbench.style.testbed.render_reference` acid lines whose true
setting is known (``benchmarks/bench_style.py``).
"""

from __future__ import annotations

import numpy as np

from workbench.style.spectra import _HOP, _N_FFT, SR, _frames_at


def acid(spec: np.ndarray, beats: np.ndarray, mono: np.ndarray) -> tuple[float, float, float, float, float] | None:
    """Filter sweep (octaves), resonance (dB), glide share and accent share of the bass line, and their composite.

    Measured on the 3rd and 4th 16th steps of each beat (a kick on the beat would dominate the
    others), a quarter step after their start, where sounding. The sweep is the spread of the
    100 Hz-4 kHz spectral edge (95 % roll-off) over the steps that are not accented. The resonance
    is the 75th percentile, over the 4th 16ths (clear of off-beat hats too), of the tallest
    harmonic peak (times its frequency, to undo a saw's 1/f fall) over the median harmonic below
    half its frequency, capped at :data:`RESONANCE_MAX_DB` (a 30 dB filter peak is a Q of about 30; a
    peak standing further over the band below is a lone tone over a quiet band, not a filter's
    resonance: the real Sugar Plum Fairy arrangement reads 33 dB uncapped, an earlier analysis 40.5). The glide is the
    share of note changes onto a 4th 16th (>= 1 semitone between the middles of two steps, YIN
    pitch of the signal low-passed at 1 kHz) where :data:`MIN_SLIDE_FRAMES` or more frames sit
    inside the middle 80 % of the interval, moving one way. The accent is the share of steps whose
    spectral edge (octaves) plus level (dB / 6) stands 1 or more above the line's trend (see
    :func:`_accented`): a 303 accent is louder and opens the filter at once, a sweep moves
    both slowly. Validated on :func:`workbench.style.testbed.render_reference` acid lines
    (``benchmarks/bench_style.py``).

    Parameters
    ----------
    spec : np.ndarray [shape=(1025, frames)]
        Magnitude STFT of the mid signal.
    beats : np.ndarray [shape=(n,)]
        Beat times in seconds (16th steps are their quarters).
    mono : np.ndarray [shape=(n,)]
        Mid signal at 22.05 kHz (for the pitch track).

    Returns
    -------
    (sweep_octaves, resonance_db, glide, accent, score) or None
        None with fewer than 8 beats.
    """
    if beats.size < 8:
        return None
    freqs = np.fft.rfftfreq(_N_FFT, 1 / SR)
    sel = (freqs >= 100) & (freqs < 4000)
    band, f = spec[sel], freqs[sel]
    steps = np.concatenate([np.linspace(a, b, 4, endpoint=False) for a, b in zip(beats[:-1], beats[1:],
                                                                                 strict=True)])
    step_s = float(np.median(np.diff(steps)))
    idx = _frames_at(steps + 0.25 * step_s, spec.shape[1])
    power = band[:, idx] ** 2
    level = power.sum(axis=0)
    off_kick = np.arange(steps.size) % 4 >= 2  # the 3rd and 4th 16ths of a beat: clear of a kick's body
    loud = off_kick & (level > 0.05 * level[off_kick].max())
    if loud.sum() < 16:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    cum = np.cumsum(power, axis=0) / (level + 1e-12)
    edge = f[np.minimum((cum < 0.95).sum(axis=0), f.size - 1)]  # the filter's edge: 95 % of the energy below
    accented = _accented(np.log2(edge[loud]), 10 * np.log10(level[loud] + 1e-20))
    sweep = float(np.log2(edge[loud][~accented]).std())  # accents open the filter an octave: not the sweep
    semis, pitch = _step_pitch(mono, steps, step_s)
    last16th = loud & (np.arange(steps.size) % 4 == 3)  # clear of kicks and of off-beat hats too
    resonance = _resonance_db(spec, freqs, idx[last16th])
    accent = float(accented.mean())
    glide = _glide_share(semis, pitch, steps)
    score = (0.30 * min(sweep / 1.0, 1.0) + 0.25 * min(resonance / 12.0, 1.0) + 0.25 * glide
             + 0.20 * min(accent / ACCENT_FULL_SHARE, 1.0))
    return sweep, resonance, glide, accent, float(score)


#: Accent share at which the acid composite's accent term is full (303 lines accent 10-40 % of steps).
ACCENT_FULL_SHARE = 0.25


def _accented(edge_oct: np.ndarray, level_db: np.ndarray, *, half_width: int = 6, passes: int = 3) -> np.ndarray:
    """Which steps stand above the line's trend by ``edge + level / 6 >= 1`` (1 octave or 6 dB): the accents.

    The trend is a running median over ``half_width`` steps either side, recomputed ``passes``
    times without the steps that stood out (accents only go up, so they would lift a plain
    median when they are many). Settings chosen on 24 testbed clips (generator seed 11, shares
    0-0.5: mean error 0.031, max 0.092); held-out seeds 2000+ in ``benchmarks/bench_style.py``.
    Only the measured steps (3rd and 4th 16ths) are counted: about half the line, so the share
    carries a sampling error of about 0.04 against the whole line's.

    Parameters
    ----------
    edge_oct : np.ndarray [shape=(n,)]
        Spectral edge of each sounding step in octaves (log2 Hz), in time order.
    level_db : np.ndarray [shape=(n,)]
        Level of each step in dB.
    half_width : int
        Steps either side in the running median.
    passes : int
        Trims of the outliers before the last trend.
    """
    edge = np.asarray(edge_oct, dtype=np.float64)
    if edge.size < 2 * half_width + 1:
        return np.zeros(edge.size, dtype=bool)
    rise = (_above_trend(edge, half_width=half_width, passes=passes, outlier=0.4)
            + _above_trend(np.asarray(level_db, dtype=np.float64), half_width=half_width, passes=passes, outlier=2.0) / 6.0)
    return rise >= 1.0


def _above_trend(v: np.ndarray, *, half_width: int, passes: int, outlier: float) -> np.ndarray:
    """``v`` minus its running median, the median recomputed without values ``outlier`` or more above it."""
    keep = np.ones(v.size, dtype=bool)
    resid = np.zeros(v.size)
    for _ in range(passes):
        kept = np.flatnonzero(keep)
        lo = np.searchsorted(kept, np.arange(v.size) - half_width, side="left")
        hi = np.searchsorted(kept, np.arange(v.size) + half_width, side="right")
        trend = np.array([np.median(v[kept[a:b]]) if b > a else np.median(v[kept]) for a, b in zip(lo, hi, strict=True)])
        resid = v - trend
        keep = resid < outlier
    return resid


#: The pitch track runs on every 4th sample of the 1 kHz low-passed line (5.5 kHz).
_PITCH_DECIMATION = 4


def _step_pitch(mono: np.ndarray, steps: np.ndarray, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The YIN pitch track (semitones re A440, one per hop) and each step's median pitch (its 40-90 %)."""
    import librosa
    from scipy import signal

    low = signal.sosfilt(signal.butter(4, 1000.0, "lowpass", fs=SR, output="sos"), mono)  # hats out of the way
    # a quarter of the rate holds everything under 1 kHz: YIN there costs a sixteenth, same frames in time
    f0 = librosa.yin(low[::_PITCH_DECIMATION], fmin=45, fmax=500, sr=SR / _PITCH_DECIMATION,
                     frame_length=1024 // _PITCH_DECIMATION, hop_length=_HOP // _PITCH_DECIMATION)
    semis = 12 * np.log2(f0 / 440.0)
    at = np.clip(np.round(np.stack([steps + 0.4 * step_s, steps + 0.9 * step_s]) * SR / _HOP).astype(int),
                 0, semis.size - 1)
    return semis, np.array([np.median(semis[a:b + 1]) for a, b in at.T])


def _resonance_db(spec: np.ndarray, freqs: np.ndarray, frames: np.ndarray) -> float:
    """Resonant peak (dB) of the harmonics over the pass band below it, 75th percentile over frames.

    Harmonics are the spectral peaks standing 6 dB or more above their surroundings (window
    side lobes do not), from 90 Hz (above a kick's body) up to 1.5x the frame's spectral edge
    (95 % roll-off of 90 Hz-4 kHz), where a low-pass filter's resonance sits.
    """
    from scipy.signal import find_peaks

    sel = (freqs >= 90) & (freqs < 4000)
    f = freqs[sel]
    per_frame = []
    for j in frames:
        m = spec[sel, j]
        power = m**2
        cum = np.cumsum(power) / max(power.sum(), 1e-20)
        edge = f[min(int((cum < 0.95).sum()), f.size - 1)]
        db = 20 * np.log10(m + 1e-12)
        peaks, _ = find_peaks(db, prominence=6.0)
        peaks = peaks[(db[peaks] > db.max() - 50) & (f[peaks] <= 1.5 * edge)]
        if peaks.size < 4:
            continue
        flat = m[peaks] * f[peaks]  # a saw's harmonics fall as 1/f: undo it
        top = int(np.argmax(flat))
        below = flat[f[peaks] < f[peaks][top] / 2]
        if below.size >= 2:
            per_frame.append(20 * np.log10(flat[top] / max(np.median(below), 1e-20)))
    return float(np.clip(np.percentile(per_frame, 75), 0.0, RESONANCE_MAX_DB)) if per_frame else 0.0


#: Highest resonance reported, in dB: the top of the feature's stated range (``style.features``).
RESONANCE_MAX_DB = 30.0

#: Frames (11.6 ms hops) of a note change inside the middle 80 % of its interval, within 100 ms
#: of the step, for it to count as a slide (tuned on seeds 7-8; held-out seeds 2000+ in the benchmark).
MIN_SLIDE_FRAMES = 3


def _glide_share(semis: np.ndarray, pitch: np.ndarray, steps: np.ndarray) -> float:
    """Share of note changes onto the 4th 16th of a beat that slide (see :func:`acid`); changes
    nearer a kick are skipped, its falling pitch would read as a slide."""
    last = semis.size - 1
    changes = slides = 0
    for i in range(1, steps.size):
        if i % 4 != 3:
            continue
        p0, p1 = pitch[i - 1], pitch[i]
        if not abs(p1 - p0) >= 1.0:
            continue
        changes += 1
        a = int(np.clip(round((steps[i] - 0.01) * SR / _HOP), 0, last))
        w = semis[a:a + int(0.1 * SR / _HOP) + 1]
        margin = 0.1 * abs(p1 - p0)
        lo, hi = min(p0, p1) + margin, max(p0, p1) - margin
        between = w[(w > lo) & (w < hi)]
        moving = np.diff(between) * np.sign(p1 - p0)
        slides += int(between.size >= MIN_SLIDE_FRAMES and bool(np.all(moving > -0.3)))
    return slides / changes if changes else 0.0
