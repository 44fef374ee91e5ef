"""Run reports: files written, self-contained HTML, "not recorded" parts, and a look in headless chromium."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from workbench.errors import ParameterError
from workbench.report import SECTIONS, backbone_text, report, show
from workbench.report.examples import write_example_run
from workbench.runs import load_run, write_run

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments")
    out = {}
    for kind in ("embeddings", "sections"):
        run = write_example_run(kind, root=root, seed=5, quality=0.7)
        out[kind] = report(run)
    return out


@pytest.mark.parametrize("kind", ["embeddings", "sections"])
def test_report_files(reports, kind):
    page = reports[kind]
    folder = page.parent
    assert page.name == "report.html" and page.is_file()
    pngs = sorted(p.stem for p in (folder / "plots").glob("*.png"))
    expected = {"embeddings": ["embedding_projection", "invariance", "label_counts", "per_class", "training_curves"],
                "sections": ["confusion_matrix", "embedding_projection", "label_counts", "per_class",
                             "section_timeline", "training_curves"]}[kind]
    assert pngs == expected
    for p in (folder / "plots").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    evaluation = json.loads((folder / "evaluation.json").read_text())
    assert evaluation["run_id"] == folder.name
    assert evaluation["recorded"] == load_run(folder).metrics
    assert [g["name"] for g in evaluation["gates"]] == (
        ["precision_at_5", "silhouette", "nmi"] if kind == "embeddings" else ["accuracy", "macro_f1"])
    assert not list(folder.glob(".*.tmp"))  # atomic writes left nothing behind


@pytest.mark.parametrize("kind", ["embeddings", "sections"])
def test_report_html_is_self_contained(reports, kind):
    text = reports[kind].read_text()
    assert "<link" not in text and "<script" not in text
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", text)  # only data URIs
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in text
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == len(list((reports[kind].parent / "plots").glob("*.png")))
    assert all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    assert "backbone: features-v1 (weight-free feature frontend, not OpenL3), dim 202" in text


def test_report_gates_and_metrics_in_page(reports):
    text = reports["sections"].read_text()
    run = load_run(reports["sections"].parent)
    acc = run.metrics["model"]["accuracy"]
    assert f"{acc:.4g}" in text
    assert "&gt; 0.8" in text  # the accuracy target
    assert "recomputed from arrays" in text
    assert ">met<" in text or ">below target<" in text  # the research targets: informational
    assert "<h3>Blocking gates</h3>" in text  # what export checks, each gate with its result
    assert re.search(r"better than majority</td><td>macro_f1 of (smoothed sections|unsmoothed windows)</td>"
                     r".*?>(pass|fail|not recorded)</td>", text)


@pytest.mark.parametrize("kind", ["embeddings", "sections"])
def test_report_figures_have_captions(reports, kind):
    text = reports[kind].read_text()
    figures = re.findall(r'<figure class="wb-figure"><img [^>]+><figcaption>([^<]+)</figcaption></figure>', text)
    assert len(figures) == text.count("<img ") and all(len(c) > 20 for c in figures)
    assert text.index("<h2>Headline</h2>") < text.index("<h2>Quality gates</h2>")  # the lead comes first


def _section_of(text: str, title: str) -> str:
    start = text.index(f"<h2>{title}</h2>")
    return text[start:text.index("</section>", start)]


def _sections_metrics(held: list[str]) -> dict:
    def cls(acc: float, f1: float) -> dict:
        return {"accuracy": acc, "macro_f1": f1}

    def seg(f3: float, f05: float) -> dict:
        return {"boundary_f_3s": f3, "boundary_f_0.5s": f05, "pairwise_f": f3 - 0.05}

    return {
        "model": {**cls(0.9, 0.88), "per_class": {"intro": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 40},
                                                  "drop": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 60}}},
        "model_smoothed": cls(0.92, 0.9),
        "baselines": {"majority": cls(0.4, 0.1), "logreg": cls(0.93, 0.91)},
        "held_out": {"track_hashes": held},
        "segments": {"smoothed": seg(0.95, 0.71), "raw": seg(0.9, 0.8), "novelty": seg(0.8, 0.6)},
        "transfer": {"leave_one_group_out": {
            "groups": {"crate:house": 4, "crate:techno": 5},
            "model": cls(0.77, 0.71), "model_smoothed": cls(0.86, 0.78),
            "baselines": {"majority": cls(0.32, 0.07), "logreg": cls(0.78, 0.70)},
            "segments": {"smoothed": seg(0.9, 0.77), "raw": seg(0.75, 0.49), "novelty": seg(0.83, 0.63)},
            "intro_outro_confusion": {"model": 0.3}, "per_group": {}}},
        "n_windows": 5000, "seconds": {"total": 5.3},
    }


def test_sections_report_leads_with_headline_and_transfer(tmp_path):
    held = [f"{i:064x}" for i in range(7)]
    tracks = [{"id": i, "content_hash": held[i], "name": f"Demo {i:03d}"} for i in range(7)]
    timeline = [{"track_id": 0, "name": "Demo 000", "duration_s": 60.0,
                 "truth": [{"start_s": 0.0, "end_s": 30.0, "label": "intro"}, {"start_s": 30.0, "end_s": 60.0,
                                                                               "label": "drop"}],
                 "predicted": [{"start_s": 0.0, "end_s": 31.0, "label": "intro"},
                               {"start_s": 31.0, "end_s": 60.0, "label": "drop"}]}]
    path = write_run("20250101-000000-sections-abcdef", info={"kind": "sections"}, config_={},
                     data={"tracks": tracks, "splits": {"test": list(range(7))}}, history=[],
                     metrics=_sections_metrics(held), timeline=timeline, root=tmp_path)
    text = report(path).read_text()
    lead = _section_of(text, "Headline")
    for part in ("<th>held-out groups: model</th>", "<th>held-out groups: best baseline</th>",
                 "logreg 0.930", "novelty 0.600", "+0.110",  # boundary F @0.5 s: 0.71 smoothed vs novelty 0.6
                 "7 held-out tracks, none trained on (Demo 000", "100 labelled windows",
                 "2 groups (crates or folders) each held out in turn", "crate:house (4 tracks)", "9 tracks in all"):
        assert part in lead, part
    assert "not recorded" not in lead
    # one boundary F @0.5 s in the lead; the others each say which sections and tracks they are
    assert lead.count("boundary F @0.5 s") == 1 and ">0.7100<" in lead  # rates to 4 decimals
    metrics = _section_of(text, "Metrics")
    assert "not recorded" not in metrics  # only the cells that exist
    assert metrics.count("computed on:") >= 5
    assert "only the 1 track drawn in the section timeline (Demo 000)" in metrics
    assert "<th>timeline tracks only</th>" in metrics
    assert "Counts and times" in metrics and "no better or worse" in metrics
    assert "Sections of 1 held-out track (Demo 000)" in _section_of(text, "Section timeline")


def test_best_is_never_marked_on_counts(tmp_path):
    metrics = {"model": {"map_at_r": 0.8, "n_queries": 150}, "baselines": {"backbone": {"map_at_r": 0.3,
                                                                                         "n_queries": 150}}}
    path = write_run("20250101-000000-embeddings-abcdef", info={"kind": "embeddings"}, config_={}, data={},
                     history=[], metrics=metrics, root=tmp_path)
    section = _section_of(report(path).read_text(), "Model vs baselines")
    assert '<td class="best num">0.8000</td>' in section  # a score with 4 fixed decimals (session 18)
    assert '<td class="best num">150</td>' not in section and '<td class="num">150</td>' in section


def test_report_of_a_bare_run_says_not_recorded(tmp_path):
    path = write_run("20250101-000000-sections-abcdef", info={"kind": "sections"}, config_={}, data={},
                     history=[], metrics={}, root=tmp_path)
    text = report(path).read_text()
    assert text.count("not recorded") >= 8
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in text
    assert "backbone: not recorded" in text
    assert not list((path / "plots").glob("*.png"))


def test_report_by_run_id_and_show(tmp_path, monkeypatch):
    path = write_run("20250101-000000-embeddings-abcdef", info={"kind": "embeddings",
                                                                "backbone": {"name": "openl3-mel128-music"}},
                     config_={"lr": 0.001}, data={"label_counts": {"a": 3}}, history=[{"epoch": 1, "train_loss": 1.0}],
                     metrics={"model": {"precision_at_5": 0.9}}, root=tmp_path)
    assert report(path.name, root=tmp_path) == path / "report.html"
    assert backbone_text(load_run(path)) == "openl3-mel128-music (OpenL3, pretrained weights)"
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    show(path)
    assert len(shown) == 1
    body = shown[0].data
    assert body.startswith('<div class="wb-report">') and "<html" not in body and "Training curves" in body


def test_report_config_shows_size_only_for_an_openl3_run(tmp_path):
    """``size`` is OpenL3's embedding size: a features-v1 run's Config does not list it (it did: "size 512")."""
    shown = {}
    for n, backbone in enumerate(("features-v1", "openl3", "cnn")):
        path = write_run(f"20250101-000000-embeddings-abcde{n}", root=tmp_path,
                         info={"kind": "embeddings"}, config_={"backbone": backbone, "size": 512, "lr": 0.001},
                         data={}, history=[], metrics={})
        shown[backbone] = _section_of(report(path).read_text(), "Config")
    assert "<td>size</td>" in shown["openl3"]
    assert "<td>size</td>" not in shown["features-v1"] and "<td>size</td>" not in shown["cnn"]
    assert all("<td>lr</td>" in section and "<td>backbone</td>" in section for section in shown.values())


def test_report_rejects_unknown_projection(reports):
    with pytest.raises(ParameterError, match="projection method must be one of"):
        report(reports["embeddings"].parent, projection="umap")


def test_example_run_errors(tmp_path):
    with pytest.raises(ParameterError, match="kind must be one of"):
        write_example_run("tracks", root=tmp_path)
    with pytest.raises(ParameterError, match=r"quality must be in \(0, 1\)"):
        write_example_run("sections", root=tmp_path, quality=1.5)
    with pytest.raises(ParameterError, match="n_tracks must be >= 3"):
        write_example_run("sections", root=tmp_path, n_tracks=1)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(reports):
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            for kind, path in reports.items():
                page.goto(path.as_uri(), wait_until="load", timeout=60_000)
                headings = page.locator("h2")
                assert headings.all_inner_texts() == list(SECTIONS)
                for i in range(headings.count()):
                    assert headings.nth(i).is_visible()
                assert page.locator(".backbone").inner_text().startswith("backbone: features-v1")
                widths = page.eval_on_selector_all("img", "els => els.map(e => e.complete ? e.naturalWidth : 0)")
                assert widths and all(w > 0 for w in widths)
                page.screenshot(path=str(ARTIFACTS / f"report-{kind}.png"), full_page=True)
                if kind == "sections":
                    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
