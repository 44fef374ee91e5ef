"""EDM production features of a track: pumping, acid, supersaw, groove, tone and energy shape.

Every feature has a unit and a documented range (:data:`FEATURES`), is computed from the
stereo samples and the track's beat grid, and is validated against synthesized audio whose true
setting is known (``tests/test_style.py``, ``benchmarks/bench_style.py``, through
:mod:`workbench.style.testbed`). Features that need a beat (pumping, four-on-the-floor,
off-beat hats, acid steps) are ``None`` for a track without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.style.acid import RESONANCE_MAX_DB, acid
from workbench.style.spectra import _N_FFT, SR, _band, _frames_at, _stft


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
    Feature("acid_resonance_db", "dB", 0, RESONANCE_MAX_DB,
            "resonant peak of the bass line's filter over its pass band (harmonics with the saw's 1/f undone); "
            "30 means 30 dB or more: a lone tone over a quiet band, past any filter's resonance", tolerance=2.0),
    Feature("acid_glide", "0..1", 0, 1, "share of the bass line's note changes that slide rather than jump", tolerance=0.2),
    Feature("acid_accent", "0..1", 0, 1, "share of the bass line's 16th steps accented: level and filter edge jump "
            "together above the line's trend (a 303 accent: louder and the filter opened)", tolerance=0.1),
    Feature("acid_score", "0..1", 0, 1, "weighted composite: sweep 30 % (full at 1 octave), resonance 25 % (full at "
            "12 dB), glide 25 %, accent 20 % (full at a quarter of the steps)", tolerance=0.08),
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


#: Shortest clip whose tempo stability the style features keep (seconds): two of the analysis'
#: 10-s stability windows. A shorter clip's windows shrink to half its length (4 s, 8 beats, for
#: an 8-s loop), where the reading follows the groove's microtiming, not tempo drift: the garzul
#: drum loop (8 s, 120 BPM) reads 0.88, the same audio played four times over (32 s) reads
#: 0.99, and its two halves fit 120.19 and 120.07 BPM. The six real loops read 0.88-0.99 alone
#: and 0.98-1.00 tiled.
MIN_STABILITY_S = 20.0


def style_tempo_stability(analysis: Any) -> float | None:
    """The analysis' tempo stability where the style features can use it, else None.

    None for a track without a beat, and for a clip shorter than :data:`MIN_STABILITY_S` (its
    stability is not measured at the resolution that tells drift from groove): profile compare
    then gives no "tempo wanders" advice for a drum loop.

    Parameters
    ----------
    analysis : workbench.analysis.Analysis
        The track's analysis (``has_beat``, ``duration_s``, ``tempo_stability``).

    Returns
    -------
    float or None
        0..1, or None.
    """
    if not analysis.has_beat or analysis.duration_s < MIN_STABILITY_S:
        return None
    return float(analysis.tempo_stability)


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
