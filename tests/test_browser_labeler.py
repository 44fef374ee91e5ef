"""The labeling notebook in a real browser: JupyterLab started by the test, Debian chromium
driven by Python playwright (../shared/guides/browser-testing.md).

Opens notebooks/02_label_sections.ipynb on a demo library of two 7-minute tracks, runs all
cells, and labels the first track with the mouse as a person does: draws a label by dragging
on the waveform, moves it and resizes it at three zoom levels, relabels it with a key, accepts
and rejects model suggestions that overlap it (keep mine, replace, split, accept all), and
undoes and redoes every step. SQLite is checked after every step, the page must agree with it,
and the page must log no console error. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import re

import json
import os
from pathlib import Path

import pytest
from browser import (
    ARTIFACTS,
    NOTEBOOKS,
    ConsoleErrors,
    JupyterLab,
    build_demo_library,
    chromium,
    copy_database,
    drag,
    open_notebook,
    query,
    run_all,
    skip_reason,
    wait_for,
)

NOTEBOOK = "02_label_sections.ipynb"
TRACK_S = 420.0
_REASON = skip_reason()
if _REASON is None:
    from workbench.widgets.labeler_web import BUNDLE
    if not BUNDLE.is_file():
        _REASON = f"the labeler's front end is not built ({BUNDLE}): run `make js` (needs Node.js)"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_REASON is not None, reason=_REASON or "")]

# Suggestions a model would make, given to the labeler by a cell the test adds after notebook 02's
# labeler cell (the demo library has no trained section model; the novelty fallback takes seconds).
SUGGEST_CELL = """\
from workbench.labels import Suggestion
_g = labeler.labels.grid(labeler.shown)
_mk = lambda lab, a, b, c: Suggestion(labeler.shown.id, lab, a, b, _g.time_of(a), _g.time_of(b), c,
                                      uncertain=c < 0.8, model_name="dj_section", model_version="v1",
                                      uncertain_below=0.8)
