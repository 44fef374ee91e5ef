"""Analyse every track of a library, storing results; recomputed only when file or settings change."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from workbench import audio
from workbench.analysis.beats import BpmPrior
from workbench.analysis.core import MIN_DURATION_S, Analysis, analyze, settings_key
from workbench.analysis.energy import DEFAULT_HOP_S
from workbench.analysis.key import DEFAULT_PROFILE
from workbench.errors import AudioError, ParameterError, failure_reason
from workbench.library import Library, Track
from workbench.store import transaction, utc_now

KIND = "track"


@dataclass
class AnalysisSummary:
    """What :func:`analyze_library` did: ids analysed now, ids reused, and failures by path."""

    analysed: list[int] = field(default_factory=list)
    reused: list[int] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"analysis: {len(self.analysed)} analysed, {len(self.reused)} reused, {len(self.failed)} failed"]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def _settings_hash(settings: str) -> str:
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


def stored_analysis(
    library: Library,
    track: Track,
    *,
    bpm_prior: BpmPrior | None = None,
    key_profile: str = DEFAULT_PROFILE,
    energy_hop_s: float = DEFAULT_HOP_S,
) -> Analysis | None:
    """The stored analysis of a track for these settings, or ``None`` when there is none yet."""
    h = _settings_hash(settings_key(bpm_prior=bpm_prior, key_profile=key_profile, energy_hop_s=energy_hop_s))
    row = library.conn.execute(
        "SELECT result_json FROM analyses WHERE track_id = ? AND kind = ? AND settings_hash = ? AND content_hash = ?",
        (track.id, KIND, h, track.content_hash),
    ).fetchone()
    return None if row is None else Analysis.from_json(row[0])


def analyze_track(library: Library, track: Track | int | str, **settings: object) -> Analysis:
    """Analyse one library track (reusing a stored result) and store it."""
    t = track if isinstance(track, Track) else library.track(track)
    summary = analyze_library(library, tracks=[t], progress=False, **settings)  # type: ignore[arg-type]
    if summary.failed:
        raise AudioError(f"{t.path}: {summary.failed[0][1]}", path=t.path)
    result = stored_analysis(library, t, **settings)  # type: ignore[arg-type]
    if result is None:  # pragma: no cover - stored just above
        raise AudioError(f"{t.path}: analysis was not stored", path=t.path)
    return result


def analyze_library(
    library: Library,
    *,
    tracks: list[Track] | None = None,
    bpm_prior: BpmPrior | None = None,
    key_profile: str = DEFAULT_PROFILE,
    energy_hop_s: float = DEFAULT_HOP_S,
    force: bool = False,
    progress: bool = True,
) -> AnalysisSummary:
    """Analyse every track (or ``tracks``) and store the results in the library.

    A track already analysed with the same file contents and settings is skipped unless
    ``force``. A track that cannot be decoded or analysed is reported in the summary and the
    batch goes on. Each result is committed as soon as it is computed, so an interrupted run
    resumes where it stopped.
    """
    from tqdm.auto import tqdm

    if not isinstance(library, Library):
        raise ParameterError(f"library must be a workbench Library; got {type(library).__name__}")
    settings = settings_key(bpm_prior=bpm_prior, key_profile=key_profile, energy_hop_s=energy_hop_s)
    h = _settings_hash(settings)
    todo = library.tracks() if tracks is None else list(tracks)
    summary = AnalysisSummary()
    for t in tqdm(todo, desc="analyse", unit="track", disable=not progress):
        if not force and stored_analysis(library, t, bpm_prior=bpm_prior, key_profile=key_profile,
                                         energy_hop_s=energy_hop_s) is not None:
            summary.reused.append(t.id)
            continue
        try:
            y, sr = audio.load(t.path, mono=False, min_duration_s=MIN_DURATION_S)
            result = analyze(y, sr=sr, bpm_prior=bpm_prior, key_profile=key_profile, energy_hop_s=energy_hop_s)
        except ParameterError:  # the settings are wrong: every track would fail the same way
            raise
        except Exception as exc:  # one bad track never stops the batch (decoder, pyloudnorm, librosa, OS)
            summary.failed.append((t.path, failure_reason(exc)))
            continue
        with transaction(library.conn):
            library.conn.execute(
                "INSERT INTO analyses (track_id, kind, settings_hash, content_hash, result_json, created_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (track_id, kind, settings_hash) DO UPDATE SET "
                "content_hash = excluded.content_hash, result_json = excluded.result_json, "
                "created_at = excluded.created_at",
                (t.id, KIND, h, t.content_hash, result.to_json(), utc_now()),
            )
        summary.analysed.append(t.id)
    return summary
