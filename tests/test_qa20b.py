"""Session 20's second QA: the notebooks 02-06 in JupyterLab on a copy of the real music, and a
negative first weight of ``workbench similar --weights`` given as a separate word."""

from __future__ import annotations

import pytest

from workbench.cli import main


@pytest.mark.parametrize("given", [["--weights", "-1,1,1,1"], ["--weights=-1,1,1,1"], ["--weights", "-.5,1,1,1"]])
def test_similar_weights_with_a_negative_first_number_gets_the_options_own_message(tmp_path, capsys, given):
    """`similar 1 --weights -1,1,1,1` gave argparse's bare "argument --weights: expected one argument"
    (the value read as an option); `--weights=-1,1,1,1` gave the value and what is allowed."""
    assert main(["--home", str(tmp_path), "--quiet", "similar", "1", *given]) == 1
    err = capsys.readouterr().err
    assert "expected one argument" not in err, err
    assert "--weights: weights['vibe'] must be >= 0" in err and given[-1].split("=")[-1] in err, err


def test_an_option_that_is_not_a_value_is_still_refused_as_one(tmp_path, capsys):
    """A word that starts with a minus and is no number list stays an option (argparse's usage error)."""
    with pytest.raises(SystemExit) as exit_:
        main(["--home", str(tmp_path), "similar", "1", "--weights", "-x"])
    assert exit_.value.code == 2


