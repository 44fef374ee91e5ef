"""The sections report: in-domain / cross-style / cross-generator figures, suggestion ECE, rejections."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import ParameterError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_sections_transfer import FAST, _data  # noqa: E402


def test_confidence_reliability_bins_and_errors():
    from workbench.evaluate.calibration import confidence_ece, confidence_reliability

    conf = np.array([0.95, 0.95, 0.95, 0.95, 0.55, 0.55])
    right = np.array([True, True, True, False, True, False])
    rel = confidence_reliability(conf, right, n_bins=10)
    assert rel["count"][9] == 4 and rel["count"][5] == 2 and sum(rel["count"]) == 6
    assert rel["accuracy"][9] == pytest.approx(0.75) and rel["confidence"][9] == pytest.approx(0.95)
    assert rel["accuracy"][0] is None and len(rel["edges"]) == 11
    # (4 * |0.75 - 0.95| + 2 * |0.5 - 0.55|) / 6
    assert rel["ece"] == pytest.approx((4 * 0.2 + 2 * 0.05) / 6) == confidence_ece(conf, right, n_bins=10)
    with pytest.raises(ParameterError, match=r"confidence must be \(n >= 1,\) values in \[0, 1\]"):
        confidence_reliability(np.array([1.2]), np.array([True]))
    with pytest.raises(ParameterError, match="n_bins must be an int >= 1"):
        confidence_reliability(conf, right, n_bins=0)


@pytest.fixture(scope="module")
def metrics():
    from dataclasses import replace

    from workbench.train.sections import SectionData, train_sections

    data = _data(groups=("a", "b", "c"), per_group=3)

    def rejecting(tr):
        """A rejected "break" over the labelled drop (the drop stays a positive: nothing trains as "not break"),
        and a rejected "drop" over the last section, whose label is taken away (its windows train as "not drop")."""
        drop = next(s for s in tr.sections if s["label"] == "drop")
        last = tr.sections[-1]
        return replace(tr, sections=tr.sections[:-1],
                       rejected=[{"label": "break", "start_s": drop["start_s"], "end_s": drop["end_s"]},
                                 {"label": "drop", "start_s": last["start_s"], "end_s": last["end_s"]}])

    # every other track (5 of 9; 3 are held out, so 2+ of them train)
    tracks = [rejecting(t) if i % 2 == 0 else t for i, t in enumerate(data.tracks)]
    other = _data(groups=("x", "y"), per_group=2, seed=1)
    return train_sections(SectionData(tracks, data.features, data.backbone), config=FAST, progress=False,
                          external={"gen2": other}).metrics


def test_run_records_suggestion_reliability_and_intro_outro(metrics):
    sug = metrics["calibration"]["suggestions"]
    assert sug["reliability_before"]["ece"] == pytest.approx(sug["ece_before"])
    assert sum(sug["reliability_before"]["count"]) == sum(metrics["model"]["per_class"][c]["support"]
                                                         for c in metrics["model"]["classes"])
    lo = metrics["transfer"]["leave_one_group_out"]["calibration"]["suggestions"]
    assert lo["reliability_after"]["ece"] == pytest.approx(lo["ece_after"])
    ext = metrics["transfer"]["external"]["gen2"]["calibration"]["suggestions"]
    assert ext["reliability_before"]["ece"] == pytest.approx(ext["ece_before"])
    io = metrics["intro_outro_confusion"]
    assert set(io) == {"model", "model_smoothed"} and 0.0 <= io["model_smoothed"] <= 1.0
    assert metrics["rejections"]["spans"] == 10 and metrics["rejections"]["not_windows_trained"] > 0


def _cells(html: str, row: str) -> list[str]:
    """The cell texts of the first table row whose first cell is ``row``."""
    m = re.search(rf"<tr><td>{re.escape(row)}</td>(.*?)</tr>", html)
    assert m, f"no row {row!r}"
    return re.findall(r"<td[^>]*>(.*?)</td>", m.group(1))


def test_sections_part_shows_scopes_baselines_suggestion_ece_and_rejections(metrics):
    from workbench.report import html as H
    from workbench.report.sections import sections_part

    figures: dict[str, object] = {}

    def figure(name, fig, alt):
        figures[name] = fig
        return f"<img alt='{alt}'>"

    html = sections_part(metrics, figure)
    lo, ext = metrics["transfer"]["leave_one_group_out"], metrics["transfer"]["external"]["gen2"]
    # in-domain, cross-style and cross-generator, each with its majority, logreg and novelty baselines
    for name, block in (("in-domain", metrics), ("cross-style", lo), ("cross-generator: gen2", ext)):
        cells = _cells(html, name)
        assert cells[1] == H.fmt(block["model_smoothed"]["accuracy"])
        assert cells[2] == H.fmt(block["baselines"]["majority"]["accuracy"])
        assert cells[3] == H.fmt(block["baselines"]["logreg"]["accuracy"])
        assert cells[7] == H.fmt(block["segments"]["novelty"]["boundary_f_3s"])
        assert cells[9] == H.fmt(block["segments"]["novelty"]["boundary_f_0.5s"])
    assert _cells(html, "cross-style")[0] == "9" and _cells(html, "cross-generator: gen2")[0] == "4"
    # window ECE next to the suggestion ECE, per scope (the calibration table is the second table with these rows)
    cal = html[html.index("<h3>Calibration</h3>"):]
    for name, block in (("in-domain", metrics), ("cross-style", lo), ("cross-generator: gen2", ext)):
        cells = _cells(cal, name)
        assert cells[1] == H.number(block["calibration"]["ece_after"])  # 4 fixed decimals, as every score
        assert cells[2] == H.number(block["calibration"]["suggestions"]["ece_before"])
        assert cells[3] == H.number(block["calibration"]["suggestions"]["ece_after"])
        span = block["calibration"]["suggestions"]["span"]["after"]  # each suggestion once, with its count
        assert cells[4] == H.number(span["ece"]) and cells[8] == str(span["n_suggestions"])
        assert cells[5] == f"{span['interval'][0]:.4f}-{span['interval'][1]:.4f}" and cells[6] == H.number(span["floor"])
        assert cells[7] == H.number(span["floor_95"]) and span["floor_95"] >= span["floor"]
    assert {"reliability", "reliability_suggestions"} <= set(figures)
    labels = [line.get_label() for line in figures["reliability_suggestions"].axes[0].get_lines()]
    assert any(lab.startswith("cross-style, stated") for lab in labels)
    assert any(lab.startswith("cross-generator: gen2, map") for lab in labels)
    # rejection counts from metrics["rejections"]
    rej = html[html.index("<h3>Rejected suggestions"):]
    assert f"<td class=\"num\">{metrics['rejections']['not_windows_trained']}</td>" in rej
    assert "rejected suggestions (spans)" in rej and "trained on accepted labels only" not in rej


def test_sections_part_without_transfer_or_rejections_says_so():
    from workbench.report.sections import rejections_part, scopes_table, sections_part

    m = {"model_smoothed": {"accuracy": 0.9, "macro_f1": 0.8}, "baselines": {"majority": {"accuracy": 0.3}},
         "transfer": {"leave_one_group_out": {"skipped": "the labelled tracks are all in one group (x)"}},
         "rejections": {"spans": 0, "not_windows": 0}}
    html = sections_part(m, lambda name, fig, alt: "")
    assert "not scored: cross-style: the labelled tracks are all in one group (x)" in html
    assert "No other set was scored" in scopes_table(m)
    assert "trained on accepted labels only" in rejections_part(m)
    assert "not recorded" in rejections_part({})


def test_the_calibration_table_gives_no_bootstrap_interval_over_one_track():
    """Session 22's QA on real music (one held-out track): the in-domain row's "95 % interval" read "0.509-0.509", a
    bootstrap over one track that looks exact; the other scope's interval is written with 4 decimals, as every score."""
    from workbench.report.sections import calibration_table

    def span(ece, interval, n_tracks):
        return {"suggestions": {"span": {"after": {"ece": ece, "interval": interval, "n_tracks": n_tracks,
                                                   "n_suggestions": 8}}}}

    metrics = {"model_smoothed": {"accuracy": 0.5}, "calibration": span(0.5094, [0.5094, 0.5094], 1),
               "transfer": {"leave_one_group_out": {"model_smoothed": {"accuracy": 0.5}, "groups": {"folder:a": 3},
                                                    "calibration": span(0.1354, [0.05104, 0.41203], 3)}}}
    html = calibration_table(metrics)
    assert "0.5094-0.5094" not in html and "0.509-0.509" not in html, html
    assert "none (1 track: nothing to resample)" in html and "0.0510-0.4120" in html, html
    assert ">0.5094<" in html and ">0.1354<" in html, html
