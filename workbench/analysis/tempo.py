"""Tempo: the metrical family from the onset autocorrelation, the octave a DJ counts, the felt tempo.

1. **Family.** The beat envelope's autocorrelation is read at half a beat and at one, two, four
   and eight beats of every candidate tempo (eighth, beat, half bar, bar, two bars: dance music
   repeats at all of them).
   This fixes the tempo up to a factor of two; a swung or syncopated pattern whose strongest
   short lag is three sixteenths (UK garage, breakbeat) does not repeat at the bar, so the 2/3
   and 4/3 readings lose here.
2. **Octave.** Within the prior's range at most two members of the family remain, ``T`` and
   ``2T``. The slow reading is kept only when the drums say so at the slow grid: the hats run
   on its eighths (not its sixteenths), the snares fall on its beats (not between them) and
   the kick is not struck on every "and". Hats on the sixteenths of a 70-75 BPM reading are
   the 140-150 BPM half-time styles (dubstep, trap), counted at 140 by DJs; kicks on every
   "and" are a four-on-the-floor at double speed (hardstyle, psytrance); snares between the
   beats are a drum & bass backbeat read at half speed.
3. **Felt tempo.** When only the hats ask for the double tempo (kick and snare keep the slow
   grid's beats, the kick off its "and"s) the track is half-time: the grid is counted at the
   double tempo and the felt tempo is the slow one (dubstep and trap: 140 felt 70).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench.analysis.onsets import Onsets, levels_at, metrical_profile
from workbench.errors import ParameterError

_COMB = ((0.5, 0.5), (1, 1.0), (2, 1.0), (4, 1.0), (8, 1.0))  # (beats, weight): the eighth counts half
_KICK_WEIGHT = 1.0  # the kick band's own periodicity, added: a DJ counts the kick
_FAMILY_GRID = np.arange(80.0, 160.0, 0.05)  # one octave: every tempo family has exactly one member here
_HATS_SIXTEENTHS = 0.2  # hats on the slow grid's sixteenths at this share of its eighths: double
_SNARE_BETWEEN = 1.5  # snare body between the slow beats this much stronger than on them: double
_KICK_AND = 0.8  # kick on every "and" at this share of the beat (four-on-the-floor at 2T): double
_HALF_TIME_KICK = 0.35  # kick on the slow grid's "and" below this share of its beat: half-time
_MAX_HALF_TIME_FELT_BPM = 80.0  # fastest felt tempo of a half-time style (dubstep, trap: 65-80 felt)
_MAX_FOUR_ON_FLOOR_BPM = 165.0  # fastest four-on-the-floor a doubled kick pattern is read as
_LOOP_MAX_S = 12.0  # a clip this short is a loop or a sample: its length is a whole number of bars
_LOOP_SUPPORT = 0.25  # the loop tempo is taken when its periodicity reaches this share of the best tempo's
_HATS_OVER_KIT = 1.15  # hats alone double only when on the sixteenths this much more than the mid band is


@dataclass(frozen=True)
class BpmPrior:
    """Where a track's tempo is expected to lie (BPM).

    Tempos outside ``[min_bpm, max_bpm]`` are never chosen; inside, a log-normal weight
    centred on ``center_bpm`` with ``width_octaves`` standard deviation breaks ties where the
    drums do not decide. ``BpmPrior.trance()`` is the seed design's 128-150 centred on 139.
    """

    min_bpm: float = 70.0
    max_bpm: float = 185.0
    center_bpm: float = 125.0
    width_octaves: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min_bpm", "max_bpm", "center_bpm", "width_octaves"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ParameterError(f"BpmPrior.{name} must be a finite float > 0; got {value!r}")
        if not 30 <= self.min_bpm < self.max_bpm <= 300:
            raise ParameterError(
                f"BpmPrior needs 30 <= min_bpm < max_bpm <= 300; got min_bpm={self.min_bpm}, max_bpm={self.max_bpm}"
            )
        if not self.min_bpm <= self.center_bpm <= self.max_bpm:
            raise ParameterError(
                f"BpmPrior.center_bpm must lie in [min_bpm, max_bpm] = [{self.min_bpm}, {self.max_bpm}]; "
                f"got {self.center_bpm}"
            )

    @classmethod
    def trance(cls) -> BpmPrior:
        """128-150 BPM centred on 139."""
        return cls(min_bpm=128.0, max_bpm=150.0, center_bpm=139.0, width_octaves=0.3)

    def weight(self, bpm: np.ndarray) -> np.ndarray:
        """Prior weight of each tempo, 0 outside the range.

        Parameters
        ----------
        bpm : np.ndarray [shape=(n,)]
            Tempi in BPM.

        Returns
        -------
        np.ndarray [shape=(n,)]
            Log-normal weight around ``center_bpm`` (1 at the centre).
        """
        bpm = np.asarray(bpm, dtype=np.float64)
        w = np.exp(-0.5 * (np.log2(bpm / self.center_bpm) / self.width_octaves) ** 2)
        return np.where((bpm >= self.min_bpm) & (bpm <= self.max_bpm), w, 0.0)


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Autocorrelation of ``x`` (mean removed), normalised to 1 at lag 0 (zeros when flat).

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
        An onset envelope.

    Returns
    -------
    np.ndarray [shape=(n,)]
    """
    x = x - x.mean()
    n = x.size
    size = 1 << int(math.ceil(math.log2(2 * n)))
    spec = np.fft.rfft(x, size)
    ac = np.fft.irfft(spec * np.conj(spec), size)[:n]
    return ac / ac[0] if ac[0] > 0 else np.zeros(n)


