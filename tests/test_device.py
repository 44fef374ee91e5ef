"""Devices and precision: resolve_device, CPU features, OpenL3 on a device and in bf16 at parity with fp32,
and library runs in worker processes of one thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from workbench import device as devmod
from workbench.device import CpuFeatures, cpu_features, resolve_device, resolve_precision
from workbench.embed import openl3
from workbench.errors import ParameterError

REF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "openl3-ref"
WEIGHTS = REF / "openl3_audio_mel128_music.h5"
CASES = ("a_chirp44k", "b_egypt30s")


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devmod, "_mps_available", lambda: False)


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(devmod, "_mps_available", lambda: False)


@pytest.fixture(scope="module")
def ref():
    if not WEIGHTS.is_file():
        pytest.skip(f"OpenL3 reference data not present at {REF} (shared test data, absent on a user's machine)")
    return {case: np.load(REF / f"openl3ref_mel128_music_{case}.npz") for case in CASES}


def _cos(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


# -- resolve_device / resolve_precision ----------------------------------------------------------------

def test_resolve_device_without_a_gpu(no_gpu):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu") and resolve_device("auto") == torch.device("cpu")
    assert devmod.available_devices() == ("auto", "cpu")
    for name in ("cuda", "mps", "cuda:0"):
        with pytest.raises(ParameterError, match=rf"device '{name}' is not available here; available: auto, cpu$"):
            resolve_device(name)


def test_resolve_device_refuses_unknown_names(no_gpu):
    with pytest.raises(ParameterError, match=r"device must be one of auto, cpu, cuda, mps \(or cuda:<index>\); "
                                             r"got 'tpu'"):
        resolve_device("tpu")
    with pytest.raises(ParameterError, match=r"got 'cpu:1'"):
        resolve_device("cpu:1")
    with pytest.raises(ParameterError, match=r"device must be one of auto, cpu; got 3"):
        resolve_device(3)  # type: ignore[arg-type]


def test_auto_prefers_cuda_then_mps(fake_cuda, monkeypatch):
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("CUDA:0") == torch.device("cuda:0")
    with pytest.raises(ParameterError, match=r"device 'cuda:1' is not available here: 1 CUDA device\(s\)"):
        resolve_device("cuda:1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devmod, "_mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    assert devmod.available_devices() == ("auto", "cpu", "mps")


def _features(bf16: bool) -> CpuFeatures:
    return CpuFeatures(capability="AVX512", flags=frozenset({"avx512_bf16"} if bf16 else set()), bf16=bf16,
                       fp16=False, int8=False, cores=2, source="test")


def test_resolve_precision(monkeypatch):
    monkeypatch.setattr(devmod, "cpu_features", lambda: _features(True))
    assert resolve_precision("auto", "cpu") is torch.bfloat16
    monkeypatch.setattr(devmod, "cpu_features", lambda: _features(False))
    assert resolve_precision("auto", "cpu") is None  # emulated bf16 is slower than fp32: not chosen
    assert resolve_precision("fp32", "cpu") is None
    assert resolve_precision("bf16", "cpu") is torch.bfloat16  # asked for: used
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", torch.device("cuda")) is torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", "cuda") is torch.bfloat16
    assert resolve_precision("auto", "mps") is torch.float16
    assert devmod.precision_name(torch.bfloat16) == "bf16" and devmod.precision_name(None) == "fp32"
    with pytest.raises(ParameterError, match=r"precision must be one of auto, fp32, bf16, fp16; got 'int4'"):
        resolve_precision("int4", "cpu")
    with pytest.raises(ParameterError, match=r"precision 'fp16' runs on cuda or mps; .*got 'fp16'"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ParameterError, match=r"precision 'bf16' is not supported on mps; .*got 'bf16'"):
        resolve_precision("bf16", "mps")


def test_cpu_features_structure():
    f = cpu_features()
    assert isinstance(f, CpuFeatures) and cpu_features() is f  # read once per process
    d = f.as_dict()
    assert list(d) == ["capability", "flags", "bf16", "fp16", "int8", "cores", "source"]
    assert d["capability"] == str(torch.backends.cpu.get_cpu_capability())
    assert f.flags <= set(devmod._FLAGS_OF_INTEREST) and d["flags"] == sorted(f.flags)
    assert f.bf16 == bool(f.flags & {"avx512_bf16", "amx_bf16", "bf16"})
    assert f.cores >= 1 and f.source in ("/proc/cpuinfo", "sysctl", "none")
    if Path("/proc/cpuinfo").is_file():
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        tokens = {tok for line in lines if line.partition(":")[0].strip() in ("flags", "Features")
                  for tok in line.partition(":")[2].split()}
        assert f.source == "/proc/cpuinfo"
        assert f.bf16 == bool(tokens & {"avx512_bf16", "amx_bf16", "bf16"})


def test_flags_are_read_from_cpuinfo(monkeypatch, tmp_path):
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_int8\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda p, *a, **k: real_open(fake if p == "/proc/cpuinfo" else p, *a, **k))
    flags, source = devmod._read_flags()
    assert source == "/proc/cpuinfo" and flags == {"avx2", "avx512f", "avx512_bf16", "amx_int8"}


# -- OpenL3 on a device, in a precision -----------------------------------------------------------------

@pytest.fixture(scope="module")
def model512(ref):
    return openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512)


def test_embedding_on_cpu_equals_the_default(ref, model512):
    y = ref["b_egypt30s"]["audio_48k_mono"][: 48000 * 5]
    default, ts = openl3.embed(y, sr=48000, model=openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512), hop_s=0.5)
    model = openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512).run_on("cpu", precision="fp32")
    assert model.device == torch.device("cpu") and model.precision == "fp32" and model.parity is None
    on_cpu, ts2 = openl3.embed(y, sr=48000, model=model, hop_s=0.5)
    np.testing.assert_array_equal(on_cpu, default)
    np.testing.assert_array_equal(ts2, ts)
    with pytest.raises(ParameterError, match=r"device must be one of .*got 'gpu'"):
        model.run_on("gpu")


@pytest.mark.skipif(not cpu_features().bf16, reason="this CPU has no native bf16 (AVX-512 BF16, AMX or Arm BF16): "
                                                      "auto precision stays fp32 here")
@pytest.mark.parametrize("embedding_size", openl3.EMBEDDING_SIZES)
def test_bf16_keeps_parity_per_window_on_real_audio(ref, embedding_size):
    model = openl3.OpenL3.from_weights(WEIGHTS, embedding_size=embedding_size).run_on("cpu", precision="auto")
    assert model.precision == "bf16", model.parity  # auto chose bf16, and its probe kept it
    assert model.parity["kept"] and model.parity["min_cosine"] >= openl3.PARITY_MIN_COSINE
    fp32 = openl3.OpenL3.from_weights(WEIGHTS, embedding_size=embedding_size)
    for case in CASES:
        y = ref[case]["audio_48k_mono"]
        low, _ = openl3.embed(y, sr=48000, model=model, hop_s=0.5)
        ref32, _ = openl3.embed(y, sr=48000, model=fp32, hop_s=0.5)
        assert low.dtype == np.float32 and not np.array_equal(low, ref32)  # it really ran in another precision
        cos = _cos(low, ref32)
        assert cos.min() >= 0.9999, f"{case} {embedding_size}: min cosine {cos.min():.6f}"
        # and against the original TF openl3's own embeddings
        assert _cos(low, ref[case][f"embedding_{embedding_size}_hop0p5"]).min() >= 0.9999


def test_auto_precision_falls_back_to_fp32_without_parity(ref, monkeypatch):
    monkeypatch.setattr(devmod, "cpu_features", lambda: _features(True))
    monkeypatch.setattr(openl3, "PARITY_MIN_COSINE", 1.0 + 1e-6)  # no reduced precision can reach it
    monkeypatch.setattr(openl3, "_PARITY_SEEN", {})
    model = openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512).run_on("cpu", precision="auto")
    assert model.precision == "fp32" and model.autocast_dtype is None
    assert model.parity["precision"] == "bf16" and model.parity["kept"] is False
    assert 0.99 < model.parity["min_cosine"] < 1.0 + 1e-6


def test_auto_precision_falls_back_when_the_reduced_one_overflows(ref, monkeypatch):
    monkeypatch.setattr(devmod, "cpu_features", lambda: _features(True))
    monkeypatch.setattr(openl3.OpenL3, "parity_min_cosine", lambda self, w, dtype: float("nan"))  # fp16 inf/NaN
    monkeypatch.setattr(openl3, "_PARITY_SEEN", {})
    model = openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512).run_on("cpu", precision="auto")
    assert model.precision == "fp32" and model.parity["kept"] is False


def test_auto_precision_falls_back_when_the_reduced_kernel_fails(ref, monkeypatch):
    def raises(self, windows, dtype):  # as oneDNN's bf16 convolution does on an AVX2-only CPU
        raise RuntimeError("mkldnn_convolution: bf16 path needs the cpu support avx_ne_convert or avx512bw, "
                           "avx512vl and avx512dq")

    monkeypatch.setattr(devmod, "cpu_features", lambda: _features(True))
    monkeypatch.setattr(openl3.OpenL3, "parity_min_cosine", raises)
    monkeypatch.setattr(openl3, "_PARITY_SEEN", {})
    model = openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512).run_on("cpu", precision="auto")
    assert model.precision == "fp32" and model.autocast_dtype is None and model.parity["kept"] is False
    assert model.parity["error"].startswith("bf16 failed here: mkldnn_convolution: bf16 path needs")
    assert openl3._PARITY_SEEN == {}  # not remembered: a later run measures again


def test_bf16_asked_for_runs_on_any_cpu(ref):
    y = ref["b_egypt30s"]["audio_48k_mono"][: 48000 * 3]
    model = openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512).run_on("cpu", precision="bf16")
    assert model.precision == "bf16" and model.parity is None  # asked for: used, emulated where not native
    low, _ = openl3.embed(y, sr=48000, model=model, hop_s=0.5)
    ref32, _ = openl3.embed(y, sr=48000, model=openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512), hop_s=0.5)
    assert not np.array_equal(low, ref32) and _cos(low, ref32).min() >= 0.999


def test_the_models_precision_holds_under_an_outer_autocast(ref, model512):
    x = torch.from_numpy(openl3.probe_windows(2))
    with torch.inference_mode():
        plain = model512(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            inside = model512(x)
            bare = model512.network(model512.frontend(x))  # the bare modules do follow the outer autocast
    assert model512.precision == "fp32" and inside.dtype == torch.float32
    torch.testing.assert_close(inside, plain, rtol=0, atol=0)
    assert not torch.equal(bare.float(), plain)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU in this environment: CUDA parity not tested")
def test_cuda_matches_cpu(ref):
    y = ref["b_egypt30s"]["audio_48k_mono"]
    cpu_emb, _ = openl3.embed(y, sr=48000, model=openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512), hop_s=0.5)
    gpu = openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512).run_on("cuda", precision="fp32")
    assert gpu.device.type == "cuda"
    emb, _ = openl3.embed(y, sr=48000, model=gpu, hop_s=0.5)
    np.testing.assert_allclose(emb, cpu_emb, rtol=1e-3, atol=1e-3)
    assert _cos(emb, cpu_emb).min() >= 0.99999
    half = openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512).run_on("cuda", precision="auto")
    assert half.precision in ("bf16", "fp16") or not half.parity["kept"]
    emb_half, _ = openl3.embed(y, sr=48000, model=half, hop_s=0.5)
    assert _cos(emb_half, cpu_emb).min() >= 0.9999


@pytest.mark.skipif(not devmod._mps_available(), reason="no Apple MPS device in this environment: MPS parity not tested")
def test_mps_matches_cpu(ref):
    y = ref["b_egypt30s"]["audio_48k_mono"]
    cpu_emb, _ = openl3.embed(y, sr=48000, model=openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512), hop_s=0.5)
    emb, _ = openl3.embed(y, sr=48000, hop_s=0.5,
                          model=openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512).run_on("mps", precision="fp32"))
    assert _cos(emb, cpu_emb).min() >= 0.99999


# -- library runs: worker processes of one thread ------------------------------------------------------

def test_worker_pool_matches_in_process(ref, tmp_path):
    from workbench.embed.batch import cache_for, embed_library
    from workbench.embed.distributed import backbone_spec, embed_library_parallel
    from workbench.library import Library

    folder = tmp_path / "m"
    folder.mkdir()
    y = ref["b_egypt30s"]["audio_48k_mono"]
    for i in range(3):
        sf.write(folder / f"t{i}.wav", y[i * 48000 * 3 : (i + 1) * 48000 * 3], 48000, subtype="FLOAT")
    (folder / "broken.wav").write_bytes(b"RIFF....WAVEfmt not really")
    model = openl3.OpenL3.from_weights(WEIGHTS, embedding_size=512).run_on("cpu", precision="fp32")
    backbone = openl3.OpenL3Backbone(model, hop_s=1.0)
    assert backbone_spec(backbone)[-2:] == ("cpu", "fp32")
    with Library(tmp_path / "a.db") as lib_a, Library(tmp_path / "b" / "b.db") as lib_b:
        lib_a.scan(folder, progress=False)
        lib_b.scan(folder, progress=False)
        local = embed_library(lib_a, backbone=backbone, progress=False)
        pooled = embed_library_parallel(lib_b, backbone=backbone, workers=2, progress=False)
        assert len(pooled.embedded) == 3 and sorted(pooled.embedded) == sorted(local.embedded)
        assert sorted(p for p, _ in pooled.failed) == sorted(p for p, _ in local.failed)
        for t in lib_a.tracks():
            hit_a = cache_for(lib_a, backbone).get(t.content_hash)
            if hit_a is not None:
                hit_b = cache_for(lib_b, backbone).get(t.content_hash)
                np.testing.assert_allclose(hit_b[0], hit_a[0], rtol=1e-4, atol=1e-5)  # 1 thread vs several
        again = embed_library_parallel(lib_b, backbone=backbone, workers=2, progress=False)
        assert len(again.cached) == 3 and not again.embedded
        with pytest.raises(ParameterError, match=r"workers must be an int >= 1; got 0"):
            embed_library_parallel(lib_b, backbone=backbone, workers=0)


def test_default_workers(ref, model512, monkeypatch):
    from workbench.embed.distributed import default_workers

    assert default_workers(openl3.OpenL3Backbone(model512)) == cpu_features().cores
    assert default_workers(None) == cpu_features().cores
    monkeypatch.setattr(openl3.OpenL3, "device", property(lambda self: torch.device("cuda")))
    assert default_workers(openl3.OpenL3Backbone(model512)) == 1  # the GPU is the parallelism


def test_cli_refuses_a_bad_device_or_precision(tmp_path, capsys):
    from workbench.cli import main

    db = str(tmp_path / "w.db")
    assert main(["--db", db, "--quiet", "embed", "--device", "tpu"]) == 1
    assert "device must be one of auto, cpu, cuda, mps (or cuda:<index>); got 'tpu'" in capsys.readouterr().err
    assert main(["--db", db, "--quiet", "embed", "--precision", "fp16", "--device", "cpu"]) == 1
    assert "precision 'fp16' runs on cuda or mps" in capsys.readouterr().err