def test_the_augmentation_preview_says_what_its_y_axis_and_colours_are():
    """Notebook 03's augmentation preview drew four spectrograms with no y ticks, no y label and no
    colour bar: nothing said that the height is frequency, in what unit, or what the colours measure."""
    import numpy as np

    from workbench.widgets.augment_preview import preview_figure

    sr = 22050
    t = np.arange(2 * sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    fig = preview_figure(y, [(y * 0.5, {"gain_db": -6.0})], sr=sr)
    spectrograms = [ax for ax in fig.axes if ax.get_images()]
    assert len(spectrograms) == 2
    for ax in spectrograms:
        assert ax.get_ylabel() == "Hz"
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels[:3] == ["100", "500", "1k"], labels
        band = int(np.argmax(ax.get_images()[0].get_array().mean(axis=1)))  # the sine's loudest band
        one_k = dict(zip(labels, ax.get_yticks(), strict=True))["1k"]
        assert abs(band + 0.5 - one_k) <= 1.0, (band, one_k)  # the 1 kHz tick sits on the 1 kHz tone
    colourbars = [ax for ax in fig.axes if ax.get_ylabel().startswith("power (dB")]
    assert len(colourbars) == 1
    limits = {ax.get_images()[0].get_clim() for ax in spectrograms}
    assert len(limits) == 1, limits  # one scale: the view 6 dB quieter is darker


def test_the_suggestion_reliability_caption_names_only_the_scopes_drawn():
    """A sections run on real music with no cross-generator set drew in-domain and cross-style curves under
    a caption that named "(in-domain, cross-style, cross-generator)"."""
    from workbench.report.sections import calibration_part

    curve = {"accuracy": [None, 0.5, 0.9], "confidence": [None, 0.5, 0.9], "count": [0, 10, 20],
             "ece": 0.05, "edges": [0.0, 1 / 3, 2 / 3, 1.0]}
    block = {"model_smoothed": {"accuracy": 0.8}, "calibration": {"suggestions": {"reliability_before": curve}}}
    metrics = {**block, "transfer": {"leave_one_group_out": {**block, "groups": {"folder:a": 2, "folder:b": 3}}}}
    captions = []
    calibration_part(metrics, lambda name, fig, alt: captions.append((name, alt)) or "")
    alt = dict(captions)["reliability_suggestions"]
    assert alt == "reliability diagram of the suggestions' confidence (in-domain, cross-style)", alt


def test_notebook_05s_comparison_of_one_run_does_not_claim_differences_or_deltas(tmp_path):
    """Notebook 05 on a workspace with one run of each kind compared one run: its page said "Parameters
    (differences only)" over every parameter and "Δ columns: the run minus the baseline" with no Δ column
    (`runs compare` of one run was mended; the notebook's page was not)."""
    from workbench.experiments import compare
    from workbench.report.examples import write_example_run

    one = compare([write_example_run("embeddings", root=tmp_path, seed=2, quality=0.7)], root=tmp_path)
    page = one._repr_html_()
    assert "differences only" not in page and "Δ" not in page and "best in green" not in page, page
    assert "add a second run to see what differs" in page
    two = compare([write_example_run("sections", root=tmp_path, seed=1, n_tracks=12, quality=q) for q in (0.6, 0.85)],
                  root=tmp_path)
    assert "Δ columns: the run minus the baseline" in two._repr_html_()


def test_a_baseline_of_0_in_the_per_class_plot_is_drawn_whole():
    """A sections run on real music: the majority baseline's F1 of 0 for "break" was a diamond cut in half
    by the axis, which reads as a triangle: the novelty baseline's marker."""
    from workbench.report.plots import per_class_figure

    per_class = {"break": {"precision": 0.4, "recall": 0.7, "f1": 0.5, "support": 174},
                 "drop": {"precision": 0.9, "recall": 0.8, "f1": 0.8, "support": 748}}
    fig = per_class_figure(per_class, keys=["precision", "recall", "f1"],
                           baselines={"majority": {"break": 0.0, "drop": 0.9}, "novelty": {"break": 0.3, "drop": 0.6}})
    markers = fig.axes[0].collections
    assert len(markers) == 2 and not any(m.get_clip_on() for m in markers)


def test_the_embeddings_jobs_first_bar_says_every_track_only_when_it_embeds_every_one(tmp_path, monkeypatch):
    """Notebook 03 on the real music: "embed every track: 16/16" in a library of 19 tracks (three sit alone
    in their folder: a class of one track is dropped)."""
    from test_classes import _library
    from test_notebook_qa2 import progress_bars

    from workbench.train.jobs import train_embeddings_job

    names = progress_bars(monkeypatch)
    lib = _library(tmp_path, {"bass": [80.0, 90.0, 100.0, 110.0], "high": [1800.0, 2000.0, 2200.0, 2400.0],
                              "alone": [600.0]})
    job, _ = train_embeddings_job(lib, config={"epochs": 2, "invariance_clips": 0, "n_views": 1},
                                  experiments_root=tmp_path / "exp", progress=True)
    assert job.state == "completed" and len(lib) == 9
    first = next((n, k) for n, k in names if n and n.startswith("embed"))
    assert first == ("embed the tracks with a class", 8), names


def test_the_augmentation_previews_names_wrap_instead_of_being_cut():
    """In JupyterLab, "view 1: pitch -1.23 st · stretch 1.098x · gain -2.9 dB · noise 0.0088" showed without
    its noise: a one-line Label cut at 340 px. The names are HTML now, which wraps."""
    import ipywidgets as w
    import numpy as np

    from workbench.widgets.augment_preview import AugmentPreview

    sr = 8000
    y = np.zeros(sr, dtype=np.float32)
    params = {"pitch_shift": {"should_apply": True, "num_semitones": -1.23},
              "time_stretch": {"should_apply": True, "rate": 1.098},
              "gain": {"should_apply": True, "gain_db": -2.9}, "noise": {"should_apply": True, "amplitude": 0.0088}}
    preview = AugmentPreview(y, [(y, params)], sr=sr)
    names = [row.children[0] for row in preview.children[1:]]
    assert all(isinstance(n, w.HTML) for n in names), [type(n).__name__ for n in names]
    assert "noise" in names[1].value, names[1].value


def test_notebook_06s_gates_text_names_every_kind_of_blocking_gate_its_table_shows():
    """Notebook 06 on real runs: its Gates text named MAP@R for embeddings and macro F1 and accuracy for sections,
    while the table under it showed invariance and search gates (embeddings) and a boundary gate that failed
    the sections run."""
    import json
    import tempfile
    from pathlib import Path

    from workbench.evaluate.gates import blocking_gates
    from workbench.report.examples import write_example_run
    from workbench.runs import load_run

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "06_export_models.ipynb").read_text())
    text = next("".join(c["source"]) for c in nb["cells"] if "".join(c["source"]).startswith("## Gates"))
    words = {"better than backbone": "MAP@R", "better than majority": "majority", "invariance": "invariance",
             "search": "search", "boundaries": "boundary F"}
    with tempfile.TemporaryDirectory() as root:
        for kind in ("embeddings", "sections"):
            run = load_run(write_example_run(kind, root=root, seed=1))
            for gate in blocking_gates(run.metrics, kind):
                said = next(v for k, v in words.items() if gate.name.startswith(k))
                assert said in text, (gate.name, text)
    assert "boundary F" in text and "invariance" in text and "search" in text


def test_an_embeddings_runs_report_says_the_section_timeline_does_not_apply_not_that_it_is_missing(tmp_path):
    """The report of an embeddings run on real music said "timeline.json: not recorded" (as if something were
    missing) where a sections run's report says "not applicable" of the embedding-only Invariance part."""
    from workbench.report import report
    from workbench.report.examples import write_example_run

    page = report(write_example_run("embeddings", root=tmp_path, seed=2, quality=0.7), root=tmp_path)
    html = page.read_text()
    part = html.split("Section timeline", 1)[1].split("<h2", 1)[0]
    assert "not applicable" in part and "not recorded" not in part, part
