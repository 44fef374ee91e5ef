"""The main job on the embedded default: synthesize the demo library, scan, analyse, embed, search.

Each stage is timed; a stage whose output is already there is skipped, so a second run is
fast and an interrupted one resumes. Later stages (embeddings, training,
evaluation, export) join this list as their issues land.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from workbench import config
from workbench.errors import ContentChangedWarning, ParameterError
from workbench.fileio import atomic_write_bytes
from workbench.library import Library, ScanSummary

MANIFEST_NAME = "MANIFEST.json"


@dataclass
class DemoResult:
    """Where the demo put things and how long each stage took (seconds)."""

    demo_folder: Path
    db_path: Path
    n_tracks: int
    seed: int
    synthesized: bool
    scan: ScanSummary
    styles: dict[str, int]
    total_duration_s: float
    analysis: str = ""
    accuracy: dict[str, float] = field(default_factory=dict)
    example: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """A human-readable summary of the run."""
        c = self.scan.counts()
        lines = [
            "workbench demo: done",
            f"  demo library : {self.demo_folder}  ({self.n_tracks} tracks, seed {self.seed}, "
            f"{self.total_duration_s / 60:.1f} min of audio; "
            f"{'synthesized now' if self.synthesized else 'reused from an earlier run'})",
            "  styles       : " + ", ".join(f"{k} x{v}" for k, v in sorted(self.styles.items())),
            f"  database     : {self.db_path}",
            "  scan         : " + ", ".join(f"{n} {k}" for k, n in c.items()),
            f"  analysis     : {self.analysis.removeprefix('analysis: ')}",
            "  vs truth     : " + ", ".join(f"{k} {v:.0%}" for k, v in self.accuracy.items()),
            "  stages (s)   : " + ", ".join(f"{k} {v:.1f}" for k, v in self.stage_seconds.items()),
            *self.example,
        ]
        return "\n".join(lines)


def run_demo(
    *,
    demo_folder: str | os.PathLike[str] | None = None,
    db_path: str | os.PathLike[str] | None = None,
    n_tracks: int = 24,
    seed: int = 0,
    duration_s: float | None = None,
    progress: bool = True,
) -> DemoResult:
    """Synthesize the demo library (unless already there) and scan it into the library.

    Parameters
    ----------
    demo_folder : path-like or None
        Where the demo audio goes; default ``data/demo``.
    db_path : path-like or None
        The library database; default ``data/workbench.db``.
    n_tracks : int >= 1
        Number of demo tracks.
    seed : int
        Seed of the synthesis: the same seed gives the same bytes.
    duration_s : float or None
        Length of every demo track (30..1200 s); ``None`` for each arrangement's natural length.
    progress : bool
        Show progress bars.
    """
    from workbench.analysis import analyze_library
    from workbench.demo import synthesize_library
    from workbench.search import LibrarySearch

    if isinstance(n_tracks, bool) or not isinstance(n_tracks, int) or n_tracks < 1:
        raise ParameterError(f"n_tracks must be an int >= 1; got {n_tracks!r}")
    folder = config.demo_dir(demo_folder)
    stage_seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    manifest = folder / MANIFEST_NAME
    wanted = {"n_tracks": n_tracks, "seed": seed, "duration_s": duration_s, "synth": _synth_fingerprint()}
    synthesized = not _manifest_matches(manifest, wanted)
    if synthesized:
        records = synthesize_library(folder, n_tracks=n_tracks, seed=seed, duration_s=duration_s,
                                     progress=progress)
        entries = [{"audio": Path(r.audio_path).name, "truth": Path(r.truth_path).name, "style": r.style}
                   for r in records]
        atomic_write_bytes(manifest, json.dumps({**wanted, "tracks": entries}, indent=2).encode())
    stage_seconds["synthesize"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with Library(db_path) as lib:
        with warnings.catch_warnings():
            if synthesized:  # a re-made demo library is expected to have new contents
                warnings.simplefilter("ignore", ContentChangedWarning)
            scan = lib.scan(folder, progress=progress)
        db = lib.path
        demo_tracks = [t for t in lib.tracks() if Path(t.path).parent == folder]
        stage_seconds["scan"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        analysis = analyze_library(lib, tracks=demo_tracks, progress=progress)
        accuracy = _accuracy_vs_truth(lib, demo_tracks)
        stage_seconds["analyze"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        search = LibrarySearch(lib, progress=progress).update()
        seed_track = demo_tracks[0]
        example = [f"  similar to {seed_track.name} (backbone: {search.backbone_said}):"]
        example += [f"    {r.match.score:.2f}  {r.track.name:24}  {r.match.explanation}"
                    for r in search.similar(seed_track, k=3)]
        stage_seconds["embed+index"] = time.perf_counter() - t0

    entries = json.loads(manifest.read_text())["tracks"]
    styles = Counter(e["style"] for e in entries)
    return DemoResult(
        demo_folder=folder,
        db_path=db,
        n_tracks=n_tracks,
        seed=seed,
        synthesized=synthesized,
        scan=scan,
        styles=dict(styles),
        total_duration_s=sum(t.duration_s for t in demo_tracks),
        analysis=str(analysis).replace("\n", "\n  "),
        accuracy=accuracy,
        example=example,
        stage_seconds=stage_seconds,
    )


def _accuracy_vs_truth(lib: Library, tracks: list) -> dict[str, float]:
    """Share of demo tracks whose stored BPM (within 2 %) and Camelot key match the truth JSON."""
    from workbench.analysis import stored_analysis

    bpm_ok = key_ok = n = 0
    for t in tracks:
        truth_path = Path(t.path).with_suffix(".json")
        a = stored_analysis(lib, t)
        if a is None or not truth_path.is_file():
            continue
        truth = json.loads(truth_path.read_text())
        n += 1
        bpm_ok += a.bpm is not None and abs(a.bpm - truth["bpm"]) <= 0.02 * truth["bpm"]
        key_ok += a.camelot == truth["camelot"]
    return {"BPM within 2%": bpm_ok / n, "key exact": key_ok / n} if n else {}


def _synth_fingerprint() -> str:
    """A hash of the synthesizer's source: a changed synthesizer re-makes the demo library."""
    import hashlib

    import workbench.demo as demo_pkg

    h = hashlib.sha256()
    for path in sorted(Path(demo_pkg.__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _manifest_matches(manifest: Path, wanted: dict[str, object]) -> bool:
    """True when an earlier run finished synthesizing the same library and its files are there."""
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    if any(data.get(k) != v for k, v in wanted.items()):
        return False
    folder = manifest.parent
    return all((folder / e["audio"]).is_file() and (folder / e["truth"]).is_file() for e in data.get("tracks", []))
