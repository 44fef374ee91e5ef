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
    assert ">pass<" in text or ">fail<" in text


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
