"""The labeling notebook in a real browser: JupyterLab started by the test, Debian chromium
driven by Python playwright (../shared/guides/browser-testing.md).

Opens notebooks/02_label_sections.ipynb on a small demo library, runs all cells, labels a
section of a demo track by clicking, checks the row in SQLite and on the page, deletes it,
undoes, checks again, and saves a screenshot to tests/artifacts/labeler.png.
"""

from __future__ import annotations

import json
import shutil

import pytest
from browser import (
    ARTIFACTS,
    NOTEBOOKS,
    JupyterLab,
    build_demo_library,
    chromium,
    open_notebook,
    query,
    run_all,
    skip_reason,
    wait_for,
)

NOTEBOOK = "02_label_sections.ipynb"
_REASON = skip_reason()

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_REASON is not None, reason=_REASON or "")]


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """A demo library (2 short tracks) and a JupyterLab serving the labeling notebook on it."""
    root = tmp_path_factory.mktemp("browser")
    db = build_demo_library(root / "demo", n_tracks=2, duration_s=30.0)
    server = JupyterLab(root / "lab", env={"WORKBENCH_DB": str(db), "NUMBA_CPU_NAME": "generic"})
    (root / "lab" / "nb").mkdir(parents=True)
    shutil.copy(NOTEBOOKS / NOTEBOOK, root / "lab" / "nb" / NOTEBOOK)
    with server:
        yield server, db


def labels_in_db(db):
    return query(db, "SELECT label, start_beat, end_beat, source FROM labels ORDER BY id")


def test_label_delete_undo_in_jupyterlab(lab_server):
    from playwright.sync_api import expect

    server, db = lab_server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1700, "height": 1400})
        try:
            open_notebook(page, server, NOTEBOOK)
            run_all(page)
            labeler = page.locator(".wb-labeler")
            expect(labeler).to_be_visible()
            expect(page.locator("img.wb-view")).to_be_visible()
            expect(page.locator(".wb-stats-grid")).to_be_visible()
            expect(page.locator(".wb-table")).to_contain_text("no labels on this track yet")
            assert labels_in_db(db) == []

            # label beats 8-24 of the first track as a drop, by clicking and typing
            page.locator("button.wb-label-drop").click()
            expect(page.locator("button.wb-label-drop.wb-chosen")).to_be_visible()
            # one field at a time, each confirmed by the kernel's redraw of the range text (beat 8's
            # time, from the stored analysis), as a person watches the range update before typing
            expect(page.locator(".wb-range")).to_contain_text("bars 1–4")  # the view has settled
            beat8_s = json.loads(query(db, "SELECT result_json FROM analyses WHERE kind = 'track' "
                                           "ORDER BY track_id LIMIT 1")[0][0])["beats"][8]
            for cls, value, shown in ((".wb-start", "8", f"{beat8_s:.2f}–"), (".wb-end", "24", "16 beats")):
                box = page.locator(f"{cls} input")
                box.click()  # as a person does: the pointer leaves the label buttons (keyboard shortcuts)
                box.fill(value)
                box.press("Enter")  # number boxes sync to the kernel on Enter or when they lose focus
                expect(page.locator(".wb-range")).to_contain_text(shown)
            page.locator("button.wb-add").click()
            row = page.locator(".wb-table tr.wb-row[data-label='drop']")
            expect(row).to_be_visible()
            expect(row).to_contain_text("8–24")
            expect(page.locator(".wb-message")).to_contain_text("added drop beats 8–24")
            wait_for(lambda: labels_in_db(db) == [("drop", 8, 24, "user")], what="the drop row in SQLite")
            expect(page.locator(".wb-stats-grid [data-label='drop']")).to_contain_text("1/10")

            # delete it (it is the selected label after add)
            page.locator("button.wb-delete").click()
            expect(row).to_have_count(0)
            expect(page.locator(".wb-message")).to_contain_text("deleted drop")
            wait_for(lambda: labels_in_db(db) == [], what="the row deleted from SQLite")

            # undo brings it back
            page.locator("button.wb-undo").click()
            expect(row).to_be_visible()
            expect(page.locator(".wb-message")).to_contain_text("undone: delete drop")
            wait_for(lambda: labels_in_db(db) == [("drop", 8, 24, "user")], what="the row restored in SQLite")
            expect(page.locator(".wb-stats-grid [data-label='drop']")).to_contain_text("1/10")
            labeler.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "labeler.png"))
            labeler.screenshot(path=str(ARTIFACTS / "labeler_widget.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "labeler_failure.png"), full_page=True)
            raise
