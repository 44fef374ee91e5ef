"""Session 18's review of what was merged: each test failed before its fix."""

from __future__ import annotations

import json

import pytest
from test_models_deactivate import _registry_cli
from test_registry import _metrics, _run, package  # noqa: F401  (package is a fixture)
from test_style import style_lib  # noqa: F401  (a fixture)


def test_export_text_says_why_a_no_activate_version_is_inactive_as_its_json_does(tmp_path, package, capsys,  # noqa: F811
                                                                                  monkeypatch):
    """``export --no-activate --json`` gave inactive_reason "... exported with --no-activate; `workbench models activate
    dj_section 1` makes it active", said to be "the sentence the text output prints"; the text printed none."""
    cli = _registry_cli(tmp_path, package, monkeypatch, [])
    first = _run(tmp_path, package, _metrics(0.6), rid="20250101-000000-sections-aaaaaa")
    assert cli("export", first, "--no-activate", "--json") == 0
    (v,) = json.loads(capsys.readouterr().out)["versions"]
    second = _run(tmp_path, package, _metrics(0.6), rid="20250101-000001-sections-aaaaaa")
    assert cli("export", second, "--no-activate") == 0
    text = capsys.readouterr().out
    assert "== dj_section_v2 (inactive)" in text
    assert v["inactive_reason"].replace("v1", "v2").replace("dj_section 1", "dj_section 2") in text.splitlines()


def test_every_gap_advice_says_both_ways_in_words():
    """Session 18 gave phase_correlation and four_on_floor their advice above the range ("phase_correlation 1, target
    0.198-0.905 (-1..1)" before); tempo_stability above and pumping_regularity below still fell back to that raw
    line ("tempo_stability 1, target 0.912-0.981 (0..1)")."""
    from workbench.style.features import FEATURES
    from workbench.style.gap import ADVICE, _advice

    raw = []
    for f in FEATURES:
        if f.name not in ADVICE:
            continue
        below, above = _advice(f.name, -1e6, 0.2, 0.8), _advice(f.name, 1e6, 0.2, 0.8)
        raw += [f"{f.name} {side}" for side, text in (("below", below), ("above", above)) if text.startswith(f.name)]
    assert raw == []
    assert _advice("tempo_stability", 1.0, 0.9123, 0.9812).startswith(
        "tempo steadier than the references (stability 1.00, target under 0.98)")
    assert _advice("pumping_regularity", 0.02, 0.08, 0.3).startswith(
        "the ducking is steadier than the references (spread 0.02, target 0.08+)")


@pytest.mark.parametrize("bad", [1.5, -0.1, "0.8"])
def test_train_sections_refuses_a_bad_uncertain_below_before_training(bad):
    """``--set uncertain_below=1.5`` trained the whole run, then stopped at its end (the rule in words refuses it) or at
    the first suggestion made: minutes of training lost to a typo."""
    from workbench.errors import ParameterError
    from workbench.train.sections import train_sections

    class NotRead:
        def section_counts(self):
            raise AssertionError("the data were read: the bad value was not refused first")

    with pytest.raises(ParameterError, match="config uncertain_below must be a number in \\[0, 1\\]; got"):
        train_sections(NotRead(), config={"uncertain_below": bad}, progress=False)


def test_a_model_file_with_an_unchecked_uncertain_below_still_suggests(tmp_path):
    """Before session 18 nothing checked ``uncertain_below``, so a model trained with ``--set uncertain_below=1.5``
    stored 1.5 (every suggestion uncertain). Each suggestion now carries and checks its threshold: that file's every
    suggestion raised LabelError (the labeler said "suggestions failed", ``workbench suggest`` exited 1)."""
    from test_sections import blobs

    from workbench.labels import Suggestion
    from workbench.train.sections import SectionTrainer, load_section_model, save_section_model
    from workbench.train.sections.features import WindowFeatures

    X, y, _ = blobs(n_per_class=20)
    trainer = SectionTrainer(epochs=2).fit(X, y)
    trainer.uncertain_below_ = 1.5  # as train_sections stored an unchecked config value
    path = tmp_path / "sections.pt"
    save_section_model(trainer, path, features=WindowFeatures(context_s=(2.0,)), backbone="features-v1")
    loaded, _, _ = load_section_model(path)
    assert loaded.uncertain_below_ == 1.0  # the same suggestions uncertain as under 1.5: a confidence is at most 1
    s = Suggestion(1, "drop", 0, 16, 0.0, 8.0, 0.99, uncertain=True, uncertain_below=loaded.uncertain_below_)
    assert s.uncertain_rule.startswith("uncertain: confidence under 100 %")


