"""Session 21's second review of the QA fixes (branch h21/qa): what the review found, each test failing before."""

from __future__ import annotations

import json
import math
import sys
from types import SimpleNamespace

from conftest import bench_module

# -- runs compare: a default that may be the change itself is never hidden --------------------------------------

def _runs(root, configs):
    from workbench.runs import write_run

    ids = []
    for i, cfg in enumerate(configs):
        rid = f"2026120{i + 1}-000000-embeddings-00000{i}"
        write_run(rid, info={"kind": "embeddings", "created_at": f"2026-12-0{i + 1}T00:00:00+00:00", "seed": 0},
                  config_=cfg, data={}, history=[], metrics={"model": {"map_at_r": 0.5}}, root=root)
        ids.append(rid)
    return ids


def test_runs_compare_shows_a_key_newer_than_a_run_whose_default_changed_what_training_does(tmp_path):
    """`early_stopping="auto"` (session 20) and `blend="auto"` made training differ from a run made before them (that
    run early-stopped on validation, and had no blend): reading their absence as today's default hid a real
    difference. An "off" default (``pretrain_epochs`` 0) and a key acting only with an off one stay hidden."""
    from workbench.experiments import compare, runs_table
    from workbench.experiments_compare import config_defaults

    now = {k: v for k, v in config_defaults("embeddings").items() if k != "epochs"}
    old = {k: v for k, v in now.items() if k not in ("early_stopping", "blend", "pretrain_epochs", "pretrain_loss")}
    ids = _runs(tmp_path, (old, now))
    shown = list(compare(ids, root=tmp_path).params.index)
    assert "config.early_stopping" in shown and "config.blend" in shown, shown
    assert "config.pretrain_epochs" not in shown and "config.pretrain_loss" not in shown, shown
    table = runs_table(tmp_path, params="differing")
    assert "early_stopping" in table.columns and "pretrain_epochs" not in table.columns, list(table.columns)


def test_a_key_acting_only_with_another_reads_as_its_default_only_where_that_one_is_off(tmp_path):
    """``pretrain_loss`` missing from a run is no difference where the run had no first stage, and unknown where it
    had one (it set ``pretrain_epochs`` but predates the loss's key: which loss is not known)."""
    from workbench.experiments import compare
    from workbench.experiments_compare import config_defaults

    now = {k: v for k, v in config_defaults("embeddings").items() if k != "epochs"} | {"pretrain_epochs": 20}
    old = {k: v for k, v in now.items() if k != "pretrain_loss"}
    assert "config.pretrain_loss" in list(compare(_runs(tmp_path, (old, now)), root=tmp_path).params.index)


# -- similar FILE: the tempo cache is bounded --------------------------------------------------------------------

def test_the_outside_files_tempo_cache_keeps_at_most_its_size(tmp_path, monkeypatch):
    """The cache a search session keeps (one tempo per file and prior) grew with every file asked: a notebook asking
    about file after file held them all. It keeps the newest ``FILE_TEMPO_CACHE_SIZE``."""
    import workbench.analysis as analysis
    import workbench.analysis.settings as settings
    from workbench.analysis.tempo import BpmPrior
    from workbench.similarity import library_query

    folder_prior = BpmPrior(80.0, 100.0, 90.0)
    base = SimpleNamespace(bpm_prior=None, kwargs=lambda: {"bpm_prior": None, "key_profile": "k", "energy_hop_s": 0.5})
    monkeypatch.setattr(settings, "list_analysis_settings",
                        lambda lib: [SimpleNamespace(scope="folder", settings={"bpm_prior": {}})])
    monkeypatch.setattr(analysis, "effective_settings", lambda *a, **k: SimpleNamespace(bpm_prior=folder_prior))
    analysed = []
    monkeypatch.setattr(analysis, "analyze", lambda y, **k: analysed.append(1) or SimpleNamespace(bpm=90.0 + len(analysed)))
    monkeypatch.setattr(library_query, "FILE_TEMPO_CACHE_SIZE", 2, raising=False)
    library = SimpleNamespace(tracks=lambda: [SimpleNamespace(id=1)])
    cache: dict = {}
    for i in range(5):
        f = tmp_path / f"f{i}.wav"
        f.write_bytes(bytes([i]) * 10)
        bpm, _ = library_query.tempi_by_prior(library, [1], None, sr=22050, name=str(f), base=base, cache=cache)
        assert bpm == {1: 90.0 + i + 1}
    assert len(cache) == 2 and len(analysed) == 5
    library_query.tempi_by_prior(library, [1], None, sr=22050, name=str(tmp_path / "f4.wav"), base=base, cache=cache)
    assert len(analysed) == 5  # the newest is kept: not analysed again


# -- benches write strict JSON -------------------------------------------------------------------------------------

def test_the_section_benches_write_null_not_nan_and_the_targets_bench_reads_it(tmp_path, monkeypatch, capsys):
    """`bench_sections_fresh.py --json` wrote `"wall_s": NaN` (a figure not measured): jq and JSON.parse refuse the
    file. It writes null, and ``bench_sections_targets.py`` reads null as not measured."""
    selftrain = bench_module("bench_sections_selftrain")
    out_path = tmp_path / "fresh.json"
    row = {"accuracy": 0.9, "majority": 0.3, "f3": 0.9, "f3_novelty": 0.8, "f05": 0.7, "f05_novelty": 0.6,
           "intro_as_outro": 0.0, "outro_as_intro": 0.0, "ece_after": 0.02, "wall_s": float("nan"),
           "span_lo": float("inf")}
    selftrain.finish({"seed": 0, "pseudo": {}}, {"devset LOSO, dev": row}, t0=0.0, json_path=out_path)
    text = out_path.read_text()
    doc = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"not JSON: {c}")))
    assert doc["columns"]["devset LOSO, dev"]["wall_s"] is None and doc["columns"]["devset LOSO, dev"]["span_lo"] is None
    assert doc["columns"]["devset LOSO, dev"]["accuracy"] == 0.9 and math.isfinite(doc["columns"]["devset LOSO, dev"]["f3"])
    targets = bench_module("bench_sections_targets")
    monkeypatch.setattr(sys, "argv", ["bench", "--setting", "default", str(out_path), "--scored", "devset LOSO, dev"])
    targets.main()
    assert "default: " in capsys.readouterr().out


# -- profile compare: a short section's length ----------------------------------------------------------------------

def test_a_short_sections_length_is_said_to_the_hundredth_not_floored_below_it():
    """The QA fix floored the length so 7.996 s would not read "8.00 s long": it also made 16.8-24.76 s (7.96 s,
    7.9599... in binary) read "7.95 s long". Rounded, and floored only where rounding would reach 8 s."""
    import numpy as np

    from workbench.style.sections import section_features

    analysis = SimpleNamespace(beats=[], has_beat=False, energy_curve=[0.0], energy_hop_s=0.5)
    rows = section_features(np.zeros(100, np.float32), sr=22050, analysis=analysis,
                            sections=[("drop", 16.8, 24.76), ("break", 3.3, 11.29), ("outro", 0.0, 7.996)])
    assert [r["skipped"].split(" s long")[0] for r in rows] == ["7.96", "7.99", "7.99"], rows
