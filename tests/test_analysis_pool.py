"""A library analysed on several processes stores what one process stores, and survives bad files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from workbench.analysis import analyze_library, stored_analysis
from workbench.analysis import pool as analysis_pool
from workbench.analysis.core import Analysis
from workbench.errors import ParameterError
from workbench.library import Library

SR = 22050
_REAL_ON_WORKER = analysis_pool._on_worker


def clip(bpm: float, *, seed: int, duration_s: float = 4.0) -> np.ndarray:
    """A seeded 4 s loop: a decaying 55 Hz kick on every beat, hats between, a quiet A minor chord."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * SR)
    t = np.arange(n) / SR
    y = 0.05 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    period = int(SR * 60 / bpm)
    kick = np.sin(2 * np.pi * 55 * np.arange(2000) / SR) * np.exp(-np.arange(2000) / 400)
    hat = rng.standard_normal(600) * np.exp(-np.arange(600) / 80) * 0.2
    for start in range(0, n - 2000, period):
        y[start:start + 2000] += 0.8 * kick
        off = start + period // 2
        y[off:off + 600] += hat[: max(0, min(600, n - off))]
    return (y + 0.002 * rng.standard_normal(n)).astype(np.float32)


@pytest.fixture
def music(tmp_path):
    """Four seeded clips and ``corrupt.wav``, a clip that :func:`scanned` damages after the scan."""
    folder = tmp_path / "music"
    folder.mkdir()
    for i, bpm in enumerate((120.0, 128.0, 140.0, 100.0, 90.0)):
        sf.write(folder / (f"clip{i}.wav" if i < 4 else "corrupt.wav"), clip(bpm, seed=i), SR)
    return folder


def scanned(lib: Library, folder) -> None:
    """Scan ``folder``, then damage ``corrupt.wav`` on disk (the scan refuses a file already damaged)."""
    lib.scan(folder, progress=False)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage that no decoder reads" * 4)


def _stored(lib: Library) -> dict[str, str | None]:
    out = {}
    for t in lib.tracks():
        a = stored_analysis(lib, t)
        out[os.path.basename(t.path)] = None if a is None else a.to_json()
    return out


def test_two_workers_store_what_one_stores(music, tmp_path):
    with Library(tmp_path / "a" / "a.db") as one, Library(tmp_path / "b" / "b.db") as two:
        one.scan(music, progress=False)
        scanned(two, music)
        s1 = analyze_library(one, progress=False, workers=1)
        s2 = analyze_library(two, progress=False, workers=2)
        stored1, stored2 = _stored(one), _stored(two)
        # the corrupt file is reported, the rest stored, in track order whichever finished first
        assert [os.path.basename(p) for p, _ in s2.failed] == ["corrupt.wav"]
        assert s2.failed == s1.failed and "corrupt.wav" in s2.failed[0][0]
        assert len(s2.analysed) == 4 and s2.analysed == [t.id for t in two.tracks() if "clip" in t.path]
        assert stored2 == stored1 and stored2["corrupt.wav"] is None
        assert all(stored2[f"clip{i}.wav"] is not None for i in range(4))
        fields = json.loads(stored2["clip0.wav"])  # the v3 fields are stored and load back
        assert {"felt_bpm", "beat_confidence", "has_key", "tuning_cents"} <= fields.keys()
        assert Analysis.from_json(stored2["clip0.wav"]).has_key == fields["has_key"]
        again = analyze_library(two, progress=False, workers=2)  # nothing recomputed
        assert len(again.reused) == 4 and not again.analysed and len(again.failed) == 1


def _die_on_marked(job: analysis_pool.Job) -> analysis_pool.Outcome:
    """Runs in a worker (pickled by reference): the process dies on a file named ``crash*``."""
    if os.path.basename(job.path).startswith("crash"):
        os._exit(3)
    return _REAL_ON_WORKER(job)