def lag_strength(ac: np.ndarray, bpm: np.ndarray | float, frame_rate: float) -> np.ndarray:
    """Autocorrelation at the lag of one beat at ``bpm`` (0 beyond the envelope).

    Parameters
    ----------
    ac : np.ndarray [shape=(n,)]
        From :func:`autocorrelation`.
    bpm : float or np.ndarray
        Tempi in BPM.
    frame_rate : float > 0
        Envelope frames per second.

    Returns
    -------
    np.ndarray
    """
    lag = 60.0 * frame_rate / np.asarray(bpm, dtype=np.float64)
    return np.interp(lag, np.arange(ac.size), ac, right=0.0)


def metrical_comb(ac: np.ndarray, bpm: np.ndarray, frame_rate: float) -> np.ndarray:
    """Periodicity at half a beat and one, two, four and eight beats of each tempo, summed.

    Parameters
    ----------
    ac : np.ndarray [shape=(n,)]
        Autocorrelation of the beat envelope.
    bpm : np.ndarray [shape=(m,)]
        Tempi in BPM.
    frame_rate : float > 0
        Envelope frames per second.

    Returns
    -------
    np.ndarray [shape=(m,)]
    """
    return sum(w * lag_strength(ac, bpm / k, frame_rate) for k, w in _COMB)


@dataclass(frozen=True)
class TempoCandidates:
    """The tempo family of a track inside the prior's range.

    ``bpms`` holds one or two tempi (the slow one first; the second is twice the first).
    ``periodicity`` is the beat envelope's autocorrelation at one beat of the family member
    nearest the prior's centre (0..1); ``comb`` the summed autocorrelation at 1/2, 1, 2, 4 and 8
    beats (0..5). ``outside_bpm`` is set when no member of the strongest family lies inside a
    narrow prior: that family's member nearest the prior (the ``bpms`` are then the best tempo
    inside the prior, not an octave of the music's own pulse).
    """

    bpms: tuple[float, ...]
    periodicity: float
    comb: float
    outside_bpm: float | None = None


def loop_tempo(duration_s: float) -> float | None:
    """The tempo family at which a short clip (a loop) lasts a whole number of 4/4 bars, or ``None``.

    A loop is cut at bar lines, so a clip of at most 12 s lasting 1, 2, 4 or 8 bars runs at
    ``240 / duration_s`` BPM times a power of two: one tempo family, returned as its member in
    80-160 BPM. Longer clips are songs or excerpts whose length says nothing.

    Parameters
    ----------
    duration_s : float
        Clip length in seconds.

    Returns
    -------
    float or None
        BPM in [80, 160), ``None`` for clips longer than 12 s or shorter than one second.
    """
    if not 1.0 <= duration_s <= _LOOP_MAX_S:
        return None
    bpm = 240.0 / duration_s
    while bpm < _FAMILY_GRID[0]:
        bpm *= 2.0
    while bpm >= 160.0:
        bpm /= 2.0
    return bpm


