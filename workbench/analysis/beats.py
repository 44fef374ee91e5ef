"""Beats, tempo and downbeats of a track: :func:`track_beats` and its :class:`BeatGrid`.

The pipeline, one module per concern:

- :mod:`~workbench.analysis.onsets`: one magnitude STFT, onset envelopes per drum band
  (kick, snare, hats) and the beat envelope the tracker follows;
- :mod:`~workbench.analysis.tempo`: the tempo family from the autocorrelation at 1, 2, 4 and 8
  beats, the octave a DJ counts (by where hats, snares and kicks fall), the felt tempo;
- here: librosa's dynamic-programming tracker places the beats at the fast member of the
  family, the octave rules keep them or every other one, and a steady track gets the
  best-fitting metronomic grid (a DJ's beat grid), a short loop the grid at which it lasts whole bars; the grid runs from the first sound to the last attack
  (no beats over a silent lead-in or a reverb tail);
- :mod:`~workbench.analysis.downbeats`: the beat of four that starts the bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench.analysis.downbeats import downbeat_phase
from workbench.analysis.onsets import (
    HOP_LENGTH,
    Onsets,
    check_spectrogram,
    levels_at,
    magnitude_spectrogram,
    onset_envelopes,
)
from workbench.analysis.tempo import (
    BpmPrior,
    autocorrelation,
    estimate_tempo,
    kick_parity,
    loop_tempo,
    octave_evidence,
    tempo_candidates,
)
from workbench.errors import ParameterError

__all__ = ["HOP_LENGTH", "BeatGrid", "BpmPrior", "Onsets", "estimate_tempo", "fit_grid", "onset_envelopes",
           "tempo_stability", "track_beats"]

_MIN_ONSET_SHARPNESS_DB = 2.0  # below this, nothing in the track is struck: no beat
_MIN_PERIODICITY = 0.1  # comb (autocorrelation summed at 1, 2, 4, 8 beats) below this: no beat
_STEADY = 0.8  # tempo stability from which beats are fitted with a metronomic grid
_STABILITY_SCALE = 0.06  # median local tempo deviation at which stability reaches 0
_WINDOW_S = 10.0
_SEARCH = 0.1  # local beat period searched within this share of the grid's
_MIN_FELT_BPM = 55.0  # slowest felt (half-time) tempo reported below the prior's range
_KICK_PINS = 0.5  # kick half a beat later below this share of its level on the grid: the grid stays
_HATS_PIN = 0.8  # hats half a beat later below this share of their level on the grid: the grid stays
_SOUNDING_DB = 40.0  # the grid covers frames within this many dB of the loudest (not silence)
_LAST_ATTACK = 0.2  # the grid ends at the last attack this strong (share of the envelope's 99th percentile)
_LOUD_END_DB = 20.0  # ... or at the last frame this close to the loudest, whichever is later (breakdowns)
_MIN_BEATS = 4  # fewer beats left where the music plays: no grid (a short loop may play 4)
_CLOCK_S = 0.02  # tracked beats this close (median) to one straight line: played to a clock, fit a metronome
_CLOCK_STABILITY = 0.975  # this steady in every window: a clock even where the tracker strays (drumless breaks)
_CLOCK_INLIERS = 0.6  # ... when this share of the stronger half of the tracked beats sits on the metronome
_INLIER_S = 0.035  # a tracked beat within this of a metronome beat sits on it
_LOOP_SNAP_OCTAVES = 0.1  # a loop's tracked tempo this close (about 7 %) to its whole-bar tempo: the bar tempo
_LOOP_SPREAD = 0.003  # tempo range searched around a loop's whole-bar tempo
_REFIT_SPREAD = 0.003  # tempo range searched when refitting a clock grid at the chosen octave


@dataclass(frozen=True)
class BeatGrid:
    """Beat-level timing of a track; times in seconds.

    ``bpm`` is the tempo a DJ counts (drum & bass 170-176, dubstep and trap 140, hip-hop
    70-100); ``None``, with empty arrays, when the track has no pulse the tracker finds (no
    periodic onsets: ``has_beat`` False); a wandering pulse keeps its rough tempo with a low
    ``tempo_stability``. ``felt_bpm`` is the felt tempo where it differs from the grid (half-time: 70 for a
    140 grid with the snare on 3), else ``None``. ``tempo_stability`` (0..1, see
    :func:`tempo_stability`) is 1 for a machine-steady track and falls towards 0 as the local
    tempo wanders (about 0.1 for a rubato orchestra). ``confidence`` (0..1) says how sure the
    tempo and grid are: the onset periodicity at the grid's metrical levels times the margin
    of the octave decision. ``outside_prior_bpm`` is the strongest tempo family's member nearest
    the prior when a narrow prior holds none of that family (the grid is then the best tempo
    inside the prior; :attr:`TempoCandidates.outside_bpm`), else ``None``.
    """

    bpm: float | None
    beats: np.ndarray
    downbeats: np.ndarray
    tempo_stability: float
    has_beat: bool
    felt_bpm: float | None = None
    confidence: float = 0.0
    outside_prior_bpm: float | None = None


def fit_grid(env: np.ndarray, *, sr: int, bpm: float, duration_s: float,
             spread: float = 0.03) -> tuple[float, np.ndarray]:
    """A metronomic beat grid: the period and phase whose beats collect the most onset strength.

    Searches tempos within ``spread`` (3 %) of ``bpm`` (to 0.01 BPM) and every phase (to a
    quarter frame); returns the tempo and the beat times over the whole track.

    Parameters
    ----------
    env : np.ndarray [shape=(frames,)]
        Onset envelope at ``sr / 512`` frames per second.
    sr : int > 0
        Sample rate of the audio, in Hz.
    bpm : float > 0
        Tempo estimate, in BPM.
    duration_s : float > 0
        Track duration, in seconds.
    spread : float >= 0
        Relative tempo range searched around ``bpm``.

    Returns
    -------
    bpm : float
    beats : np.ndarray [shape=(n_beats,)]
        Beat times in seconds.
    """
    frame_rate = sr / HOP_LENGTH
    frames = np.arange(env.size, dtype=np.float64)

    def best(bpms: np.ndarray) -> tuple[float, float, float]:
        """The candidate tempo and phase whose beats collect the most onset strength.

        Parameters
        ----------
        bpms : np.ndarray [shape=(n,)]
            Candidate tempi in BPM.

        Returns
        -------
        score, bpm, phase_frames : float
            The best candidate's summed onset strength, tempo and phase (in frames).
        """
        top = (-np.inf, 0.0, 0.0)
        for b in bpms:
            period = 60.0 * frame_rate / b
            phases = np.arange(0.0, period, 0.25)
            ks = np.arange(int(env.size / period) + 1)
            pos = phases[:, None] + ks[None, :] * period
            vals = np.interp(pos, frames, env, right=0.0).sum(axis=1)
            i = int(np.argmax(vals))
            if vals[i] > top[0]:
                top = (float(vals[i]), float(b), float(phases[i]))
        return top

    _, b1, _ = best(np.arange(bpm * (1 - spread), bpm * (1 + spread) + 0.01, 0.05))
    _, b2, phase = best(np.arange(b1 - 0.05, b1 + 0.05, 0.01))
    period_s = 60.0 / b2
    first = phase / frame_rate
    if first - period_s > -period_s / 4:  # a beat a few ms before the first sample is the track's first beat
        first -= period_s
    beats = first + period_s * np.arange(int((duration_s - first) / period_s) + 1)
    return b2, np.maximum(beats, 0.0)


def tempo_stability(onsets: Onsets, *, bpm: float, window_s: float = _WINDOW_S) -> float:
    """How steady the local tempo is, 0..1.

    The beat envelope is cut into windows of ``window_s`` seconds (hop a fifth of that);
    in each, the beat period is the lag, within 10 % of the grid's, where the window's
    autocorrelation summed at one, two and four beats peaks (refined between frames). The
    stability is ``1 - min(1, m / 0.06)`` where ``m`` is the median relative deviation of the
    windows' periods from their median: 1.0 when every stretch runs at the same tempo (a drum
    machine), about 0.7-0.9 for a band drifting by a few per cent, near 0 for rubato.

    Parameters
    ----------
    onsets : Onsets
        Band envelopes.
    bpm : float > 0
        The grid tempo.
    window_s : float > 0
        Window length in seconds (shortened to half the track for short clips).

    Returns
    -------
    float in [0, 1]
    """
    env, fr = onsets.beat, onsets.frame_rate
    period = 60.0 * fr / bpm
    width = int(min(window_s * fr, env.size / 2))
    if width < 4 * period * (1 + _SEARCH) + 2:
        return 1.0
    lags = np.arange(int(period * (1 - _SEARCH)), int(math.ceil(period * (1 + _SEARCH))) + 1)
    local = []
    for start in range(0, env.size - width + 1, max(1, width // 5)):
        ac = autocorrelation(env[start:start + width])
        if not ac.any():
            continue
        score = sum(ac[np.minimum(k * lags, ac.size - 1)] for k in (1, 2, 4))
        i = int(np.argmax(score))
        if 0 < i < lags.size - 1:  # parabolic refinement between frames
            a, b, c = score[i - 1], score[i], score[i + 1]
            shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c != 0 else 0.0
        else:
            shift = 0.0
        local.append(lags[i] + float(np.clip(shift, -0.5, 0.5)))
    if len(local) < 2:
        return 1.0
    local_arr = np.asarray(local)
    deviation = float(np.median(np.abs(local_arr / np.median(local_arr) - 1.0)))
    return float(np.clip(1.0 - deviation / _STABILITY_SCALE, 0.0, 1.0))


def _backbeat_phase(onsets: Onsets, beats: np.ndarray) -> np.ndarray:
    """The grid, or the grid half a beat later, whichever puts the backbeat on the beats.

    Snares and claps fall on every other beat (2 and 4, or 3 in half-time), never between
    the beats; a syncopated kick (UK garage: on the "and" of 3) can pull a grid half a beat
    off. The grid is moved when the snare band, on its stronger alternate beats, is struck
    harder half a beat later, unless the kick or the hats pin the grid: the kick struck
    between its beats at less than half its level on them (a four-on-the-floor with off-beat
    hats), or hats and shakers accented on the beats (under 80 % of that level between them).

    Parameters
    ----------
    onsets : Onsets
        Band envelopes.
    beats : np.ndarray [shape=(n,)]
        Beat times in seconds (at least two).

    Returns
    -------
    np.ndarray [shape=(n,)]
    """
    fr = onsets.frame_rate
    shifted = beats + np.diff(beats, append=2 * beats[-1] - beats[-2]) / 2

    def stronger_half(env: np.ndarray, times: np.ndarray) -> float:
        """The envelope's mean peak on whichever half of the beats (odd or even) it is stronger on.

        Parameters
        ----------
        env : np.ndarray [shape=(frames,)]
            Onset envelope.
        times : np.ndarray [shape=(n,)]
            Beat times in seconds.

        Returns
        -------
        float
        """
        v = levels_at(env, times, frame_rate=fr, reach=1)
        return float(max(v[0::2].mean(), v[1::2].mean()))

    pinned = (stronger_half(onsets.kick, shifted) < _KICK_PINS * stronger_half(onsets.kick, beats)
              or stronger_half(onsets.hat, shifted) < _HATS_PIN * stronger_half(onsets.hat, beats))
    moved = stronger_half(onsets.snare, shifted) > stronger_half(onsets.snare, beats)
    return shifted if moved and not pinned else beats


def _extend_to_start(beats: np.ndarray, *, first_s: float) -> np.ndarray:
    """``beats`` with the beat one period before the first added while it lies within the music.

    Moving a grid half a beat later (:func:`_backbeat_phase`) drops the beat at the start of a
    clip that begins on the beat (the Amen break's first kick at 0 s): the grid began on the
    off-beat before it, and moving it leaves the first beat half a beat into the clip.

    Parameters
    ----------
    beats : np.ndarray [shape=(n,)]
        Beat times in seconds.
    first_s : float
        Where the music starts (:func:`_music_span`), in seconds.

    Returns
    -------
    np.ndarray [shape=(m,)], m >= n
    """
    if beats.size < 2:
        return beats
    period = float(beats[1] - beats[0])
    while beats[0] - period >= max(first_s, 0.0) - period / 4:
        beats = np.concatenate([[max(float(beats[0]) - period, 0.0)], beats])
    return beats


def _music_span(spec: np.ndarray, onsets: Onsets, *, period_s: float) -> tuple[float, float]:
    """From the first sounding frame to the end of the music, in seconds.

    The start is the first frame within 40 dB of the loudest (a drumless intro has bars to
    mix; a silent lead-in has none); the end is the last frame where the beat envelope reaches
    20 % of its 99th percentile (an outro's chord attacks count), or, when the music stays within
    20 dB of its loudest for two bars or more after it, the last such frame (a drumless
    breakdown or outro still has bars to label and mix; a note ringing out, a reverb tail or a
    fade does not extend the grid).

    Parameters
    ----------
    spec : np.ndarray [shape=(1025, frames)]
        Magnitude STFT.
    onsets : Onsets
        Its envelopes.
    period_s : float > 0
        The beat period, in seconds.

    Returns
    -------
    first_s, last_s : float
    """
    energy = (np.asarray(spec, dtype=np.float64) ** 2).sum(axis=0)
    sounding = np.flatnonzero(energy > energy.max() * 10 ** (-_SOUNDING_DB / 10))
    env = onsets.beat.copy()
    env[-5:] = 0.0  # the STFT's zero padding at the end is no attack
    struck = np.flatnonzero(env > _LAST_ATTACK * np.percentile(env, 99))
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-_LOUD_END_DB / 10))
    first = sounding[0] if sounding.size else 0
    last = struck[-1] if struck.size else env.size - 1
    loud_end = min(loud[-1], env.size - 6) if loud.size else 0
    if (loud_end - last) / onsets.frame_rate >= 8 * period_s:  # a breakdown of two bars or more
        last = loud_end
    return first / onsets.frame_rate, last / onsets.frame_rate


def _clock_grid(onsets: Onsets, beats: np.ndarray, *, sr: int, bpm: float, duration_s: float,
                stability: float) -> np.ndarray | None:
    """The metronome under tracked beats that stray in a drumless stretch, or ``None``.

    A track whose local tempo holds in every window (``stability`` >= 0.975) is played to a
    clock, but the dynamic-programming tracker can wander through a long breakdown with no
    drums and come back, which bends a line fitted to its beats. The best-fitting metronome
    (:func:`fit_grid`) is kept when at least 60 % of the stronger half of the tracked beats
    (by onset level: the drummed parts) lie within 35 ms of it; a band drifting in tempo
    leaves the metronome in its drummed parts too.

    Parameters
    ----------
    onsets : Onsets
        Band envelopes.
    beats : np.ndarray [shape=(n,)]
        Tracked beat times in seconds (at least two).
    sr : int > 0
        Sample rate in Hz.
    bpm : float > 0
        Tempo of the tracked beats, in BPM.
    duration_s : float > 0
        Track duration in seconds.
    stability : float in [0, 1]
        From :func:`tempo_stability`.

    Returns
    -------
    np.ndarray [shape=(m,)] or None
        The metronome's beats within the tracked span.
    """
    if stability < _CLOCK_STABILITY or beats.size < 2:
        return None
    _, grid = fit_grid(onsets.beat, sr=sr, bpm=bpm, duration_s=duration_s)
    level = levels_at(onsets.beat, beats, frame_rate=onsets.frame_rate, reach=1)
    strong = beats[level >= np.median(level)]
    gap = np.abs(strong[:, None] - grid[None, :]).min(axis=1)
    if float((gap <= _INLIER_S).mean()) < _CLOCK_INLIERS:
        return None
    half = 30.0 / bpm
    return grid[(grid >= beats[0] - half) & (grid <= beats[-1] + half)]


def track_beats(y: np.ndarray, *, sr: int, bpm_prior: BpmPrior | None = None,
                spec: np.ndarray | None = None) -> BeatGrid:
    """Beats, downbeats, the tempo a DJ counts and the felt tempo of mono audio.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples.
    sr : int > 0
        Sample rate in Hz.
    bpm_prior : BpmPrior or None
        Expected tempo range; ``None`` means ``BpmPrior()`` (70-185 BPM).
    spec : np.ndarray [shape=(1025, frames)] or None
        ``np.abs(librosa.stft(y, n_fft=2048, hop_length=512))`` when the caller has it
        (shared with key and energy); ``None`` computes it here.

    Returns
    -------
    BeatGrid

    Raises
    ------
    ParameterError
        If ``bpm_prior`` is not a BpmPrior or ``spec`` does not fit ``y``.
    """
    import librosa
    from scipy.stats import theilslopes

    prior = bpm_prior if bpm_prior is not None else BpmPrior()
    if not isinstance(prior, BpmPrior):
        raise ParameterError(f"bpm_prior must be a BpmPrior or None; got {type(bpm_prior).__name__}")
    y = np.asarray(y)
    spec = magnitude_spectrogram(y) if spec is None else check_spectrogram(spec, n_samples=y.shape[-1])
    onsets = onset_envelopes(spec, sr=sr)
    cands = tempo_candidates(onsets, prior=prior)
    no_beat = BeatGrid(None, np.zeros(0), np.zeros(0), 0.0, False, None, 0.0)
    if onsets.sharpness_db < _MIN_ONSET_SHARPNESS_DB or not cands.bpms or cands.comb < _MIN_PERIODICITY:
        return no_beat
    fast = cands.bpms[-1]
    _, frames = librosa.beat.beat_track(onset_envelope=onsets.beat, sr=sr, hop_length=HOP_LENGTH, bpm=fast,
                                        tightness=400, trim=True, units="frames")
    beats = librosa.frames_to_time(frames, sr=sr, hop_length=HOP_LENGTH)
    if beats.size < 8:
        return no_beat
    clock = _clock_grid(onsets, beats, sr=sr, bpm=fast, duration_s=y.shape[-1] / sr,
                        stability=tempo_stability(onsets, bpm=fast))
    clocked = clock is not None and clock.size >= 8
    beats = clock if clocked else beats
    bpm, margin, felt_bpm = fast, 1.0, None
    if len(cands.bpms) == 2:
        slow_beats = beats[kick_parity(onsets, beats)::2]
        evidence = octave_evidence(onsets, slow_beats)
        margin = min(1.0, abs(evidence.margin))
        if not evidence.doubles(slow_bpm=cands.bpms[0], fast_bpm=cands.bpms[1]):
            bpm, beats = cands.bpms[0], slow_beats
        elif evidence.half_time:
            felt_bpm = cands.bpms[0]
    elif fast / 2 >= _MIN_FELT_BPM and octave_evidence(onsets, beats[kick_parity(onsets, beats)::2]).half_time:
        felt_bpm = fast / 2
    stability = tempo_stability(onsets, bpm=bpm)
    index = np.arange(beats.size)
    slope, intercept = theilslopes(beats, index)[:2]  # a line robust to a stretch where the tracker strays
    bpm = 60.0 / float(slope)
    off_line_s = float(np.median(np.abs(beats - (slope * index + intercept))))
    loop = loop_tempo(y.shape[-1] / sr)
    member = None if loop is None else loop * 2.0 ** round(math.log2(bpm / loop))
    looped = member is not None and abs(math.log2(bpm / member)) < _LOOP_SNAP_OCTAVES
    if looped:  # a loop: played to a clock, cut at bar lines, so a beat falls where it starts
        bpm, beats = fit_grid(onsets.beat, sr=sr, bpm=member, duration_s=y.shape[-1] / sr, spread=_LOOP_SPREAD)
        period_s = 60.0 / bpm
        if 0.25 < float(beats[0]) % period_s / period_s < 0.75:  # the off-beats (a tabla's strong "and"s)
            beats = np.maximum(beats - period_s / 2, 0.0)
    elif stability >= _STEADY and off_line_s <= _CLOCK_S:  # already a metronome when clocked: its own tempo
        bpm, beats = fit_grid(onsets.beat, sr=sr, bpm=bpm, duration_s=y.shape[-1] / sr,
                              spread=_REFIT_SPREAD if clocked else 0.03)
    period_s = 60.0 / bpm
    first_s, last_s = _music_span(spec, onsets, period_s=period_s)
    beats = beats[(beats >= first_s - period_s / 4) & (beats <= last_s + period_s / 4)]
    if beats.size < _MIN_BEATS:
        return no_beat
    felt = bpm / 2.0 if felt_bpm is not None and abs(felt_bpm * 2 - bpm) < 0.05 * bpm else None
    shifted = beats if looped else _backbeat_phase(onsets, beats)  # a loop's start sets its phase
    if shifted is not beats:  # half a beat later: the beat before the first may now fall inside the music
        shifted = _extend_to_start(shifted, first_s=first_s)
    beats = shifted[shifted <= last_s + period_s / 4]
    if looped:  # a loop is cut at bar lines: the bar starts where the clip does
        phase = -round(float(beats[0]) / period_s) % 4
    else:
        phase = downbeat_phase(spec, sr=sr, beats=beats, onsets=onsets, half_time=felt is not None)
    downbeats = beats[phase::4]
    confidence = float(np.clip(cands.comb / 2.0, 0.0, 1.0) * (0.5 + 0.5 * margin))
    return BeatGrid(float(bpm), beats, downbeats, stability, True, felt, confidence, cands.outside_bpm)