def test_a_worker_that_dies_does_not_stop_the_run(music, tmp_path, monkeypatch):
    sf.write(music / "crash.wav", clip(110.0, seed=9), SR)
    monkeypatch.setattr(analysis_pool, "_on_worker", _die_on_marked)
    with Library(tmp_path / "c.db") as lib:
        scanned(lib, music)
        summary = analyze_library(lib, progress=False, workers=2)
        reasons = {os.path.basename(p): r for p, r in summary.failed}
        assert reasons.keys() == {"crash.wav", "corrupt.wav"}
        assert reasons["crash.wav"] == analysis_pool.CRASH_REASON
        assert len(summary.analysed) == 4  # every clip stored, including those in flight when the pool broke
        stored = _stored(lib)
        assert stored["crash.wav"] is None and all(stored[f"clip{i}.wav"] for i in range(4))


def test_workers_see_one_thread_and_numba_cpu_name(monkeypatch):
    monkeypatch.setenv("NUMBA_CPU_NAME", "generic")
    with analysis_pool.make_executor(1) as ex:
        assert ex.submit(os.getenv, "NUMBA_CPU_NAME").result() == "generic"
        assert ex.submit(os.getenv, "OMP_NUM_THREADS").result() == "1"


@pytest.mark.parametrize("workers", [0, -2, 1.5, "2", True])
def test_bad_workers(tmp_path, workers):
    with Library(tmp_path / "w.db") as lib:
        with pytest.raises(ParameterError, match=rf"workers must be an int >= 1 .*; got {workers!r}"):
            analyze_library(lib, progress=False, workers=workers)


@pytest.mark.parametrize("scheduler", ["", "somewhere", 8786])
def test_bad_scheduler(tmp_path, scheduler):
    with Library(tmp_path / "w.db") as lib:
        with pytest.raises(ParameterError, match=rf"scheduler must be 'local' or a Dask scheduler address.*got {scheduler!r}"):
            analyze_library(lib, progress=False, scheduler=scheduler)


def test_parameter_error_from_a_worker_stops_the_run(music, tmp_path):
    with Library(tmp_path / "p.db") as lib:
        scanned(lib, music)
        with pytest.raises(ParameterError, match="energy_hop_s must be a float in"):
            analyze_library(lib, progress=False, workers=2, energy_hop_s=0.001)


