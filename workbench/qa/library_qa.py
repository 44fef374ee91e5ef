"""QA over a library: measure every track once, flag what needs review, keep what the user keeps.

Measures and fingerprints are stored in the ``analyses`` table (kind ``"qa"``, keyed by the
file's content hash), so a re-run measures only new or changed files; flags are evaluated when
read, from the stored measures and the track's analysis (no beat, tempo stability, key
confidence), so thresholds can change without decoding again. A track the user keeps
(:func:`keep_track`, stored in ``qa_keep``) stays in training sets and leaves ``needs_review``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from workbench.analysis.stored import read_result, write_result
from workbench.errors import ParameterError, failure_reason
from workbench.library import Library, Track
from workbench.qa.fingerprint import bit_error_rate, fingerprint, from_hex, to_hex
from workbench.qa.flags import DUPLICATE_BER, RULES, Flag, evaluate_flags
from workbench.store import transaction, utc_now

KIND = "qa"
#: Bump when a measure changes, so stored measures are recomputed.
QA_VERSION = 1
_SETTINGS_HASH = hashlib.sha256(f"qa-v{QA_VERSION}".encode()).hexdigest()[:16]
#: Durations (relative, absolute s) within which two tracks are compared as possible duplicates.
_DUP_REL, _DUP_ABS_S = 0.05, 5.0


@dataclass
class QaSummary:
    """What :func:`qa_library` did: ids measured now, reused, and failures by path."""

    measured: list[int] = field(default_factory=list)
    reused: list[int] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"measured": self.measured, "reused": self.reused,
                "failed": [{"path": p, "reason": r} for p, r in self.failed]}


@dataclass(frozen=True)
class TrackQa:
    """One track's QA: its flags, whether the user keeps it, whether it was measured and analysed."""

    track_id: int
    path: str
    flags: tuple[Flag, ...]
    kept: bool
    measured: bool
    analysed: bool

    @property
    def needs_review(self) -> bool:
        """Flagged and not kept by the user."""
        return bool(self.flags) and not self.kept

    @property
    def excluded(self) -> bool:
        """Left out of training sets: an excluding flag, not kept."""
        return not self.kept and any(f.excludes for f in self.flags)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"track_id": self.track_id, "path": self.path, "flags": [f.to_dict() for f in self.flags],
                "kept": self.kept, "measured": self.measured, "analysed": self.analysed,
                "needs_review": self.needs_review, "excluded_from_training": self.excluded}


def _stored(library: Library, track: Track) -> dict[str, Any] | None:
    text = read_result(library, track, kind=KIND, settings_hash=_SETTINGS_HASH)
    return None if text is None else json.loads(text)


def measure_track(path: str) -> dict[str, Any]:
    """Decode one file and return its stored QA record: measures and fingerprint.

    Parameters
    ----------
    path : str
        The audio file.

    Returns
    -------
    dict
        ``{"measures": AudioMeasures.to_dict(), "fingerprint": hex}``.

    Raises
    ------
    AudioError
        The file cannot be decoded.
    """
    from workbench import audio
    from workbench.qa.measures import measure_audio

    y, sr = audio.load(path, mono=False)
    m = measure_audio(y, sr=sr)
    mono = y.mean(axis=0) if y.ndim == 2 else y
    return {"measures": m.to_dict(), "fingerprint": to_hex(fingerprint(mono, sr=sr))}


def qa_library(library: Library, *, tracks: list[Track] | None = None, force: bool = False,
               progress: bool = True) -> QaSummary:
    """Measure every track (or ``tracks``) not measured yet, and store the results.

    One track that cannot be decoded is reported in the summary and the run goes on; each
    result is committed as soon as it is measured.

    Parameters
    ----------
    library : Library
    tracks : list of Track or None
        None: every track of the library.
    force : bool
        Measure again even when a result for the same contents is stored.
    progress : bool
        Show a progress bar.

    Returns
    -------
    QaSummary
    """
    from tqdm.auto import tqdm

    if not isinstance(library, Library):
        raise ParameterError(f"library must be a workbench Library; got {type(library).__name__}")
    summary = QaSummary()
    for t in tqdm(library.tracks() if tracks is None else list(tracks), desc="qa", unit="track",
                  disable=not progress):
        if not force and _stored(library, t) is not None:
            summary.reused.append(t.id)
            continue
        try:
            record = measure_track(t.path)
        except Exception as exc:  # one bad file never stops the run
            summary.failed.append((t.path, failure_reason(exc)))
            continue
        with transaction(library.conn):
            write_result(library, t, kind=KIND, settings_hash=_SETTINGS_HASH, result_json=json.dumps(record))
        summary.measured.append(t.id)
    return summary


