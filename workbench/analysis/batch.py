"""Analyse every track of a library, storing results; recomputed only when file or settings change.

Every consumer reads a track's analysis through :func:`track_analysis`: the stored result
under the track's effective settings (:mod:`workbench.analysis.settings`: track > folder >
library > defaults), with the track's correction (:mod:`workbench.analysis.corrections`) on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.analysis.beats import BpmPrior
from workbench.analysis.core import Analysis, settings_key
from workbench.analysis.corrections import get_correction
from workbench.analysis.settings import AnalysisSettings, effective_settings, list_analysis_settings
from workbench.analysis.stored import (  # noqa: F401  (re-exported: the stored result, as analysed)
    EFFECTIVE,
    KIND,
    _Effective,
    _explicit,
    _settings_hash,
    stored_analysis,
    write_result,
)
from workbench.errors import AudioError, ParameterError
from workbench.library import Library, Track
from workbench.store import transaction
from workbench.wording import agree, count_of


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
            lines.append(f"  {count_of(len(self.locked), 'locked correction')} kept "
                         f"({agree(len(self.locked), 'track', 'tracks')} {', '.join(map(str, self.locked))}); "
                         "`workbench correct TRACK --unlock` to drop one")
        if self.unlocked:
            lines.append(f"  {count_of(len(self.unlocked), 'unlocked correction')} dropped "
                         f"({agree(len(self.unlocked), 'track', 'tracks')} {', '.join(map(str, self.unlocked))})")
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
    workers: int | None = None,
    scheduler: str | None = None,
) -> AnalysisSummary:
    """Analyse every track (or ``tracks``) and store the results in the library.

    With no settings given, each track is analysed with its stored settings
    (:func:`~workbench.analysis.settings.effective_settings`); settings given apply to every
    track (unset ones at their defaults) and are not stored. A track already analysed with the
    same file contents and settings is skipped unless ``force``. A re-analysis (``force``, or
    new settings for a track analysed before) never overwrites a locked correction (reported in
    ``summary.locked``); it drops an unlocked one (``summary.unlocked``).
    A track that cannot be decoded or analysed (or whose worker process dies) is reported in the
    summary and the batch goes on. Each result is committed as soon as it is computed, so an
    interrupted run resumes where it stopped.

    Tracks are decoded and analysed in ``workers`` processes (:mod:`workbench.analysis.pool`;
    one per core by default, in this process when only one is needed) or on a Dask cluster
    (``scheduler``); only this process writes the library, and the stored results are the same
    whichever runs them.

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
    workers : int >= 1 or None
        Processes analysing tracks; 1: in this process; None: one per core, or this process
        alone when there is less than :data:`~workbench.analysis.pool.MIN_POOL_AUDIO_S` of
        audio to analyse (starting the processes would cost more than they save).
    scheduler : str or None
        ``"local"`` (a local Dask cluster of ``workers`` processes) or a Dask scheduler's
        address (``"tcp://host:8786"``); None: a process pool on this machine.

    Returns
    -------
    AnalysisSummary
        Counts, failed tracks with their reasons, and the corrections kept or dropped.

    Raises
    ------
    ParameterError
        If ``library`` is not a :class:`Library`, ``workers`` is not None or an int >= 1,
        ``scheduler`` is not ``"local"`` or an address, or the settings are wrong.
    """
    from tqdm.auto import tqdm

    from workbench.analysis import pool

    if not isinstance(library, Library):
        raise ParameterError(f"library must be a workbench Library; got {type(library).__name__}")
    n_workers = pool.resolve_workers(workers)
    address = pool.check_scheduler(scheduler)
    explicit = _explicit(bpm_prior, key_profile, energy_hop_s)
    stored = None if explicit is not None else list_analysis_settings(library)
    todo = library.tracks() if tracks is None else list(tracks)
    summary = AnalysisSummary()
    jobs: list[pool.Job] = []
    chosen: dict[int, AnalysisSettings] = {}
    for i, t in enumerate(todo):
        s = explicit or effective_settings(library, t, stored=stored)
        if not force and stored_analysis(library, t, **s.kwargs()) is not None:
            summary.reused.append(t.id)
            continue
        chosen[i] = s
        jobs.append(pool.Job(key=i, path=t.path, settings=s.kwargs(), duration_s=t.duration_s or 0.0))
    if address is not None and jobs:
        outcomes = pool.run_dask(jobs, scheduler=address, workers=n_workers)
    elif n_workers > 1 and len(jobs) > 1 and (workers is not None
                                               or sum(j.duration_s for j in jobs) >= pool.MIN_POOL_AUDIO_S):
        outcomes = pool.run_pool(jobs, workers=n_workers)
    else:
        outcomes = pool.run_in_process(jobs)
    with tqdm(total=len(todo), initial=len(summary.reused), desc="analyse", unit="track",
              disable=not progress) as bar:
        try:
            for out in outcomes:
                t = todo[out.key]
                if out.parameter_error:  # the settings are wrong: every track would fail the same way
                    raise ParameterError(out.reason)
                if out.result_json is None:
                    summary.failed.append((t.path, out.reason or "unknown failure"))
                else:  # StoreError (read-only, disk full) stops the run: every track would fail
                    _store(library, t, chosen[out.key], out.result_json, force=force, summary=summary)
                bar.update(1)
        finally:
            outcomes.close()  # stops the workers now, on an error or an interrupt too
    order = {t.id: i for i, t in enumerate(todo)}  # the summary in track order, whichever finished first
    summary.analysed.sort(key=order.__getitem__)
    summary.locked.sort(key=order.__getitem__)
    summary.unlocked.sort(key=order.__getitem__)
    paths = {t.path: i for i, t in enumerate(todo)}
    summary.failed.sort(key=lambda f: paths.get(f[0], len(paths)))
    return summary


def _store(library: Library, t: Track, s: AnalysisSettings, result_json: str, *, force: bool,
           summary: AnalysisSummary) -> None:
    """Store one result (committed now), keeping a locked correction and dropping an unlocked one."""
    # a re-analysis (forced, or under new settings) keeps a locked correction and drops an unlocked one
    again = force or library.conn.execute("SELECT 1 FROM analyses WHERE track_id = ? AND kind = ?",
                                          (t.id, KIND)).fetchone() is not None
    correction = get_correction(library, t) if again else None
    with transaction(library.conn):
        write_result(library, t, kind=KIND, settings_hash=_settings_hash(settings_key(**s.kwargs())),
                     result_json=result_json)
        if correction is not None and not correction.locked:
            library.conn.execute("DELETE FROM track_corrections WHERE track_id = ?", (t.id,))
    if correction is not None:
        (summary.locked if correction.locked else summary.unlocked).append(t.id)
    summary.analysed.append(t.id)
