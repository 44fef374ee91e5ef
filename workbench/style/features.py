"""EDM production features of a track: pumping, acid, supersaw, groove, tone and energy shape.

Every feature has a unit and a documented range (:data:`FEATURES`), is computed from the
stereo samples and the track's beat grid, and is validated against synthesized audio whose true
setting is known (``tests/test_style.py``, ``benchmarks/bench_style.py``, through
:mod:`workbench.style.testbed`). Features that need a beat (pumping, four-on-the-floor,
off-beat hats, acid steps) are ``None`` for a track without one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 22050
_N_FFT, _HOP = 2048, 256  # 93 ms window, 11.6 ms hop


@dataclass(frozen=True)
class Feature:
    """One production feature: its unit, its range, what it means, and its tolerance.

    ``tolerance`` is the half-width, in the feature's unit, under which two values count as the
    same (a profile's acceptable range is never narrower than the mean +- tolerance).
    """

    name: str
    unit: str
    low: float
    high: float
    meaning: str
    tolerance: float = 0.0


FEATURES: tuple[Feature, ...] = (
    Feature("bpm", "BPM", 60, 200, "tempo of the beat grid", tolerance=2.0),
    Feature("tempo_stability", "0..1", 0, 1, "1 = machine-steady tempo", tolerance=0.03),
    Feature("pumping_depth", "0..1 (linear)", 0, 1,
            "sidechain ducking depth of the 400 Hz-2.5 kHz band over each beat (moderate 0.3-0.6, heavy > 0.6)", tolerance=0.1),
    Feature("pumping_db", "dB", 0, 40, "the same depth in dB (moderate 4-8 dB, heavy > 8 dB)", tolerance=1.5),
    Feature("pumping_regularity", "coefficient of variation", 0, 2,
            "beat-to-beat spread of the ducking depth (< 0.15: regular, a sidechain)", tolerance=0.1),
    Feature("acid_sweep_octaves", "octaves", 0, 4, "spread (std) of the 100 Hz-4 kHz spectral edge (95 % roll-off) over 16th steps", tolerance=0.2),
    Feature("acid_resonance_db", "dB", 0, 30,
            "resonant peak of the bass line's filter over its pass band (harmonics with the saw's 1/f undone)", tolerance=2.0),
    Feature("acid_glide", "0..1", 0, 1, "share of the bass line's note changes that slide rather than jump", tolerance=0.2),
    Feature("acid_accent", "-1..1", -1, 1, "correlation of step level and brightness (303 accents open the filter)", tolerance=0.15),
    Feature("acid_score", "0..1", 0, 1, "weighted composite: sweep 30 % (full at 1 octave), resonance 25 % (full at "
            "12 dB), glide 25 %, accent 20 %", tolerance=0.08),
    Feature("stereo_width", "side/mid energy", 0, 1, "side over mid energy, 500 Hz-8 kHz", tolerance=0.03),
    Feature("phase_correlation", "-1..1", -1, 1, "left/right correlation, 500 Hz-8 kHz (1 = mono)", tolerance=0.05),
    Feature("detune_cents", "cents", 0, 60, "detune of the outer voices of stacked saws (supersaw)", tolerance=4.0),
    Feature("four_on_floor", "0..1", 0, 1, "share of beats struck by a kick", tolerance=0.08),
    Feature("offbeat_hats", "0..1", 0, 1, "share of hi-hat onset strength on the off-beat 8ths (vs on the beat)", tolerance=0.08),
    Feature("brightness_hz", "Hz", 0, 11025, "mean spectral centroid of the sounding frames", tolerance=60.0),
    Feature("bass_ratio", "0..1", 0, 1, "share of energy below 150 Hz", tolerance=0.05),
    Feature("energy_range", "0..1", 0, 1, "90th minus 10th percentile of the energy curve (the arrangement's arc)", tolerance=0.05),
    Feature("energy_slope", "per bar", 0, 1, "mean absolute bar-to-bar change of the energy curve", tolerance=0.01),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)


def _stft(x: np.ndarray) -> np.ndarray:
    import librosa

    return np.abs(librosa.stft(np.ascontiguousarray(x, dtype=np.float32), n_fft=_N_FFT, hop_length=_HOP))


def _band(spec: np.ndarray, lo: float, hi: float) -> np.ndarray:
    freqs = np.fft.rfftfreq(_N_FFT, 1 / SR)
    return spec[(freqs >= lo) & (freqs < hi)]


def _frames_at(times: np.ndarray, n_frames: int) -> np.ndarray:
    return np.clip(np.round(np.asarray(times) * SR / _HOP).astype(int), 0, n_frames - 1)


def pumping(mid: np.ndarray, beats: np.ndarray) -> tuple[float, float, float] | None:
    """Depth (linear), depth (dB) and regularity of the beat-locked ducking of the 400 Hz-2.5 kHz band.

    The band's RMS in 11.6 ms frames (5.8 ms hop) is folded onto 32 phase bins per beat and averaged over every beat (beating of
    detuned voices and notes not locked to the beat cancel); the depth is 1 - the profile's
    minimum over its maximum; regularity is the spread (coefficient of variation) of the same
    depth measured bar by bar.

    Parameters
    ----------
    mid : np.ndarray [shape=(n,)]
        Mid signal at 22.05 kHz.
    beats : np.ndarray [shape=(n_beats,)]
        Beat times in seconds.

    Returns
    -------
    (depth, depth_db, regularity) or None
        None with fewer than 8 beats.
    """
    from scipy.signal import butter, sosfiltfilt

    if beats.size < 8:
        return None
    band = sosfiltfilt(butter(4, [400, 2500], btype="band", fs=SR, output="sos"), mid)
    frame, hop = 256, 128  # 11.6 ms frames, 5.8 ms hop
    n = (band.size - frame) // hop
    if n < 16:
        return None
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    env = np.sqrt((band[idx] ** 2).mean(axis=1))
    centres = (np.arange(n) * hop + frame / 2) / SR
    bins = 32
    bars = [np.concatenate([np.interp(np.linspace(a, b, bins, endpoint=False), centres, env)
                            for a, b in zip(beats[i:i + 4], beats[i + 1:i + 5], strict=True)]).reshape(4, bins)
            for i in range(0, beats.size - 4, 4)]
    if len(bars) < 2:
        return None
    # the beat-locked shape: averaged over every beat, so that beating and notes that are not
    # locked to the beat cancel out
    profile = np.concatenate(bars).mean(axis=0)
    lo, hi = int(np.argmin(profile)), int(np.argmax(profile))
    if profile[hi] <= 1e-9:
        return None
    depth = float(1.0 - profile[lo] / profile[hi])
    per_bar = np.array([1.0 - b[:, lo].mean() / max(b[:, hi].mean(), 1e-12) for b in bars])
    regularity = float(per_bar.std() / max(abs(per_bar.mean()), 1e-9))
    return depth, float(-20 * np.log10(max(1.0 - depth, 1e-3))), regularity


def acid(spec: np.ndarray, beats: np.ndarray, mono: np.ndarray) -> tuple[float, float, float, float, float] | None:
    """Filter sweep (octaves), resonance (dB), glide share and accent correlation of the bass line, and their composite.

    Measured on the 3rd and 4th 16th steps of each beat (a kick on the beat would dominate the
    others), a quarter step after their start, where sounding. The sweep is the spread of the
    100 Hz-4 kHz spectral edge (95 % roll-off). The resonance is the 75th percentile, over the
    4th 16ths (clear of off-beat hats too), of the tallest harmonic peak (times its frequency, to
    undo a saw's 1/f fall) over the median harmonic below half its frequency. The glide is the
    share of note changes onto a 4th 16th (>= 1 semitone between the middles of two steps, YIN
    pitch of the signal low-passed at 1 kHz) where :data:`MIN_SLIDE_FRAMES` or more frames sit
    inside the middle 80 % of the interval, moving one way. The accent is the correlation of step
    level and brightness (not validated against a set truth). Validated on
    :func:`workbench.style.testbed.render_reference` acid lines (``benchmarks/bench_style.py``).

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
    centroid = (f[:, None] * power).sum(axis=0) / (level + 1e-12)
    cum = np.cumsum(power, axis=0) / (level + 1e-12)
    edge = f[np.minimum((cum < 0.95).sum(axis=0), f.size - 1)]  # the filter's edge: 95 % of the energy below
    sweep = float(np.log2(edge[loud]).std())
    semis, pitch = _step_pitch(mono, steps, step_s)
    last16th = loud & (np.arange(steps.size) % 4 == 3)  # clear of kicks and of off-beat hats too
    resonance = _resonance_db(spec, freqs, idx[last16th])
    accent = float(np.corrcoef(level[loud], centroid[loud])[0, 1]) if loud.sum() > 2 else 0.0
    glide = _glide_share(semis, pitch, steps)
    score = (0.30 * min(sweep / 1.0, 1.0) + 0.25 * min(resonance / 12.0, 1.0) + 0.25 * glide
             + 0.20 * max(accent, 0.0))
    return sweep, resonance, glide, (0.0 if np.isnan(accent) else accent), float(score)


def _step_pitch(mono: np.ndarray, steps: np.ndarray, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The YIN pitch track (semitones re A440, one per hop) and each step's median pitch (its 40-90 %)."""
    import librosa
    from scipy import signal

    low = signal.sosfilt(signal.butter(4, 1000.0, "lowpass", fs=SR, output="sos"), mono)  # hats out of the way
    f0 = librosa.yin(low, fmin=45, fmax=500, sr=SR, frame_length=1024, hop_length=_HOP)
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
    return float(max(np.percentile(per_frame, 75), 0.0)) if per_frame else 0.0


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


def stereo(left: np.ndarray, right: np.ndarray) -> tuple[float | None, float | None]:
    """Side/mid energy ratio and left/right correlation in 500 Hz-8 kHz.

    Parameters
    ----------
    left, right : np.ndarray [shape=(n,)]
        The two channels at 22.05 kHz.

    Returns
    -------
    (stereo_width, phase_correlation)
    """
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [500, 8000], btype="band", fs=SR, output="sos")
    lf, rf = sosfiltfilt(sos, left), sosfiltfilt(sos, right)
    mid, side = (lf + rf) / 2, (lf - rf) / 2
    e_mid = float((mid**2).mean())
    if e_mid < 1e-12:
        return None, None
    denom = float(lf.std() * rf.std())
    return float((side**2).mean() / e_mid), float((lf * rf).mean() / denom) if denom > 0 else 1.0


def detune_cents(mono: np.ndarray) -> float:
    """Detune of stacked voices, in cents: the spread of energy around the strongest partials.

    One-second frames (1 Hz resolution) of the loudest half of the track; around each of the
    12 strongest partials in 800 Hz-4 kHz, the energy-weighted standard deviation of pitch within
    +-50 cents, less a single sine's spread in quadrature; for voices spread evenly over
    +-d cents that deviation is about d / 1.5.

    Parameters
    ----------
    mono : np.ndarray [shape=(n,)]
        Mid signal at 22.05 kHz.

    Returns
    -------
    float
        Cents (0 for a single oscillator per note).
    """
    n = SR
    if mono.size < 2 * n:
        return 0.0
    hops = np.arange(0, mono.size - n, n // 2)
    rms = np.array([np.sqrt((mono[h:h + n] ** 2).mean()) for h in hops])
    chosen = hops[rms >= np.median(rms)][:40]
    win = np.hanning(n)
    freqs = np.fft.rfftfreq(n, 1 / SR)
    sel = np.flatnonzero((freqs >= 800) & (freqs < 4000))
    spreads, weights = [], []
    for h in chosen:
        p = np.abs(np.fft.rfft(mono[h:h + n] * win)) ** 2
        taken = np.zeros(p.size, dtype=bool)
        for _ in range(12):
            cand = sel[~taken[sel]]
            if cand.size == 0:
                break
            k = int(cand[np.argmax(p[cand])])
            f0 = freqs[k]
            lo, hi = np.searchsorted(freqs, [f0 * 2 ** (-50 / 1200), f0 * 2 ** (50 / 1200)])
            taken[max(0, lo - (hi - lo)):hi + (hi - lo)] = True
            seg = p[lo:hi]
            cents = 1200 * np.log2(freqs[lo:hi] / f0)
            floor = np.median(p[max(0, lo - 3 * (hi - lo)):hi + 3 * (hi - lo)])
            w = np.clip(seg - floor, 0, None)
            if w.sum() <= 0:
                continue
            mean = (w * cents).sum() / w.sum()
            var = (w * (cents - mean) ** 2).sum() / w.sum()
            sine_var = (1200 / np.log(2) * 0.75 / f0) ** 2  # a Hann main lobe at 1 Hz bins
            spreads.append(np.sqrt(max(var - sine_var, 0.0)))
            weights.append(w.sum())
    if not spreads:
        return 0.0
    return float(1.5 * np.average(spreads, weights=weights))


def groove(spec: np.ndarray, beats: np.ndarray) -> tuple[float, float] | None:
    """Four-on-the-floor strength and off-beat hi-hat share.

    Parameters
    ----------
    spec : np.ndarray [shape=(1025, frames)]
        Magnitude STFT of the mid signal.
    beats : np.ndarray [shape=(n,)]
        Beat times in seconds.

    Returns
    -------
    (four_on_floor, offbeat_hats) or None
        None with fewer than 8 beats.
    """
    from scipy.ndimage import maximum_filter1d

    if beats.size < 8:
        return None

    def flux(lo: float, hi: float) -> np.ndarray:
        """Half-wave rectified log-energy flux of one band, peak-held over +-46 ms.

        Parameters
        ----------
        lo, hi : float
            Band edges in Hz.

        Returns
        -------
        np.ndarray [shape=(frames,)]
        """
        e = np.log1p(100 * _band(spec, lo, hi).sum(axis=0))
        return maximum_filter1d(np.clip(np.diff(e, prepend=e[0]), 0, None), size=9)  # +-46 ms

    kick, hats = flux(30, 150), flux(6000, 11000)
    on = _frames_at(beats, kick.size)
    off = _frames_at((beats[:-1] + beats[1:]) / 2, kick.size)
    strong = np.percentile(kick[on], 90)
    four = float(np.mean(kick[on] > 0.4 * strong)) if strong > 0 else 0.0
    h_on, h_off = hats[on].sum(), hats[off].sum()
    return four, float(h_off / (h_on + h_off)) if h_on + h_off > 0 else 0.5


def production_features(y: np.ndarray, *, sr: int, beats: np.ndarray | None = None, bpm: float | None = None,
                        tempo_stability: float | None = None,
                        energy_curve: np.ndarray | None = None, energy_hop_s: float = 0.5) -> dict[str, float | None]:
    """Every production feature of one track (:data:`FEATURES`).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Samples at their original rate (mono or stereo).
    sr : int > 0
        Sample rate in Hz.
    beats : np.ndarray [shape=(n_beats,)] or None
        Beat times in seconds (from the track's analysis); None: beat features are None.
    bpm, tempo_stability : float or None
        From the track's analysis, copied into the result.
    energy_curve : np.ndarray [shape=(m,)] or None
        The analysis' 0..1 energy curve, one value per ``energy_hop_s``.
    energy_hop_s : float
        Seconds per energy value.

    Returns
    -------
    dict of str to float or None
        Keyed by :data:`FEATURE_NAMES`.
    """
    from workbench import audio

    x = np.atleast_2d(audio.validate(y, sr=sr, min_duration_s=3.0))
    x = np.stack([audio.resample(ch, orig_sr=sr, target_sr=SR) for ch in x[:2]])
    left, right = x[0], x[-1]
    mid = (left + right) / 2
    spec = _stft(mid)
    b = np.asarray(beats if beats is not None else [], dtype=np.float64)
    out: dict[str, float | None] = dict.fromkeys(FEATURE_NAMES)
    out["bpm"], out["tempo_stability"] = bpm, tempo_stability
    p = pumping(mid, b)
    if p is not None:
        out["pumping_depth"], out["pumping_db"], out["pumping_regularity"] = p
    a = acid(spec, b, mid)
    if a is not None:
        (out["acid_sweep_octaves"], out["acid_resonance_db"], out["acid_glide"], out["acid_accent"],
         out["acid_score"]) = a
    out["stereo_width"], out["phase_correlation"] = stereo(left, right)
    out["detune_cents"] = detune_cents(mid)
    g = groove(spec, b)
    if g is not None:
        out["four_on_floor"], out["offbeat_hats"] = g
    power = spec**2
    total = power.sum(axis=0)
    sounding = total > 1e-3 * total.max()
    freqs = np.fft.rfftfreq(_N_FFT, 1 / SR)
    out["brightness_hz"] = float(((freqs[:, None] * power).sum(axis=0)[sounding] / total[sounding]).mean())
    out["bass_ratio"] = float(power[freqs < 150].sum() / max(power.sum(), 1e-12))
    if energy_curve is not None and len(energy_curve) > 2:
        e = np.asarray(energy_curve, dtype=np.float64)
        out["energy_range"] = float(np.percentile(e, 90) - np.percentile(e, 10))
        per_bar = max(1, int(round((4 * 60.0 / bpm if bpm else 2.0) / energy_hop_s)))
        bars = np.array([e[i:i + per_bar].mean() for i in range(0, e.size, per_bar)])
        out["energy_slope"] = float(np.abs(np.diff(bars)).mean()) if bars.size > 1 else 0.0
    return {k: (None if v is None else float(v)) for k, v in out.items()}


#: Energy-curve classes of a bar, by its mean energy (0..1, relative to the track's peak) and
#: slope (change per bar): rising/falling when the slope passes +-0.04 per bar, else low
#: (< 0.35), high (>= 0.7) or mid.
ENERGY_CLASSES: tuple[str, ...] = ("low", "mid", "high", "rising", "falling")
_SLOPE, _LOW, _HIGH = 0.04, 0.35, 0.7


def energy_classes(curve: np.ndarray, *, hop_s: float, bpm: float | None) -> tuple[list[str], dict[str, float]]:
    """The energy class of each bar of a track, and the share of bars in each class.

    Parameters
    ----------
    curve : np.ndarray [shape=(m,)]
        The analysis' 0..1 energy curve, one value per ``hop_s`` seconds.
    hop_s : float > 0
        Seconds per value.
    bpm : float or None
        Tempo (4 beats a bar); None: 2-second "bars".

    Returns
    -------
    classes : list of str
        One of :data:`ENERGY_CLASSES` per bar.
    shares : dict of str to float
        Share of bars per class (sums to 1; all zero for an empty curve).
    """
    e = np.asarray(curve, dtype=np.float64)
    per_bar = max(1, int(round((4 * 60.0 / bpm if bpm else 2.0) / hop_s)))
    bars = np.array([e[i:i + per_bar].mean() for i in range(0, e.size, per_bar)]) if e.size else np.zeros(0)
    slope = np.gradient(bars) if bars.size > 1 else np.zeros_like(bars)
    classes = ["rising" if s > _SLOPE else "falling" if s < -_SLOPE else "low" if b < _LOW else
               "high" if b >= _HIGH else "mid" for b, s in zip(bars, slope, strict=True)]
    n = max(len(classes), 1)
    return classes, {c: classes.count(c) / n if classes else 0.0 for c in ENERGY_CLASSES}