def tempo_candidates(onsets: Onsets, *, prior: BpmPrior) -> TempoCandidates:
    """The tempo family (up to a factor of two) and its members inside the prior's range.

    Parameters
    ----------
    onsets : Onsets
        From :func:`~workbench.analysis.onsets.onset_envelopes`.
    prior : BpmPrior
        The range the candidates must lie in.

    Returns
    -------
    TempoCandidates
        ``bpms`` empty when the envelope has no periodicity.

    Notes
    -----
    For a clip of at most 12 s the family of :func:`loop_tempo` (a loop's length is a whole
    number of bars) is taken when its comb reaches a quarter of the best family's.
    """
    fr = onsets.frame_rate
    ac = autocorrelation(onsets.beat)
    if not ac.any():
        return TempoCandidates((), 0.0, 0.0)
    comb = metrical_comb(ac, _FAMILY_GRID, fr) + _KICK_WEIGHT * metrical_comb(autocorrelation(onsets.kick),
                                                                               _FAMILY_GRID, fr)
    base = float(_FAMILY_GRID[int(np.argmax(comb))])
    loop = loop_tempo(onsets.beat.size / fr)
    if loop is not None:
        at_loop = float(np.interp(loop, _FAMILY_GRID, comb))
        if at_loop > 0 and at_loop >= _LOOP_SUPPORT * float(comb.max()):
            base = loop
    family = [base * 2.0 ** k for k in (-2, -1, 0, 1, 2)]
    inside = [b for b in family if prior.min_bpm <= b <= prior.max_bpm]
    outside = None
    if not inside:  # a narrow prior that the family skips: the best tempo inside it
        outside = min(family, key=lambda b: abs(math.log2(min(max(b, prior.min_bpm), prior.max_bpm) / b)))
        grid = np.arange(prior.min_bpm, prior.max_bpm + 0.01, 0.05)
        inside = [float(grid[int(np.argmax(metrical_comb(ac, grid, fr) * prior.weight(grid)))])]
    inside = inside[-2:] if len(inside) > 2 else inside
    nearest = max(inside, key=lambda b: float(prior.weight(np.array([b]))[0]))
    return TempoCandidates(tuple(sorted(inside)), float(max(lag_strength(ac, nearest, fr), 0.0)),
                           float(max(metrical_comb(ac, np.array([nearest]), fr)[0], 0.0)), outside)


def estimate_tempo(onsets: Onsets, *, sr: int, prior: BpmPrior) -> tuple[float, float]:
    """The family member nearest the prior's centre and its periodicity, before the drums decide the octave.

    Parameters
    ----------
    onsets : Onsets
        From :func:`~workbench.analysis.onsets.onset_envelopes`.
    sr : int > 0
        Sample rate of the audio, in Hz (the envelopes carry their own frame rate).
    prior : BpmPrior
        The range and centre.

    Returns
    -------
    bpm : float
        0.0 when the envelope has no periodicity.
    strength : float in [0, 1]
    """
    cands = tempo_candidates(onsets, prior=prior)
    if not cands.bpms:
        return 0.0, 0.0
    return max(cands.bpms, key=lambda b: float(prior.weight(np.array([b]))[0])), cands.periodicity


