"""The browser labeler's page draws a label from beat 0 from 0 s, also while a person drags its edge.

No JupyterLab: the built bundle is served from a temporary folder to Debian chromium (playwright)
and given the traitlets a real :class:`~workbench.widgets.WebLabeler` set for a track whose first
beat is at 5.6 s (an unbeated intro), through a stand-in for anywidget's model that records what
the page sends. The drag goes through the mouse, as in tests/test_browser_labeler.py.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import shutil
import threading
import time

import numpy as np
import pytest
from browser import CHROMIUM, chromium, wait_for

_REASON = None if CHROMIUM.is_file() else f"Debian chromium not found at {CHROMIUM}"
try:
    import playwright.sync_api  # noqa: F401
except ImportError:
    _REASON = _REASON or "Python playwright not installed"
if _REASON is None:
    pytest.importorskip("anywidget")
    from workbench.widgets.labeler_web import BUNDLE
    if not BUNDLE.is_file():
        _REASON = f"the labeler's front end is not built ({BUNDLE}): run `make js` (needs Node.js)"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_REASON is not None, reason=_REASON or "")]

PAGE = """<!doctype html><html><body><div id="el" style="width:900px"></div><script type="module">
import widget from "./labeler.js";
const raw = await (await fetch("./state.json")).json();
const state = {};
for (const [k, v] of Object.entries(raw))
  state[k] = v && v.__b64__ !== undefined ? new DataView(Uint8Array.from(atob(v.__b64__), c => c.charCodeAt(0)).buffer) : v;
window.sent = [];
const model = { get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {},
                send: (m) => window.sent.push(m), on() {}, off() {} };
widget.render({ model, el: document.getElementById("el") });
</script></body></html>"""


@contextlib.contextmanager
def _serve(folder):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def _state(tmp_path) -> dict:
    """What WebLabeler sets for the late-beat track with an intro on beats 0-16 (audio left out)."""
    import soundfile as sf
    from test_labels import _store_grid
    from test_labels_track_start import DURATION_S, FIRST_BEAT_S, N_BEATS, SR

    from workbench.library import Library
    from workbench.widgets.labeler_web import WebLabeler

    (tmp_path / "audio").mkdir()
    sf.write(str(tmp_path / "audio" / "late.wav"),
             0.1 * np.random.default_rng(0).standard_normal(int(DURATION_S * SR)), SR)
    lib = Library(tmp_path / "db" / "w.db")
    lib.scan(tmp_path / "audio", progress=False)
    (t,) = lib.tracks()
    _store_grid(lib, t, N_BEATS, offset_s=FIRST_BEAT_S)
    w = WebLabeler(lib, audio=False)
    w.labels.add(t.id, "intro", start_beat=0, end_beat=16)
    w.show_track(t.id)
    state = {k: v for k, v in w.get_state().items() if not k.startswith("_") and k not in ("layout", "audio")}
    state["audio"] = None
    return {k: {"__b64__": base64.b64encode(bytes(v)).decode()} if isinstance(v, (bytes, memoryview)) else v
            for k, v in state.items()}


def test_beat_0_label_is_drawn_and_dragged_from_0_s(tmp_path):
    from test_labels_track_start import FIRST_BEAT_S

    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(BUNDLE, site / "labeler.js")
    (site / "index.html").write_text(PAGE)
    state = _state(tmp_path)
    assert state["rows"][0]["start_s"] == 0.0 and state["track"]["beats_s"][0] == FIRST_BEAT_S
    (site / "state.json").write_text(json.dumps(state))
    with _serve(site) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector(".wb-lab[data-ready]")

        def js(body, arg=None):
            return page.evaluate("(arg) => { const root = document.querySelector('.wb-lab'); const ws = root.wavesurfer; "
                                 f"const reg = () => root.regionsPlugin.getRegions().find(r => r.id === 'l1'); {body} }}", arg)

        wait_for(lambda: js("return reg() !== undefined;"), what="the label region")
        assert js("return reg().start;") == 0.0                            # drawn from the track's start
        x0 = js("const r = ws.getWrapper().getBoundingClientRect(); return r.left;")
        px_per_s = js("const r = ws.getWrapper().getBoundingClientRect(); return r.width / ws.getDuration();")
        box = page.locator(".wb-wave").bounding_box()
        y = box["y"] + 0.3 * 140
        # the left edge 0.6 s to the right (still nearest beat 0): while dragging, the region stays at 0 s
        page.mouse.move(x0 + 1, y)
        page.mouse.down()
        page.mouse.move(x0 + 1 + 0.6 * px_per_s, y, steps=8)
        time.sleep(0.2)
        during = js("return reg().start;")
        page.mouse.up()
        wait_for(lambda: js("return window.sent.length > 0;"), what="the page's update message")
        sent = js("return window.sent;")
        assert not errors, errors
    assert during == 0.0, f"the dragged edge showed at {during} s (the first beat is at {FIRST_BEAT_S} s)"
    assert sent[-1] == {"action": "update", "id": 1, "start_beat": 0, "end_beat": 16}