def test_cli_workers_flag(music, tmp_path, capsys):
    from workbench.cli import main

    db = str(tmp_path / "cli.db")
    with Library(db) as lib:
        scanned(lib, music)
    assert main(["--db", db, "--quiet", "analyze", "--workers", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["summary"]["analysed"]) == 4 and len(out["summary"]["failed"]) == 1
    assert sum(r["key"] is not None for r in out["tracks"]) == 4  # stored and read back
    assert main(["--db", db, "analyze", "--workers", "0"]) == 1
    assert "--workers must be an integer >= 1" in capsys.readouterr().err


def test_cli_workers_zero_says_what_a_shell_user_can_type(tmp_path, capsys):
    """`analyze --workers 0` said "workers must be an int >= 1 (processes) or None (one per core)": None cannot be
    typed on the command line; the CLI names its flag, the value and how to ask for one per core."""
    from workbench.cli import main

    db = str(tmp_path / "cli.db")
    with Library(db):
        pass
    for value in ("0", "-3"):
        assert main(["--db", db, "analyze", "--workers", value]) == 1
        err = capsys.readouterr().err
        assert (f"--workers must be an integer >= 1 (processes; 1: in this process; leave --workers out for one per "
                f"core); got {value}") in err and "None" not in err, err


def test_local_dask_cluster_stores_what_the_pool_stores(music, tmp_path):
    pytest.importorskip("dask.distributed", reason="the 'distributed' extra is not installed")
    with Library(tmp_path / "a" / "a.db") as one, Library(tmp_path / "d" / "d.db") as dask:
        one.scan(music, progress=False)
        scanned(dask, music)
        s1 = analyze_library(one, progress=False, workers=1)
        sd = analyze_library(dask, progress=False, workers=2, scheduler="local")
        assert sd.failed == s1.failed and len(sd.analysed) == 4
        assert _stored(dask) == _stored(one)


def test_default_workers_stay_in_process_for_a_few_seconds_of_audio(music, tmp_path, monkeypatch):
    def no_pool(jobs, *, workers):
        raise AssertionError(f"a pool of {workers} was started for {len(jobs)} jobs")

    monkeypatch.setattr(analysis_pool, "run_pool", no_pool)
    monkeypatch.setattr(analysis_pool, "available_cores", lambda: 2)
    with Library(tmp_path / "s.db") as lib:
        lib.scan(music, progress=False)
        t = lib.tracks()[:2]
        assert len(analyze_library(lib, tracks=t, progress=False).analysed) == 2  # 8 s of audio: in-process
        monkeypatch.setattr(analysis_pool, "MIN_POOL_AUDIO_S", 1.0)
        with pytest.raises(AssertionError, match="a pool of 2 was started for 2 jobs"):
            analyze_library(lib, tracks=t, progress=False, force=True)


def _failing_initializer(env: dict[str, str]) -> None:
    """Runs in a worker (pickled by reference): no worker can start."""
    raise RuntimeError("this worker cannot start")


def test_workers_that_cannot_start_fall_back_to_this_process(music, tmp_path, monkeypatch):
    monkeypatch.setattr(analysis_pool, "_init_worker", _failing_initializer)
    with Library(tmp_path / "f.db") as lib:
        scanned(lib, music)
        with pytest.warns(RuntimeWarning, match="worker processes could not start here"):
            summary = analyze_library(lib, progress=False, workers=2)
        assert len(summary.analysed) == 4 and [os.path.basename(p) for p, _ in summary.failed] == ["corrupt.wav"]


def test_energy_from_the_shared_spectrogram_is_the_energy_of_its_own():
    from workbench.analysis.core import shared_spectrogram
    from workbench.analysis.energy import energy_curve

    y = clip(124.0, seed=5, duration_s=6.0)
    spec = shared_spectrogram(y)
    own, shared = energy_curve(y, sr=SR), energy_curve(y, sr=SR, spec=spec)
    np.testing.assert_array_equal(shared.curve, own.curve)
    assert (shared.onset_rate_hz, shared.centroid_hz) == (own.onset_rate_hz, own.centroid_hz)
    with pytest.raises(ParameterError, match=r"spec must be the magnitude STFT of y .* got shape \(1025, 10\)"):
        energy_curve(y, sr=SR, spec=spec[:, :10])


def test_a_result_stored_before_version_3_loads_with_the_defaults():
    old = {"duration_s": 4.0, "bpm": 120.0, "beats": [0.5, 1.0], "downbeats": [0.5], "tempo_stability": 0.9,
           "key": "A minor", "camelot": "8A", "key_confidence": 0.5, "energy": 5, "energy_curve": [0.5],
           "energy_hop_s": 0.5, "loudness_lufs": -14.0}
    a = Analysis.from_json(json.dumps(old))
    assert (a.felt_bpm, a.beat_confidence, a.has_key, a.tuning_cents) == (None, None, True, None)
    assert json.loads(a.to_json())["has_key"] is True


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
@pytest.mark.parametrize("kind", ["stereo", "mono", "gated", "silent", "six"])
def test_loudness_is_pyloudnorms(kind, sr):
    import warnings

    import pyloudnorm

    from workbench.analysis.loudness import integrated_lufs

    rng = np.random.default_rng(sr)
    n = int(7.3 * sr)
    y = {"stereo": 0.3 * rng.standard_normal((2, n)),
         "mono": 0.5 * np.sin(2 * np.pi * 997 * np.arange(n) / sr),
         "gated": 0.3 * rng.standard_normal(n) * np.repeat([1.0, 0.001, 0.03, 1.0, 0.0], n // 5 + 1)[:n],
         "silent": 1e-6 * rng.standard_normal((2, n)),
         "six": 0.2 * rng.standard_normal((6, n))}[kind].astype(np.float32)
    reference = y.mean(axis=0) if kind == "six" else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = pyloudnorm.Meter(sr).integrated_loudness(np.asarray(reference.T, dtype=np.float64))
    got = integrated_lufs(y, sr=sr)
    assert got == pytest.approx(want, abs=1e-4) if np.isfinite(want) else got == want == float("-inf")
    with pytest.raises(ValueError, match="Audio must have length greater than the block size"):
        integrated_lufs(y[..., : int(0.3 * sr)], sr=sr)
