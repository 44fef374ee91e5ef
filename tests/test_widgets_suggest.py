"""The labeler's suggester: the active section model's suggestions, else the novelty fallback, each named by its model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.errors import ParameterError, StoreError
from workbench.labels import Labels
from workbench.library import Library
from workbench.widgets.suggest import FALLBACK_MODEL, Suggester, active_section_run, active_suggester


@pytest.fixture
def small(tmp_path) -> Library:
    """Two 40-s tracks with changes in them (a quiet half, a loud half), analysed for real."""
    import soundfile as sf

    from workbench.analysis import track_analysis

    sr = 22050
    rng = np.random.default_rng(0)
    (tmp_path / "audio").mkdir()
    for i in range(2):
        t = np.arange(int(40 * sr)) / sr
        clicks = (np.sin(2 * np.pi * 2 * t) > 0.995).astype(float)     # a click every 0.5 s (120 BPM)
        body = np.where(t < 20, 0.05, 0.4) * rng.standard_normal(t.size) * (1 + i)
        sf.write(str(tmp_path / "audio" / f"t{i}.wav"), 0.5 * clicks + 0.2 * body, sr)
    lib = Library(tmp_path / "data" / "w.db")
    lib.scan(tmp_path / "audio", progress=False)
    for tr in lib.tracks():
        track_analysis(lib, tr)
    return lib


def test_without_a_model_the_fallback_is_novelty_named_as_such(small):
    sg = active_suggester(small)
    assert isinstance(sg, Suggester) and sg.fallback and (sg.model_name, sg.model_version) == FALLBACK_MODEL
    assert "no active section model" in sg.said and active_section_run(small) is None
    t = small.tracks()[0]
    found = sg(t)
    assert found and all(s.uncertain and s.confidence == 0.0 and s.track_id == t.id for s in found)
    assert {(s.model_name, s.model_version) for s in found} == {FALLBACK_MODEL}
    labels = Labels(small, suggest=sg)
    assert labels.suggestions(t) == found
    labels.reject(found[0])
    assert labels.suggestions(t) == found[1:]
    assert labels.rejections()[0].model_name == "novelty"


def test_active_suggester_refuses_bad_input(small, tmp_path):
    with pytest.raises(ParameterError, match="library must be a workbench Library; got str"):
        active_suggester("w.db")
    with pytest.raises(StoreError, match="no run folder with run.json"):
        active_suggester(small, run=tmp_path / "nope")


def test_the_active_demo_model_names_its_version(demo_home):
    from workbench import config

    root, _ = demo_home
    lib = Library(Path(root) / "data" / "workbench.db")
    ws = config.workspace(root)
    run, version, name = active_section_run(lib, workspace=ws)
    sg = active_suggester(lib, workspace=ws)
    assert not sg.fallback and (sg.model_name, sg.model_version) == ("dj_section", f"v{version}")
    assert sg.run_id == run.run_id and name in sg.said
    t = lib.tracks()[0]
    found = sg(t)
    assert found and {(s.model_name, s.model_version) for s in found} == {("dj_section", f"v{version}")}
    assert all(0.0 <= s.confidence <= 1.0 for s in found)
    labels = Labels(lib, suggest=sg)
    assert 0.0 <= labels.certainty(t) <= 1.0


def test_a_trained_run_not_exported_is_named_with_the_command_that_exports_it(small, tmp_path):
    """Session 22's QA on real music: after `workbench train sections` the labeler still said "no active section model:
    novelty boundaries, labels guessed (train one with `workbench train sections`)", while `workbench suggest` used
    that run: the labeler sent the user back to a step already done, not on to `workbench export RUN`."""
    from workbench.runs import write_run

    assert "(train one with `workbench train sections`)" in active_suggester(small).said  # no run yet: train one
    rid = "20261207-225913-sections-b67c5d"
    write_run(rid, info={"kind": "sections", "created_at": "2026-12-07T22:59:13"}, config_={}, data={}, history=[],
              metrics={}, extra=lambda p: (p / "model.pt").write_bytes(b""), root=tmp_path / "experiments")
    sg = active_suggester(small)
    assert sg.fallback and sg.said.startswith("no active section model: novelty boundaries"), sg.said
    assert "train one" not in sg.said and f"`workbench export {rid}`" in sg.said, sg.said
