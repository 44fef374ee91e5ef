"""Tempo, beats and key side by side: workbench vs essentia vs librosa, on music the analysis was not tuned on.

Run: ``NUMBA_CPU_NAME=generic .venv/bin/python benchmarks/bench_analysis_peers.py --per-style 3 --out peers.json``

Data: the development set (:mod:`workbench.devset`, written to a temp folder, or ``--devset DIR``),
its ``dev`` and ``held_out`` splits reported SEPARATELY (held-out tracks stay out of every tuning
decision), and ``../shared/data/real-audio`` per sub-folder (first ``--real-max-s`` seconds of
each file). Real files have tempo truth only where the manifest states it (:data:`REAL_TEMPO`);
elsewhere the table shows agreement with essentia.

Systems: ``workbench.analysis.analyze`` (default settings); essentia 2.1
``RhythmExtractor2013(method="multifeature")`` + ``KeyExtractor(profileType="edma")`` in its own
venv (``benchmarks/peers/essentia_analyze.py``; AGPL, a peer only, see benchmarks/README.md);
librosa's stock ``beat.beat_track`` + a chroma_cqt Krumhansl-Schmuckler key. Metrics
(:mod:`workbench.evaluate.analysis`): accuracy 1 (BPM within 2 %), accuracy 2 (also x2, x1/2, x3,
x1/3), beat and downbeat F-measure (mir_eval, 70 ms), key exact and MIREX weighted score, share
of tracks with no beat grid, analysis seconds per minute of audio (from decoded samples).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REAL = ROOT.parent / "shared" / "data" / "real-audio"
DEFAULT_ESSENTIA = os.environ.get("ESSENTIA_PYTHON", "/work/venvs/essentia/bin/python")
SYSTEMS = ("workbench", "essentia", "librosa")
#: Tempo truth the real-audio manifest states: the trumpet loop's title says 90 bpm; the tabla
#: loop is 16 beats in 10.67 s (90 BPM).
REAL_TEMPO: dict[str, float] = {"loops/sorohanro_-_solo-trumpet-06.hq.ogg": 90.0, "loops/loop_tabla.flac": 90.0}
PITCHES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_KS_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KS_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def librosa_stock(y_mono: np.ndarray, sr: int) -> dict[str, Any]:
    """librosa's stock beat tracker and a chroma_cqt Krumhansl key, at 22.05 kHz."""
    import librosa

    t0 = time.perf_counter()
    y = librosa.resample(y_mono, orig_sr=sr, target_sr=22050) if sr != 22050 else y_mono
    tempo, beats = librosa.beat.beat_track(y=y, sr=22050, units="time")
    chroma = librosa.feature.chroma_cqt(y=y, sr=22050).mean(axis=1)
    scores = [(np.corrcoef(np.roll(prof, tonic), chroma)[0, 1], f"{PITCHES[tonic]} {mode}")
              for mode, prof in (("major", _KS_MAJOR), ("minor", _KS_MINOR)) for tonic in range(12)]
    bpm = float(np.atleast_1d(tempo)[0])
    return {"bpm": bpm if bpm > 0 else None, "beats": [float(b) for b in beats], "downbeats": None,
            "key": max(scores)[1], "seconds": time.perf_counter() - t0}


def workbench_side(y: np.ndarray, sr: int) -> dict[str, Any]:
    """``workbench.analysis.analyze`` with default settings."""
    from workbench.analysis import analyze

    t0 = time.perf_counter()
    try:
        a = analyze(y, sr=sr)
    except Exception as exc:  # one bad file never stops the run
        return {"bpm": None, "beats": [], "downbeats": [], "key": None, "error": str(exc),
                "seconds": time.perf_counter() - t0}
    return {"bpm": a.bpm, "beats": list(a.beats), "downbeats": list(a.downbeats), "key": a.key,
            "seconds": time.perf_counter() - t0}


def _cache_key(path: str, max_s: float | None) -> str:
    """Cache key of one peer result: path, size, mtime and the analysed length."""
    st = Path(path).stat()
    return f"{path}|{st.st_size}|{st.st_mtime_ns}|{max_s}"


