"""Analysis speed: CPU and wall seconds per minute of audio, 1 worker and every core, per stage, next to peers.

Run: ``NUMBA_CPU_NAME=generic nice -n 10 .venv/bin/python benchmarks/bench_analysis_speed.py [--out speed.json]``

Files: ``--n-dev`` (20) ``dev``-split tracks of the development set ``--devset`` (round-robin
over its styles) plus every file of ``../shared/data/real-audio``, or every audio file under
``--folder``. They are scanned into a temporary library (the dev tracks through symlinks) and
analysed with :func:`workbench.analysis.analyze_library` (``force=True``):

- **library, 1 worker**: decode + analyse + store in this process;
- **library, N workers**: the same on the process pool (every core by default), spawn included;
- **stages**: one in-process pass under cProfile (process time): decode (``audio.load``),
  resample, the shared STFT, beats, key, energy, loudness, the rest;
- **peers** on the same decoded samples: librosa's stock ``beat_track`` + chroma_cqt key
  (``librosa_stock`` of ``bench_analysis_peers.py``) and essentia (RhythmExtractor2013
  multifeature + KeyExtractor edma, in its own venv) when ``--essentia-python`` exists.

CPU seconds are process time (this process plus its waited-for children); wall seconds are
elapsed time. The machine may be shared: the load average is printed with the figures. Targets
(issue 16): <= 2 s of CPU per minute of audio, a library at < 0.3 s of wall time per minute on
the 2-core machine. To measure the code of another commit with this script, put that commit's
``workbench`` first on ``PYTHONPATH`` (an older ``analyze_library`` without ``workers`` runs the
1-worker row only).
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_analysis_peers import DEFAULT_ESSENTIA, DEFAULT_REAL, essentia_side, librosa_stock  # noqa: E402

DEFAULT_DEVSET = Path("/work/wt/devdata/set9")
#: Stage name -> (module file suffix, function name) whose cumulative process time is the stage's.
STAGES = {
    "decode": ("workbench/audio.py", "load"),
    "resample": ("workbench/audio.py", "resample"),
    "STFT (shared)": ("workbench/analysis/core.py", "shared_spectrogram"),
    "beats": ("workbench/analysis/beats.py", "track_beats"),
    "key": ("workbench/analysis/key.py", "estimate_key"),
    "energy": ("workbench/analysis/energy.py", "energy_curve"),
    "loudness": ("workbench/analysis/loudness.py", "integrated_lufs"),
}


def choose_files(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """Dev tracks to copy into the temporary library (round-robin over styles), and folders to scan."""
    if args.folder:
        return [], [Path(args.folder)]
    from workbench.devset import load_devset

    by_style: dict[str, list[Path]] = defaultdict(list)
    for t in load_devset(Path(args.devset)):
        if t["split"] == "dev":
            by_style[t["style"]].append(Path(t["audio_path"]))
    files: list[Path] = []
    while len(files) < args.n_dev and any(by_style.values()):
        for style in sorted(by_style):
            if by_style[style] and len(files) < args.n_dev:
                files.append(by_style[style].pop(0))
    real = Path(args.real)
    return files, ([real] if not args.no_real and real.is_dir() else [])


def cpu_s() -> float:
    """CPU seconds of this process and of its children that have been waited for."""
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


def warm_up(path: str) -> None:
    """Imports and numba's compilation, once, before the timed runs (workers pay theirs in the pool row)."""
    from workbench import audio
    from workbench.analysis import analyze

    y, sr = audio.load(path, mono=False)
    analyze(y[..., : 20 * sr], sr=sr)


def library_run(lib: Any, *, workers: int | None, minutes: float) -> dict[str, Any]:
    """One forced :func:`analyze_library` over the library: CPU and wall s per minute of audio."""
    from workbench.analysis import analyze_library

    kwargs: dict[str, Any] = {"force": True, "progress": False}
    if "workers" in inspect.signature(analyze_library).parameters:
        kwargs["workers"] = workers
    elif workers != 1:
        return {}
    c0, w0 = cpu_s(), time.perf_counter()
    summary = analyze_library(lib, **kwargs)
    cpu, wall = cpu_s() - c0, time.perf_counter() - w0
    return {"workers": workers, "cpu_s": cpu, "wall_s": wall, "cpu_s_per_min": cpu / minutes,
            "wall_s_per_min": wall / minutes, "analysed": len(summary.analysed), "failed": summary.failed}


def profiled_pass(paths: list[str]) -> tuple[dict[str, float], float, list[tuple[Any, int]]]:
    """Decode and analyse every file in this process under cProfile (process time).

    Returns the CPU seconds per stage, the total, and the decoded (mono, sr) of every file for the peers.
    """
    import numpy as np

    from workbench import audio
    from workbench.analysis import analyze
    from workbench.analysis.core import MIN_DURATION_S

    prof = cProfile.Profile(time.process_time)
    decoded = []
    t0 = time.process_time()
    for p in paths:
        prof.enable()
        try:
            y, sr = audio.load(p, mono=False, min_duration_s=MIN_DURATION_S)
            analyze(y, sr=sr)
        except Exception as exc:  # one bad file never stops the benchmark
            print(f"  {p}: {exc}", file=sys.stderr)
            prof.disable()
            continue
        prof.disable()
        decoded.append((np.asarray(audio.to_mono(y), dtype=np.float32), sr))
    total = time.process_time() - t0
    stats = prof.getstats()
    stages: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    for entry in stats:
        code = entry.code
        if isinstance(code, str):
            continue
        for stage, (suffix, name) in STAGES.items():
            if code.co_name == name and code.co_filename.endswith(suffix):
                stages[stage] += entry.totaltime
    return stages, total, decoded