labeler.use_suggestions([_mk("verse", 40, 72, 0.81), _mk("break", 200, 264, 0.55), _mk("chorus", 300, 364, 0.35)])
"""

ROW_SQL = ("SELECT label, start_beat, end_beat, source, confidence, model_name, model_version FROM labels "
           "WHERE track_id = ? ORDER BY start_beat")


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """A demo library (two 7-minute tracks) and a JupyterLab serving notebook 02 (plus the suggestions cell)."""
    root = tmp_path_factory.mktemp("browser")
    reuse = os.environ.get("WORKBENCH_TEST_DEMO_DB")  # a library built before by build_demo_library (reruns)
    if reuse:
        db = copy_database(Path(reuse), root / "workbench.db")
    else:
        db = build_demo_library(root / "demo", n_tracks=2, duration_s=TRACK_S)
    server = JupyterLab(root / "lab", env={"WORKBENCH_DB": str(db), "NUMBA_CPU_NAME": "generic"})
    (root / "lab" / "nb").mkdir(parents=True)
    nb = json.loads((NOTEBOOKS / NOTEBOOK).read_text())
    at = next(i for i, c in enumerate(nb["cells"]) if "WebLabeler(" in "".join(c["source"]))
    nb["cells"].insert(at + 1, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                "source": SUGGEST_CELL.splitlines(keepends=True)})
    (root / "lab" / "nb" / NOTEBOOK).write_text(json.dumps(nb))
    with server:
        yield server, db


class Page:
    """The labeler on the page: geometry from wavesurfer, actions with the mouse and keys."""

    def __init__(self, page, db):
        self.page, self.db = page, db
        self.root = page.locator(".wb-lab")
        self.track_id = int(self.root.get_attribute("data-ready"))
        self.beats = json.loads(query(db, "SELECT result_json FROM analyses WHERE kind = 'track' AND track_id = ?",
                                      (self.track_id,))[0][0])["beats"]

    def js(self, body, arg=None):
        return self.page.evaluate(f"(arg) => {{ const root = document.querySelector('.wb-lab'); "
                                  f"const ws = root.wavesurfer; {body} }}", arg)

    def x_of(self, t_s):
        return self.js("const r = ws.getWrapper().getBoundingClientRect(); return r.left + arg / ws.getDuration() * r.width;",
                       t_s)

    def wave_y(self, frac):
        box = self.page.locator(".wb-wave").bounding_box()
        return box["y"] + frac * 140

    def px_per_s(self):
        return float(self.root.get_attribute("data-zoom"))

    def scroll_to(self, t_s):
        # as a person drags the minimap: the view starts 3 s before t_s
        self.js("ws.setScrollTime(Math.max(0, arg - 3));", t_s)
        self.page.wait_for_timeout(300)

    def zoom_in(self, times):
        before = self.px_per_s()
        for _ in range(times):
            self.page.locator("button.wb-zoom-in").click()
        wait_for(lambda: self.px_per_s() > before * 1.5, what="the zoom to change")
        self.page.wait_for_timeout(300)

    def rows(self):
        return query(self.db, ROW_SQL, (self.track_id,))

    def rejections(self):
        return query(self.db, "SELECT label, start_beat, end_beat, model_name FROM label_rejections WHERE track_id = ?",
                     (self.track_id,))

    def regions(self):
        """The label regions the page draws: (label, start_s, end_s) by start."""
        return self.js("return root.regionsPlugin.getRegions().filter(r => r.id.startsWith('l')).map(r => "
                       "[r.element.dataset.label, r.start, r.end]).sort((a, b) => a[1] - b[1]);")

    def agrees(self):
        """The page's regions are SQLite's rows (label and edge times: beat 0 is 0 s, the last index the end)."""
        rows = self.rows()
        times = [0.0, *self.beats[1:], None]

        def t(b):
            return float(self.page.evaluate("() => document.querySelector('.wb-lab').wavesurfer.getDuration()")) \
                if b >= len(self.beats) else times[b]
        want = [(r[0], round(t(r[1]), 2), round(t(r[2]), 2)) for r in rows]
        got = [(r[0], round(r[1], 2), round(r[2], 2)) for r in self.regions()]
        return want == got

    def settle(self, expect_rows, what):
        """Wait until SQLite holds ``expect_rows`` (a predicate on the rows) and the page agrees."""
        wait_for(lambda: expect_rows(self.rows()), what=f"SQLite after {what}")
        wait_for(self.agrees, what=f"the page to agree with SQLite after {what}")
        assert self.root.locator(".wb-err").inner_text().strip() == "", self.root.locator(".wb-err").inner_text()

    def undo_redo(self, before, after, what):
        """Undo (ctrl+z on the page), check ``before``; redo (the button), check ``after``."""
        self.root.focus()
        self.page.keyboard.press("Control+z")
        self.settle(lambda r: r == before, f"undo of {what}")
        self.page.locator("button.wb-redo").click()
        self.settle(lambda r: r == after, f"redo of {what}")

    def shot(self, name):
        self.root.screenshot(path=str(ARTIFACTS / name))


def test_label_with_the_mouse_in_jupyterlab(lab_server):
    from playwright.sync_api import expect

    server, db = lab_server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1500, "height": 1300})
        errors = ConsoleErrors(page)
        try:
            open_notebook(page, server, NOTEBOOK)
            run_all(page)
            expect(page.locator(".wb-lab[data-ready]:not([data-ready=''])")).to_have_count(1)
            expect(page.locator(".wb-stats-grid")).to_be_visible()
            lab = Page(page, db)
            expect(page.locator(".wb-sugg")).to_have_count(3)
            assert lab.rows() == []
            # what "(uncertain)" means, said once under the list and on each uncertain suggestion
            rule = "uncertain: confidence under 80 %, a calibrated chance of more than 1 in 5 that it is wrong"
            expect(page.locator(".wb-uncertain-rule")).to_have_text(rule)
            expect(page.locator(".wb-sugg[data-label='break']")).to_have_attribute("title", rule)
            expect(page.locator(".wb-sugg[data-label='verse']")).to_have_attribute("title", "")
            # each chip says its bars as the kernel's rows do, inclusive ("bars 1–16", not "bars 1–17")
            chips = page.locator(".wb-sugg").all_inner_texts()
            assert all("undefined" not in c and re.search(r"bars? \d+", c) for c in chips), chips
            # statuses in words, as the older labeler and the README say them ("in_progress" is only stored)
            expect(page.locator("select.wb-status-select option[value='in_progress']")).to_have_text("mark in progress")
            # the audio arrives after the first paint (Ogg Vorbis, decoded by the browser)
            expect(lab.root).to_have_attribute("data-audio", str(lab.track_id))
            lab.shot("labeler_fit.png")

            # 1. draw an intro over beats 48-80 at the fitted zoom (about 2.5 px/s), by dragging on the waveform
            fit = lab.px_per_s()
            assert fit < 4
            page.locator("button.wb-label-intro").click()
            drag(page, lab.x_of(lab.beats[48]), lab.wave_y(0.3), lab.x_of(lab.beats[80]), lab.wave_y(0.3))
            lab.settle(lambda r: len(r) == 1, "drawing a label")
            (label, s0, e0, source, conf, model, _v), = lab.rows()
            assert (label, source, conf, model) == ("intro", "user", None, None)
            assert abs(s0 - 48) <= 2 and abs(e0 - 80) <= 2, (s0, e0)  # 2.5 px/s: a pixel is about a beat
            drawn = lab.rows()
            expect(page.locator(".wb-stats-grid [data-label='intro']")).to_contain_text("1/")
            lab.undo_redo([], drawn, "drawing")

            # 2. zoom in twice (x4) and move it about 8 beats later by dragging its body
            lab.zoom_in(2)
            z2 = lab.px_per_s()
            assert z2 > 3 * fit
            lab.scroll_to(lab.beats[s0])
            period = (lab.beats[e0] - lab.beats[s0]) / (e0 - s0)
            x = lab.x_of((lab.beats[s0] + lab.beats[e0]) / 2)
            drag(page, x, lab.wave_y(0.45), x + 8 * period * z2, lab.wave_y(0.45))
            lab.settle(lambda r: r[0][1] != s0, "moving the label")
            (_, s1, e1, *_), = lab.rows()
            assert e1 - s1 == e0 - s0 and 6 <= s1 - s0 <= 10, (s0, e0, s1, e1)  # moved whole, snapped to beats
            moved = lab.rows()
            lab.shot("labeler_zoom2.png")
            lab.undo_redo(drawn, moved, "the move")

            # 3. zoom in twice more (x16) and drag the right edge 4 beats later
            lab.zoom_in(2)
            z3 = lab.px_per_s()
            assert z3 > 3 * z2
            lab.scroll_to(lab.beats[e1] - 2)
            x = lab.x_of(lab.beats[e1]) - 2
            drag(page, x, lab.wave_y(0.4), x + 4 * period * z3, lab.wave_y(0.4), steps=20)
            lab.settle(lambda r: r[0][2] != e1, "resizing the label")
            (_, s2, e2, *_), = lab.rows()
            assert s2 == s1 and e2 - e1 == 4, (s1, e1, s2, e2)  # 40+ px a beat: exactly 4 beats
            resized = lab.rows()
            lab.shot("labeler_zoom3.png")
            lab.undo_redo(moved, resized, "the resize")

            # 4. select it (click) and relabel it with key 3 (drop)
            page.locator("button.wb-zoom-fit").click()
            page.wait_for_timeout(500)
            page.mouse.click(lab.x_of((lab.beats[s2] + lab.beats[e2]) / 2), lab.wave_y(0.45))
            expect(lab.root.locator(".wb-msg")).to_contain_text("selected intro")
            page.keyboard.press("3")
            lab.settle(lambda r: r[0][0] == "drop", "relabelling")
            relabelled = lab.rows()
            assert relabelled == [("drop", s2, e2, "user", None, None, None)]
            lab.undo_redo(resized, relabelled, "the relabel")
            page.keyboard.press("Escape")
            expect(page.locator("button.wb-delete")).to_be_disabled()  # nothing selected

            # an overlapping draw is refused by the label store: the error shows on the page, nothing is stored
            page.locator("button.wb-label-build").click()
            drag(page, lab.x_of(lab.beats[e2 + 16]), lab.wave_y(0.3), lab.x_of(lab.beats[e2 - 4]), lab.wave_y(0.3))
            expect(lab.root.locator(".wb-err")).to_contain_text("build")
            expect(lab.root.locator(".wb-err")).to_contain_text("overlaps the existing label drop")
            assert lab.rows() == relabelled

            # click-to-seek on empty waveform, then space plays from there and pauses
            page.mouse.click(lab.x_of(120.0), lab.wave_y(0.3))
            wait_for(lambda: abs(lab.js("return ws.getCurrentTime();") - 120.0) < 1.0, what="the cursor at 2:00")
            lab.root.focus()
            page.keyboard.press(" ")
            wait_for(lambda: lab.js("return ws.isPlaying();"), what="playback")
            page.wait_for_timeout(600)
            page.keyboard.press(" ")
            wait_for(lambda: not lab.js("return ws.isPlaying();"), what="pause")
            assert lab.js("return ws.getCurrentTime();") > 120.2

            # 5. suggestions overlapping it: verse 40-72 (81%) over drop s2-e2
            assert s2 < 72 < e2 and s2 > 40, (s2, e2)
            verse = ("verse", 40, s2, "model", 0.81, "dj_section", "v1")
            for choice, want in (
                    ("keep", [verse, relabelled[0]]),
                    ("replace", [("verse", 40, 72, "model", 0.81, "dj_section", "v1")]),
                    ("split", [("verse", 40, 72, "model", 0.81, "dj_section", "v1"), ("drop", 72, e2, "user", None,
                                                                                        None, None)])):
                page.locator("select.wb-overlap").select_option(choice)
                page.locator(".wb-sugg[data-label='verse'] button.wb-accept").click()
                lab.settle(lambda r, w=want: r == w, f"accepting with overlap={choice}")
                expect(page.locator(".wb-sugg")).to_have_count(2)  # accepted: no longer suggested
                if choice == "split":
                    lab.shot("labeler_suggestions.png")
                lab.undo_redo(relabelled, want, f"accept ({choice})")
                page.locator("button.wb-undo").click()
                lab.settle(lambda r: r == relabelled, f"undo of accept ({choice}) again")
                expect(page.locator(".wb-sugg")).to_have_count(3)  # the suggestion is back

            # 6. reject the break: stored as a rejection, undone
            page.locator(".wb-sugg[data-label='break'] button.wb-reject").click()
            wait_for(lambda: lab.rejections() == [("break", 200, 264, "dj_section")], what="the rejection in SQLite")
            expect(page.locator(".wb-sugg")).to_have_count(2)
            assert lab.rows() == relabelled
            page.locator("button.wb-undo").click()
            wait_for(lambda: lab.rejections() == [], what="the rejection undone in SQLite")
            expect(page.locator(".wb-sugg")).to_have_count(3)

            # 7. accept all, keeping mine: the verse goes on the free beats, break and chorus as suggested
            page.locator("select.wb-overlap").select_option("keep")
            page.locator("button.wb-accept-all").click()
            all_kept = [verse, relabelled[0], ("break", 200, 264, "model", 0.55, "dj_section", "v1"),
                        ("chorus", 300, 364, "model", 0.35, "dj_section", "v1")]
            lab.settle(lambda r: r == all_kept, "accept all (keep)")
            expect(page.locator(".wb-sugg")).to_have_count(0)
            lab.shot("labeler_accepted.png")
            lab.undo_redo(relabelled, all_kept, "accept all")

            # 8. the track's status and the next unlabelled track
            page.locator("select.wb-status-select").select_option("done")
            wait_for(lambda: query(db, "SELECT status FROM track_status WHERE track_id = ?", (lab.track_id,))
                     == [("done",)], what="the status in SQLite")
            page.locator("button.wb-next-unlabelled").click()
            expect(page.locator(".wb-lab[data-ready]")).not_to_have_attribute("data-ready", str(lab.track_id))
            expect(page.locator(".wb-lab[data-ready]:not([data-ready=''])")).to_have_count(1)
            page.wait_for_timeout(500)
            assert not errors, errors
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "labeler_failure.png"), full_page=True)
            raise
