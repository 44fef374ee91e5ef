"""Analyse every track of a library, storing results; recomputed only when file or settings change.

Every consumer reads a track's analysis through :func:`track_analysis`: the stored result
under the track's effective settings (:mod:`workbench.analysis.settings`: track > folder >
library > defaults), with the track's correction (:mod:`workbench.analysis.corrections`) on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench import audio
from workbench.analysis.beats import BpmPrior
from workbench.analysis.core import MIN_DURATION_S, Analysis, analyze, settings_key
from workbench.analysis.corrections import get_correction
from workbench.analysis.settings import effective_settings, list_analysis_settings
from workbench.analysis.stored import (  # noqa: F401  (re-exported: the stored result, as analysed)
    EFFECTIVE,
    KIND,
    _Effective,
    _explicit,
    _settings_hash,
    stored_analysis,
)
from workbench.errors import AudioError, ParameterError, failure_reason
from workbench.library import Library, Track
from workbench.store import transaction, utc_now


@dataclass
class AnalysisSummary:
    """What :func:`analyze_library` did: ids analysed now, ids reused, and failures by path.

    ``locked`` holds the ids whose locked correction was kept over a re-analysis; ``unlocked``
    the ids whose unlocked correction a forced re-analysis dropped.
    """

    analysed: list[int] = field(default_factory=list)
    reused: list[int] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    locked: list[int] = field(default_factory=list)
    unlocked: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"analysis: {len(self.analysed)} analysed, {len(self.reused)} reused, {len(self.failed)} failed"]
        if self.locked:
            lines.append(f"  {len(self.locked)} locked corrections kept (tracks {', '.join(map(str, self.locked))}); "
                         "`workbench correct TRACK --unlock` to drop one")
        if self.unlocked:
            lines.append(f"  {len(self.unlocked)} unlocked corrections dropped (tracks "
                         f"{', '.join(map(str, self.unlocked))})")
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {"analysed": self.analysed, "reused": self.reused, "locked": self.locked, "unlocked": self.unlocked,
                "failed": [{"path": p, "reason": r} for p, r in self.failed]}


def analyze_track(library: Library, track: Track | int | str, **settings: object) -> Analysis:
    """Analyse one library track (reusing a stored result) and store it; no correction applied.

    ``settings`` as for :func:`analyze_library` (none: the track's stored settings).

    Parameters
    ----------
    library : Library
    track : Track, int or str
        The track, or its id, content hash or path.
    **settings
        ``bpm_prior``, ``key_profile``, ``energy_hop_s``.

    Returns
    -------
    Analysis
        As analysed, without the track's correction.

    Raises
    ------
    TrackNotFoundError
        If ``track`` names no track.
    AudioError
        If the track cannot be decoded or analysed.
    """
    t = track if isinstance(track, Track) else library.track(track)
    summary = analyze_library(library, tracks=[t], progress=False, **settings)  # type: ignore[arg-type]
    if summary.failed:
        raise AudioError(f"{t.path}: {summary.failed[0][1]}", path=t.path)
    result = stored_analysis(library, t, **settings)  # type: ignore[arg-type]
    if result is None:  # pragma: no cover - stored just above
        raise AudioError(f"{t.path}: analysis was not stored", path=t.path)
    return result


def track_analysis(library: Library, track: Track | int | str, *, compute: bool = True) -> Analysis | None:
    """The analysis every consumer sees: stored under the track's settings, with its correction on top.

    Parameters
    ----------
    library : Library
    track : Track, int or str
        The track: id, content hash, path or :class:`Track`.
    compute : bool
        Analyse and store the track when it has no stored analysis under its settings yet;
        when ``False``, return ``None`` instead.

    Raises
    ------
    AudioError
        ``compute`` and the track cannot be decoded or analysed.
    """
    t = track if isinstance(track, Track) else library.track(track)
    a = stored_analysis(library, t)
    if a is None:
        if not compute:
            return None
        a = analyze_track(library, t)
    c = get_correction(library, t)
    return a if c is None else c.apply(a)


def analyze_library(
    library: Library,
    *,
    tracks: list[Track] | None = None,
    bpm_prior: BpmPrior | None | _Effective = EFFECTIVE,
    key_profile: str | _Effective = EFFECTIVE,
    energy_hop_s: float | _Effective = EFFECTIVE,
    force: bool = False,
    progress: bool = True,
) -> AnalysisSummary:
    """Analyse every track (or ``tracks``) and store the results in the library.

    With no settings given, each track is analysed with its stored settings
    (:func:`~workbench.analysis.settings.effective_settings`); settings given apply to every
    track (unset ones at their defaults) and are not stored. A track already analysed with the
    same file contents and settings is skipped unless ``force``. A re-analysis (``force``, or
    new settings for a track analysed before) never overwrites a locked correction (reported in
    ``summary.locked``); it drops an unlocked one (``summary.unlocked``).
    A track that cannot be decoded or analysed is reported in the summary and the batch goes
    on. Each result is committed as soon as it is computed, so an interrupted run resumes
    where it stopped.

    Parameters
    ----------
    library : Library
    tracks : list of Track or None
        The tracks to analyse; None means every track.
    bpm_prior : BpmPrior or None
        Tempo prior for every track (None: ``BpmPrior()``); not given: each track's stored setting.
    key_profile : {"krumhansl", "temperley"}
        Key profile for every track; not given: each track's stored setting.
    energy_hop_s : float > 0
        Seconds per energy-curve value for every track; not given: each track's stored setting.
    force : bool
        Analyse again even when a result for the same contents and settings is stored.
    progress : bool
        Show a progress bar.

    Returns
    -------
    AnalysisSummary
        Counts, failed tracks with their reasons, and the corrections kept or dropped.

    Raises
    ------
    ParameterError
        If ``library`` is not a :class:`Library`.
    """
    from tqdm.auto import tqdm

    if not isinstance(library, Library):
        raise ParameterError(f"library must be a workbench Library; got {type(library).__name__}")
    explicit = _explicit(bpm_prior, key_profile, energy_hop_s)
    stored = None if explicit is not None else list_analysis_settings(library)
    todo = library.tracks() if tracks is None else list(tracks)
    summary = AnalysisSummary()
    for t in tqdm(todo, desc="analyse", unit="track", disable=not progress):
        s = explicit or effective_settings(library, t, stored=stored)
        if not force and stored_analysis(library, t, **s.kwargs()) is not None:
            summary.reused.append(t.id)
            continue
        try:
            y, sr = audio.load(t.path, mono=False, min_duration_s=MIN_DURATION_S)
            result = analyze(y, sr=sr, **s.kwargs())
        except ParameterError:  # the settings are wrong: every track would fail the same way
            raise
        except Exception as exc:  # one bad track never stops the batch (decoder, pyloudnorm, librosa, OS)
            summary.failed.append((t.path, failure_reason(exc)))
            continue
        # a re-analysis (forced, or under new settings) keeps a locked correction and drops an unlocked one
        again = force or library.conn.execute("SELECT 1 FROM analyses WHERE track_id = ? AND kind = ?",
                                              (t.id, KIND)).fetchone() is not None
        correction = get_correction(library, t) if again else None
        with transaction(library.conn):
            library.conn.execute(
                "INSERT INTO analyses (track_id, kind, settings_hash, content_hash, result_json, created_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (track_id, kind, settings_hash) DO UPDATE SET "
                "content_hash = excluded.content_hash, result_json = excluded.result_json, "
                "created_at = excluded.created_at",
                (t.id, KIND, _settings_hash(settings_key(**s.kwargs())), t.content_hash, result.to_json(), utc_now()),
            )
            if correction is not None and not correction.locked:
                library.conn.execute("DELETE FROM track_corrections WHERE track_id = ?", (t.id,))
        if correction is not None:
            (summary.locked if correction.locked else summary.unlocked).append(t.id)
        summary.analysed.append(t.id)
    return summary