def peers(decoded: list[tuple[Any, int]], paths: list[str], args: argparse.Namespace,
          minutes: float) -> dict[str, dict[str, float]]:
    """librosa's stock path and essentia on the same files: CPU and wall s per minute of audio."""
    out: dict[str, dict[str, float]] = {}
    if not args.no_librosa:
        cpu = wall = 0.0
        for y, sr in decoded:
            c0, w0 = time.process_time(), time.perf_counter()
            librosa_stock(y, sr)
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
        out["librosa beat_track + chroma_cqt key (from decoded samples)"] = {
            "cpu_s_per_min": cpu / minutes, "wall_s_per_min": wall / minutes}
    if Path(args.essentia_python).exists() and not args.no_essentia:
        c0, w0 = cpu_s(), time.perf_counter()
        res = essentia_side(paths, python=args.essentia_python, max_s=None, cache=None)
        cpu, wall = cpu_s() - c0, time.perf_counter() - w0
        analysis_s = sum(r.get("seconds", 0.0) for r in res.values())
        out["essentia RhythmExtractor2013 + KeyExtractor (from decoded samples)"] = {
            "cpu_s_per_min": None, "wall_s_per_min": analysis_s / minutes}  # type: ignore[dict-item]
        out["essentia subprocess (import + decode + analysis)"] = {
            "cpu_s_per_min": cpu / minutes, "wall_s_per_min": wall / minutes}
    elif not args.no_essentia:
        print(f"essentia absent ({args.essentia_python}); its rows are left out", file=sys.stderr)
    return out


def main() -> None:
    try:
        from workbench.analysis.pool import available_cores
    except ImportError:  # an older workbench on PYTHONPATH
        def available_cores() -> int:
            return len(os.sched_getaffinity(0))

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", default=str(DEFAULT_DEVSET))
    parser.add_argument("--n-dev", type=int, default=20, help="dev-split tracks of the development set")
    parser.add_argument("--real", default=str(DEFAULT_REAL))
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--folder", default=None, help="analyse every audio file under this folder instead")
    parser.add_argument("--workers", type=int, default=None, help="the pool row's workers (default: every core)")
    parser.add_argument("--essentia-python", default=DEFAULT_ESSENTIA)
    parser.add_argument("--no-essentia", action="store_true")
    parser.add_argument("--no-librosa", action="store_true")
    parser.add_argument("--out", default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    from workbench import audio
    from workbench.library import Library

    copies, folders = choose_files(args)
    load = {"start": os.getloadavg()}
    report: dict[str, Any] = {"cores": available_cores()}
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        music = Path(tmp) / "music"
        music.mkdir()
        for f in copies:  # a link out of the scanned folders is not followed: temporary copies
            shutil.copy(f, music / f.name)
        with Library(Path(tmp) / "lib.db") as lib:
            for folder in ([music] if copies else []) + folders:
                lib.scan(folder, progress=False)
            tracks = lib.tracks()
            paths = [t.path for t in tracks]
            if not paths:
                parser.error("no audio files found")
            report["files"] = len(paths)
            minutes = sum(audio.info(p).duration_s for p in paths) / 60
            report["minutes_of_audio"] = minutes
            print(f"{len(paths)} files, {minutes:.1f} min of audio, {report['cores']} cores; "
                  f"load average at start {load['start'][0]:.2f} {load['start'][1]:.2f} {load['start'][2]:.2f}")
            for p in paths:  # the page cache warm for every run alike
                Path(p).read_bytes()
            warm_up(paths[0])
            report["library_1_worker"] = library_run(lib, workers=1, minutes=minutes)
            report["library_n_workers"] = library_run(lib, workers=args.workers, minutes=minutes)
        stages, total, decoded = profiled_pass(paths)
        report["stages_cpu_s_per_min"] = {k: v / minutes for k, v in stages.items()}
        report["stages_cpu_s_per_min"]["rest"] = (total - sum(stages.values())) / minutes
        report["profiled_total_cpu_s_per_min"] = total / minutes
        report["peers"] = peers(decoded, paths, args, minutes)
    load["end"] = os.getloadavg()
    report["load_average"] = load

    print("\n| run | CPU s / min audio | wall s / min audio |\n|---|---|---|")
    for key, label in (("library_1_worker", "workbench analyze_library, 1 worker (decode+analyse+store)"),
                       ("library_n_workers", f"workbench analyze_library, {args.workers or report['cores']} "
                                             "workers (spawn included)")):
        r = report[key]
        if r:
            failed = f" ({len(r['failed'])} failed)" if r["failed"] else ""
            print(f"| {label}{failed} | {r['cpu_s_per_min']:.3f} | {r['wall_s_per_min']:.3f} |")
    for label, r in report["peers"].items():
        cpu = "-" if r["cpu_s_per_min"] is None else f"{r['cpu_s_per_min']:.3f}"
        print(f"| {label} | {cpu} | {r['wall_s_per_min']:.3f} |")
    print(f"\nStages, one in-process pass under cProfile (CPU s / min of audio; total {total / minutes:.3f}):\n")
    print("| stage | CPU s / min | share |\n|---|---|---|")
    for k, v in report["stages_cpu_s_per_min"].items():
        print(f"| {k} | {v:.3f} | {100 * v * minutes / total:.0f} % |")
    end = load["end"]
    print(f"\nload average at end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f} (other users share the machine)")
    print("targets (issue 16): CPU <= 2 s / min; library wall < 0.3 s / min on 2 cores")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1, default=str) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