def test_export_json_says_why_an_already_exported_version_is_inactive(tmp_path, package, capsys,  # noqa: F811
                                                                     monkeypatch):
    """``export --json`` gave each new version an ``inactive_reason``; its ``already_exported`` entries had none."""
    cli = _registry_cli(tmp_path, package, monkeypatch, [])
    rid = _run(tmp_path, package, _metrics(0.6), rid="20250101-000000-sections-aaaaaa")
    assert cli("export", rid, "--json") == 0
    capsys.readouterr()

    def again():
        assert cli("export", rid, "--json") == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["versions"] == []
        (v,) = doc["already_exported"]
        return v

    assert again()["inactive_reason"] is None  # active: the key is there, as for a new version
    assert cli("models", "deactivate", "dj_section") == 0
    capsys.readouterr()
    v = again()
    assert not v["active"] and v["inactive_reason"] == (
        "dj_section_v1 is registered inactive: it was deactivated (`workbench models deactivate dj_section`); "
        "`workbench models activate dj_section 1` makes it active")
    other = _run(tmp_path, package, _metrics(0.6), rid="20250101-000001-sections-aaaaaa")
    assert cli("export", other, "--io", "fp16", "--activate") == 0
    capsys.readouterr()
    assert again()["inactive_reason"] == ("dj_section_v1 is registered inactive: dj_section_v2 is the active "
                                          "dj_section; `workbench models activate dj_section 1` makes it active")


def test_profile_with_too_few_tracks_for_clusters_does_not_advise_embedding(style_lib, capsys):  # noqa: F811
    """A profile of 2 reference tracks (``--min-tracks 2``) said "0 of 2 reference tracks have embeddings, 3 needed: run
    `workbench embed` for style clusters": embedding both still leaves 2, fewer than the clusters need."""
    from workbench.cli import main
    from workbench.crates import Crates

    lib, _ = style_lib
    Crates(lib).add("two_refs", [t.id for t in lib.tracks() if "ref_0" in t.path or "ref_1" in t.path])
    assert main(["--db", str(lib.path), "profile", "build", "r18two", "--crate", "two_refs", "--min-tracks", "2"]) == 0
    capsys.readouterr()
    assert main(["--db", str(lib.path), "profile", "show", "r18two"]) == 0
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("style clusters")]
    assert line == ("style clusters: none (2 reference tracks in all, 3 needed: build the profile from 3 or more "
                    "reference tracks for style clusters)"), line


@pytest.mark.parametrize("loss", ["supcon", "proxy_anchor", "triplet"])
def test_an_old_run_of_a_loss_without_a_miner_reads_its_batch_rows(tmp_path, loss):
    """SupCon and Proxy Anchor runs before session 18 recorded the batch rows as ``mined_triplets``; their reports drew
    a "mined_triplets" panel of a constant the sampler fixes. Read as ``batch_rows`` (no panel); the file is untouched."""
    from workbench.report.plots import curves_figure
    from workbench.runs import load_run, new_run_id, write_run

    history = [{"epoch": e, "train_loss": 1.0 / e, "mined_triplets": 64} for e in (1, 2, 3)]
    path = write_run(new_run_id("embeddings"), info={"kind": "embeddings"}, config_={"loss": loss}, data={},
                     history=history, metrics={}, root=tmp_path)
    run = load_run(path)
    titles = [ax.get_title() for ax in curves_figure({run.run_id: run.history}).axes if ax.get_title()]
    assert json.loads((path / "history.json").read_text()) == history  # read, not rewritten
    if loss == "triplet":  # mined triplets, counted by the miner: its panel stays
        assert run.history == history and any("mined" in t for t in titles), titles
    else:
        assert run.history == [{"epoch": e, "train_loss": 1.0 / e, "batch_rows": 64} for e in (1, 2, 3)]
        assert not any("mined" in t for t in titles), titles


def test_readme_documents_every_export_json_field(tmp_path, package, capsys, monkeypatch):  # noqa: F811
    """The README's "--json fields" table had no row for ``export --json``: each key it prints is named in that row."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (row,) = [ln for ln in readme.splitlines() if ln.startswith("| `export [RUN] --json` |")]
    named = set(re.findall(r"`([a-z_]+)`", row))
    cli = _registry_cli(tmp_path, package, monkeypatch, [])
    rid = _run(tmp_path, package, _metrics(0.6), rid="20250101-000000-sections-aaaaaa")
    keys = set()
    for _ in range(2):  # a new version, then the same run again: already exported
        assert cli("export", rid, "--json") == 0
        doc = json.loads(capsys.readouterr().out)
        keys |= set(doc)
        for v in doc["versions"]:
            keys |= set(v) | set(v["lint"])
        for v in doc["already_exported"]:
            keys |= set(v)
    models_list = re.search(r"^\| `models list .*$", readme, re.M).group(0)
    listed = set(re.findall(r"`([a-z_]+)`", models_list))  # "as `models list --json` has a version"
    assert keys - named - listed == set()
    assert {"run_id", "versions", "already_exported", "lint", "errors", "warnings", "inactive_reason"} <= named


def test_readme_says_an_older_section_model_keeps_its_threshold():
    """A section model trained before the 80 % threshold keeps its stored 0.6: the README says so in the rule's words."""
    from pathlib import Path

    from workbench.labels.uncertain import uncertain_rule

    text = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert f'0.6 ("{uncertain_rule(0.6)}"), until it is retrained' in text