@dataclass(frozen=True)
class OctaveEvidence:
    """What the drums say at the slow grid (ratios of mean onset peaks; see :func:`octave_evidence`)."""

    hats_sixteenths: float
    snare_between: float
    kick_and: float
    mid_sixteenths: float | None = None

    @property
    def double(self) -> bool:
        """True when any cue says the slow grid is half the tempo a DJ counts."""
        return (self.hats_sixteenths >= _HATS_SIXTEENTHS or self.snare_between >= _SNARE_BETWEEN
                or self.kick_and >= _KICK_AND)

    @property
    def half_time(self) -> bool:
        """True when only the hats run at the double tempo: kick and snare keep the slow grid's beats."""
        return (self.hats_sixteenths >= _HATS_SIXTEENTHS and self.snare_between < _SNARE_BETWEEN
                and self.kick_and < _HALF_TIME_KICK)

    @property
    def hats_only(self) -> bool:
        """True when only the hats ask for the double tempo."""
        return (self.hats_sixteenths >= _HATS_SIXTEENTHS and self.snare_between < _SNARE_BETWEEN
                and self.kick_and < _KICK_AND)

    @property
    def hats_lead(self) -> bool:
        """True when the hats run on the sixteenths more than the rest of the kit (a hi-hat line over the groove).

        False when every stroke falls on the sixteenths alike (tabla, dense hand percussion:
        the sixteenths are the groove's own subdivision, not a faster hat line).
        """
        if self.mid_sixteenths is None:
            return True
        return self.hats_sixteenths >= _HATS_OVER_KIT * self.mid_sixteenths

    @property
    def kick_only(self) -> bool:
        """True when only the kick asks for the double tempo (struck on every "and")."""
        return (self.kick_and >= _KICK_AND and self.hats_sixteenths < _HATS_SIXTEENTHS
                and self.snare_between < _SNARE_BETWEEN)

    def doubles(self, *, slow_bpm: float, fast_bpm: float) -> bool:
        """Whether a DJ counts the fast reading, given where the two readings lie.

        :attr:`double`, except that hats alone double (half-time: dubstep, trap, 140 felt 70)
        only when the slow reading is a half-time tempo (an 85-100 BPM groove with sixteenth hats,
        downtempo, is counted at its own tempo) or, above that, where the hats run on the
        sixteenths more than the snares and the other mid-band strokes (:attr:`hats_lead`: jungle's
        chopped breaks at 85-88 under a 16th hat line double; a 90 BPM tabla loop whose every
        stroke runs on the sixteenths alike does not), and kicks on every "and" alone
        double only where a four-on-the-floor lives (hardstyle, psytrance: up to ~160 BPM; above
        it they are a syncopated groove).

        Parameters
        ----------
        slow_bpm, fast_bpm : float
            The two readings, in BPM.

        Returns
        -------
        bool
        """
        if not self.double:
            return False
        if self.half_time and slow_bpm > _MAX_HALF_TIME_FELT_BPM:
            return False
        if self.hats_only and slow_bpm > _MAX_HALF_TIME_FELT_BPM and not self.hats_lead:
            return False
        return not (self.kick_only and fast_bpm > _MAX_FOUR_ON_FLOOR_BPM)

    @property
    def margin(self) -> float:
        """How far the strongest cue is from its threshold (log ratio; > 0 doubles)."""
        return max(math.log(self.hats_sixteenths / _HATS_SIXTEENTHS), math.log(self.snare_between / _SNARE_BETWEEN),
                   math.log(self.kick_and / _KICK_AND))


def octave_evidence(onsets: Onsets, slow_beats: np.ndarray) -> OctaveEvidence:
    """Where hats, snares and kicks fall on the slow grid.

    Parameters
    ----------
    onsets : Onsets
        Band envelopes.
    slow_beats : np.ndarray [shape=(n,)]
        Beats of the slow reading, in seconds (at least three).

    Returns
    -------
    OctaveEvidence
        ``hats_sixteenths``: hat level on the beat's second and fourth sixteenths over its
        first and third (the eighths); ``snare_between``: snare-body (150 Hz-1 kHz) level on the "and"
        over the beat; ``kick_and``: kick level on the "and" over the beat; ``mid_sixteenths``:
        the ``hats_sixteenths`` ratio of the 150 Hz-4 kHz band (snares, claps, hand drums).
    """
    fr = onsets.frame_rate
    hat = metrical_profile(onsets.hat, slow_beats, 4, frame_rate=fr)
    body = onsets.snare_body if onsets.snare_body is not None else onsets.snare
    snare = metrical_profile(body, slow_beats, 2, frame_rate=fr)
    kick = metrical_profile(onsets.kick, slow_beats, 2, frame_rate=fr)
    mid = metrical_profile(onsets.snare, slow_beats, 4, frame_rate=fr)
    return OctaveEvidence(hats_sixteenths=float((hat[1] + hat[3]) / (hat[0] + hat[2])),
                          snare_between=float(snare[1] / snare[0]), kick_and=float(kick[1] / kick[0]),
                          mid_sixteenths=float((mid[1] + mid[3]) / (mid[0] + mid[2])))


def kick_parity(onsets: Onsets, beats: np.ndarray) -> int:
    """Which of every other beat (0 or 1) carries more kick and beat-envelope strength.

    Parameters
    ----------
    onsets : Onsets
        Band envelopes.
    beats : np.ndarray [shape=(n,)]
        Beat times in seconds.

    Returns
    -------
    int in {0, 1}
    """
    fr = onsets.frame_rate
    kick = levels_at(onsets.kick, beats, frame_rate=fr)
    beat = levels_at(onsets.beat, beats, frame_rate=fr)
    score = kick / (kick.mean() + 1e-9) + beat / (beat.mean() + 1e-9)
    return int(score[1::2].mean() > score[0::2].mean()) if beats.size > 1 else 0
