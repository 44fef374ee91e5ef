"""The browser labeler's page says what "uncertain" means wherever a model's suggestions are listed.

The older (ipywidgets) labeler states the model's rule above any model's suggestions; the page stated it only when
one suggestion was uncertain, and the model's name (``suggest_note``) only when there was none. No JupyterLab: the
built bundle is served to Debian chromium (playwright) with the traitlets a real
:class:`~workbench.widgets.WebLabeler` set, as in tests/test_browser_labeler_track_start.py.
"""

from __future__ import annotations

import base64
import json
import shutil

import numpy as np
import pytest
from browser import chromium
from test_browser_labeler_track_start import _REASON, PAGE, _serve

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_REASON is not None, reason=_REASON or "")]

RULE = "uncertain: confidence under 80 %, a calibrated chance of more than 1 in 5 that it is wrong"


def _state(tmp_path, *, model: bool) -> dict:
    """What WebLabeler sets for a track with one suggestion: a model's at 90 % (not uncertain) or novelty's."""
    import soundfile as sf
    from test_labels import _store_grid

    from workbench.labels import Labels, Suggestion
    from workbench.library import Library
    from workbench.widgets.labeler_web import WebLabeler
    from workbench.widgets.suggest import Suggester

    folder = tmp_path / ("model" if model else "novelty")
    (folder / "audio").mkdir(parents=True)
    sf.write(str(folder / "audio" / "t.wav"), 0.1 * np.random.default_rng(0).standard_normal(20 * 8000), 8000)
    lib = Library(folder / "db" / "w.db")
    lib.scan(folder / "audio", progress=False)
    (t,) = lib.tracks()
    _store_grid(lib, t, 32)

    def fn(track):
        g = Labels(lib).grid(track)
        return [Suggestion(track.id, "intro", 0, 16, 0.0, g.time_of(16), 0.9 if model else 0.5, uncertain=not model,
                           uncertain_below=0.8 if model else None)]

    said = "active model dj_section (run r1)" if model else "no active section model: novelty boundaries"
    suggest = Suggester(*(("dj_section", "v1", False) if model else ("novelty", "foote", True)), said, None, fn)
    w = WebLabeler(lib, suggest=suggest, audio=False)
    w.load_suggestions()
    assert len(w.suggestions) == 1 and w.suggestions[0]["uncertain"] is (not model)
    state = {k: v for k, v in w.get_state().items() if not k.startswith("_") and k not in ("layout", "audio")}
    return {**state, "audio": None, "peaks": {"__b64__": base64.b64encode(bytes(state["peaks"])).decode()}}


@pytest.mark.parametrize("model", [True, False], ids=["model", "novelty"])
def test_the_page_states_the_rule_under_a_models_suggestions_none_uncertain(tmp_path, model):
    from playwright.sync_api import expect

    from workbench.widgets.labeler_web import BUNDLE

    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(BUNDLE, site / "labeler.js")
    (site / "index.html").write_text(PAGE)
    (site / "state.json").write_text(json.dumps(_state(tmp_path, model=model)))
    with _serve(site) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        expect(page.locator(".wb-sugg")).to_have_count(1)
        expect(page.locator(".wb-err")).to_have_text("")
        if model:  # a model's suggestion, none uncertain: the rule once under the list, and which model
            expect(page.locator(".wb-uncertain-rule")).to_have_text(RULE)
            expect(page.locator(".wb-sugg-note")).to_have_text("active model dj_section (run r1)")
        else:  # novelty's guesses carry no model's threshold: no rule
            expect(page.locator(".wb-uncertain-rule")).to_have_count(0)
            expect(page.locator(".wb-sugg-note")).to_have_text("no active section model: novelty boundaries")
        assert not errors, errors