def essentia_side(paths: list[str], *, python: str, max_s: float | None,
                  cache: Path | None = None) -> dict[str, dict[str, Any]]:
    """Essentia's results per path, from its own venv; ``{}`` when that venv is absent.

    With ``cache``, results already in that JSON file (same path, size, mtime and ``max_s``)
    are reused and new ones added: essentia's answer does not change while ours is tuned.
    """
    stored: dict[str, Any] = json.loads(cache.read_text()) if cache is not None and cache.exists() else {}
    out = {p: stored[_cache_key(p, max_s)] for p in paths if _cache_key(p, max_s) in stored}
    todo = [p for p in paths if p not in out]
    if not todo or not Path(python).exists():
        return out
    out.update(_run_essentia(todo, python=python, max_s=max_s))
    if cache is not None:
        stored.update({_cache_key(p, max_s): out[p] for p in todo if p in out})
        cache.write_text(json.dumps(stored) + "\n")
    return out


def _run_essentia(paths: list[str], *, python: str, max_s: float | None) -> dict[str, dict[str, Any]]:
    """Run the essentia peer script in its venv on ``paths``."""
    cmd = [python, str(ROOT / "benchmarks" / "peers" / "essentia_analyze.py"), *paths]
    if max_s:
        cmd[2:2] = ["--max-s", str(max_s)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            out[d["path"]] = d
    if proc.returncode != 0:
        print(f"essentia exited {proc.returncode}: {proc.stderr.strip()[-300:]}", file=sys.stderr)
    return out


def run_files(items: list[dict[str, Any]], *, essentia_python: str, max_s: float | None, label: str,
              systems: tuple[str, ...] = SYSTEMS, cache: Path | None = None) -> None:
    """Fill ``item["est"][system]`` for every item (workbench and librosa here, essentia in its venv)."""
    from tqdm.auto import tqdm

    from workbench import audio

    ess = essentia_side([it["path"] for it in items], python=essentia_python, max_s=max_s,
                        cache=cache) if "essentia" in systems else {}
    warm = np.random.default_rng(0).normal(0, 0.1, (2, 10 * 44100)).astype(np.float32)
    workbench_side(warm, 44100), librosa_stock(warm.mean(axis=0), 44100)  # JIT and caches, not timed
    for it in tqdm(items, desc=label, unit="file"):
        try:
            y, sr = audio.load(it["path"], mono=False)
        except Exception as exc:  # one bad file never stops the run
            print(f"skipped {it['path']}: {exc}", file=sys.stderr)
            it["duration_s"], it["est"], it["error"] = 0.0, {}, str(exc)
            continue
        if max_s:
            y = y[..., : int(max_s * sr)]
        it["duration_s"] = y.shape[-1] / sr
        mono = audio.to_mono(y)
        it["est"] = {}
        if "workbench" in systems:
            it["est"]["workbench"] = workbench_side(y, sr)
        if "librosa" in systems:
            it["est"]["librosa"] = librosa_stock(mono, sr)
        e = ess.get(it["path"])
        if e is not None and "error" not in e:
            it["est"]["essentia"] = {**e, "downbeats": None}


def score_items(items: list[dict[str, Any]]) -> None:
    from workbench.evaluate.analysis import score_estimate

    for it in items:
        it["scores"] = {s: {**score_estimate(it["truth"], est), "duration_s": it["duration_s"]}
                        for s, est in it["est"].items()}
        if "essentia" in it["est"]:
            e = it["est"]["essentia"]
            ref = {"bpm": e["bpm"], "beats": e["beats"] if len(e["beats"]) > 1 and max(e["beats"]) > 6 else None,
                   "key": e["key"]}
            it["agree"] = {s: {**score_estimate(ref, est), "duration_s": it["duration_s"]}
                           for s, est in it["est"].items() if s != "essentia"}


def table(items: list[dict[str, Any]], group_key: str, *, what: str = "scores") -> tuple[str, dict[str, Any]]:
    """A markdown table, one row per group plus ``all``; each cell ``workbench / essentia / librosa``."""
    from workbench.evaluate.analysis import summarise

    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        groups[it[group_key]].append(it)
    groups["all"] = list(items)
    systems = SYSTEMS if what == "scores" else ("workbench", "librosa")
    cols = (("acc1", "BPM acc1"), ("acc2", "BPM acc2"), ("beat_f", "beat F"), ("down_f", "downbeat F"),
            ("key_exact", "key exact"), ("key_mirex", "key MIREX"), ("no_grid", "no grid"),
            ("seconds_per_min", "s / min"))
    head = f"| {group_key} | n | " + " | ".join(c[1] for c in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    data: dict[str, Any] = {}
    for name, rows in groups.items():
        summ = {s: summarise(it[what][s] for it in rows if s in it.get(what, {})) for s in systems}
        data[name] = summ
        cells = []
        for key, _ in cols:
            vals = [summ[s][key] for s in systems]
            cells.append(" / ".join("-" if v is None else f"{v:.2f}" for v in vals))
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines), data


def devset_items(folder: Path) -> list[dict[str, Any]]:
    from workbench.devset import load_devset

    return [{"path": t["audio_path"], "name": Path(t["audio_path"]).stem, "style": t["style"],
             "condition": t["condition"], "split": t["split"],
             "truth": {"bpm": t["bpm"], "beats": t["beats"], "downbeats": t["downbeats"], "key": t["key"]}}
            for t in load_devset(folder)]


def real_items(folder: Path) -> list[dict[str, Any]]:
    exts = {".ogg", ".opus", ".mp3", ".flac", ".wav"}
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.suffix.lower() in exts and not rel.startswith("_"):
            out.append({"path": str(p), "name": rel, "group": rel.split("/")[0],
                        "truth": {"bpm": REAL_TEMPO.get(rel), "beats": None, "downbeats": None, "key": None}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", default=None, help="an existing development set (default: write one to a temp dir)")
    parser.add_argument("--per-style", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--renderer", default="auto", choices=("auto", "fluidsynth", "numpy"))
    parser.add_argument("--real", default=str(DEFAULT_REAL), help="real-audio folder (sub-folder = group)")
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--real-max-s", type=float, default=60.0, help="analyse the first seconds of each real file")
    parser.add_argument("--essentia-python", default=DEFAULT_ESSENTIA)
    parser.add_argument("--out", default=None, help="write every per-file estimate, score and summary as JSON here")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="comma-separated systems to run (default: all three)")
    parser.add_argument("--essentia-cache", default=None,
                        help="JSON file of essentia results to reuse and extend (essentia does not change)")
    parser.add_argument("--split", default=None, choices=("dev", "held_out"),
                        help="run only this split of the development set (default: both, reported apart)")
    args = parser.parse_args()
    systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    if not systems or any(s not in SYSTEMS for s in systems):
        parser.error(f"--systems must name some of {', '.join(SYSTEMS)}; got {args.systems!r}")
    cache = Path(args.essentia_cache) if args.essentia_cache else None
    if not Path(args.essentia_python).exists():
        print(f"essentia is absent ({args.essentia_python} not found): its columns show '-'. Make its venv with the "
              "recipe in benchmarks/README.md.", file=sys.stderr)
    report: dict[str, Any] = {"systems": list(SYSTEMS), "cells": "workbench / essentia / librosa"}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="devset-") as tmp:
        folder = Path(args.devset) if args.devset else Path(tmp)
        if not args.devset:
            from workbench.devset import write_set

            t0 = time.perf_counter()
            write_set(folder, per_style=args.per_style, seed=args.seed, renderer=args.renderer)
            report["devset_write_s"] = time.perf_counter() - t0
        items = [it for it in devset_items(folder) if args.split is None or it["split"] == args.split]
        run_files(items, essentia_python=args.essentia_python, max_s=None, label="devset", systems=systems,
                  cache=cache)
    score_items(items)
    print("Cells: workbench / essentia / librosa (downbeat F: only the workbench reports downbeats).\n")
    for split in ("dev", "held_out"):
        part = [it for it in items if it["split"] == split]
        if not part:
            continue
        text, report[f"devset_{split}_by_style"] = table(part, "style")
        print(f"## devset, split {split} ({len(part)} tracks), by style\n\n{text}\n")
    dev = [it for it in items if it["split"] == "dev"]
    text, report["devset_dev_by_condition"] = table(dev, "condition")
    print(f"## devset, split dev, by condition\n\n{text}\n")
    real = [] if args.no_real or not Path(args.real).is_dir() else real_items(Path(args.real))
    if real:
        run_files(real, essentia_python=args.essentia_python, max_s=args.real_max_s, label="real audio",
                  systems=systems, cache=cache)
        score_items(real)
        text, report["real_by_group"] = table(real, "group")
        print(f"## real audio (first {args.real_max_s:.0f} s), by group; tempo truth only for "
              f"{', '.join(REAL_TEMPO)}\n\n{text}\n")
        agreeing = [it for it in real if "agree" in it]
        if agreeing:
            text, report["real_agreement_with_essentia"] = table(agreeing, "group", what="agree")
            print("## real audio: agreement with essentia (essentia as reference; cells workbench / librosa)\n\n"
                  f"{text}\n")
    elif not args.no_real:
        print(f"real audio absent ({args.real}); skipped\n")
    report["total_s"] = time.perf_counter() - t_start
    print(f"total {report['total_s']:.0f} s")
    if args.out:
        report["files"] = [{k: v for k, v in it.items()} for it in items + real]
        Path(args.out).write_text(json.dumps(report, indent=1, default=float) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