def _duplicates(records: dict[int, dict[str, Any]]) -> dict[int, tuple[float, int]]:
    """Track id -> (bit error rate, other id) for every track that duplicates another."""
    import numpy as np

    items = sorted(((r["measures"]["duration_s"], tid, from_hex(r["fingerprint"])) for tid, r in records.items()),
                   key=lambda x: x[0])
    found: dict[int, tuple[float, int]] = {}
    for i, (d1, id1, fp1) in enumerate(items):
        for d2, id2, fp2 in items[i + 1:]:
            if d2 - d1 > max(_DUP_ABS_S, _DUP_REL * d1):
                break
            ber = bit_error_rate(fp1, fp2)
            if ber <= DUPLICATE_BER:
                for a, b in ((id1, id2), (id2, id1)):
                    if a not in found or ber < found[a][0]:
                        found[a] = (float(np.round(ber, 4)), b)
    return found


def qa_report(library: Library, *, tracks: list[Track] | None = None) -> list[TrackQa]:
    """Every track's flags, from stored measures and analyses (nothing is decoded here).

    A duplicate is flagged on both copies; only the copy added later is left out of training.

    Parameters
    ----------
    library : Library
    tracks : list of Track or None
        None: every track.

    Returns
    -------
    list of TrackQa
        In track id order.
    """
    from workbench.analysis import track_analysis

    todo = library.tracks() if tracks is None else list(tracks)
    records = {t.id: r for t in library.tracks() if (r := _stored(library, t)) is not None}
    dups = _duplicates(records)
    kept = {row[0] for row in library.conn.execute("SELECT track_id FROM qa_keep")}
    out = []
    for t in sorted(todo, key=lambda t: t.id):
        rec = records.get(t.id)
        try:
            a = track_analysis(library, t, compute=False)
        except Exception:  # an unreadable stored analysis is "not analysed" here
            a = None
        extra: dict[str, float | None] = {}
        if a is not None:
            # drums-only or atonal audio has no key (analysis says "no key"): no key to be unsure of
            extra = {"has_beat": float(a.has_beat), "key_confidence": a.key_confidence if a.has_key else None,
                     "tempo_stability": a.tempo_stability if a.has_beat else None}
        if t.id in dups:
            extra["duplicate_ber"] = dups[t.id][0]
        flags = evaluate_flags(rec["measures"] if rec else {}, extra=extra,
                               other=lambda name, tid=t.id: dups[tid][1] if name == "duplicate" else None)
        flags = [f if f.name != "duplicate" or t.id > (f.other_track_id or 0) else
                 Flag(f.name, f.value, f.threshold, f.unit, False, f.advice + " (this is the first copy: it stays)",
                      f.other_track_id) for f in flags]
        flags = [_sample_rate_said(f, t.sample_rate_hz) for f in flags]
        out.append(TrackQa(t.id, t.path, tuple(flags), t.id in kept, rec is not None, a is not None))
    return out


def _sample_rate_said(flag: Flag, sample_rate_hz: int) -> Flag:
    """A low-bandwidth flag of a file whose sample rate cannot hold the threshold says so, not "a transcode"."""
    if flag.name != "low_bandwidth" or sample_rate_hz / 2 > flag.threshold:
        return flag
    advice = (f"no content above this frequency: the file's {sample_rate_hz} Hz sample rate holds nothing above "
              f"{sample_rate_hz / 2:g} Hz: find a 44.1 kHz (or better) source")
    return Flag(flag.name, flag.value, flag.threshold, flag.unit, flag.excludes, advice, flag.other_track_id)


def keep_track(library: Library, track: Track | int | str, *, note: str | None = None) -> Track:
    """Keep a flagged track in training sets and out of ``needs_review``.

    Parameters
    ----------
    library : Library
    track : Track, int or str
        The track, or its id, content hash or path.
    note : str or None
        Why (stored with the decision).

    Returns
    -------
    Track
    """
    t = track if isinstance(track, Track) else library.track(track)
    with transaction(library.conn):
        library.conn.execute("INSERT INTO qa_keep (track_id, kept_at, note) VALUES (?,?,?) ON CONFLICT (track_id) "
                             "DO UPDATE SET kept_at = excluded.kept_at, note = excluded.note", (t.id, utc_now(), note))
    return t


def unkeep_track(library: Library, track: Track | int | str) -> bool:
    """Undo :func:`keep_track`; ``True`` when the track was kept.

    Parameters
    ----------
    library : Library
    track : Track, int or str

    Returns
    -------
    bool
    """
    t = track if isinstance(track, Track) else library.track(track)
    with transaction(library.conn):
        cur = library.conn.execute("DELETE FROM qa_keep WHERE track_id = ?", (t.id,))
    return cur.rowcount > 0


def excluded_track_ids(library: Library) -> set[int]:
    """Ids of tracks that training sets leave out: an excluding flag, not kept by the user.

    Tracks never measured are not excluded (run ``workbench qa`` to measure them).

    Parameters
    ----------
    library : Library

    Returns
    -------
    set of int
    """
    if library.conn.execute("SELECT 1 FROM analyses WHERE kind = ? LIMIT 1", (KIND,)).fetchone() is None:
        return set()
    return {r.track_id for r in qa_report(library) if r.excluded}


__all__ = ["KIND", "QA_VERSION", "RULES", "QaSummary", "TrackQa", "excluded_track_ids", "keep_track",
           "measure_track", "qa_library", "qa_report", "unkeep_track"]
