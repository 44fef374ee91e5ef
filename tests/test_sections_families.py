"""Label families: learned from which labels share a track, each track decoded within one family."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from section_tracks import synthetic_track  # noqa: E402 (tests/ on sys.path)

from workbench.errors import ParameterError

EDM = ("intro", "build", "drop", "break", "build", "drop", "outro")
SONG = ("intro", "verse", "chorus", "verse", "chorus", "outro")
CLASSES = ("intro", "build", "drop", "break", "outro", "verse", "chorus")
FAST = {"epochs": 6, "transfer_epochs": 4, "hidden_dim": 32, "baselines": ["majority", "logreg"],
        "min_per_class": 2, "seed": 0}


def _data(forms: dict[str, tuple[str, ...]], per_group: int = 3, seed: int = 0):
    from workbench.train.sections import SectionData, WindowFeatures

    rng = np.random.default_rng(seed)
    centres = {c: rng.normal(0, 3.0, 12) for c in CLASSES}
    tracks = [synthetic_track(i * per_group + k + 1, form, g, rng, centres) for i, (g, form) in enumerate(forms.items())
              for k in range(per_group)]
    return SectionData(tracks, WindowFeatures(context_s=(4.0,)), "test")


def test_families_are_learned_from_which_labels_share_a_track():
    from workbench.train.sections.families import assign_tracks, learn_families

    edm, song = set(EDM), set(SONG)
    fams = learn_families([edm] * 3 + [edm - {"break"}] * 2 + [song] * 2)
    assert fams == [("intro", "build", "drop", "break", "outro"), ("intro", "outro", "verse", "chorus")]
    assert learn_families([edm] * 4) == [("intro", "build", "drop", "break", "outro")]  # one family: every label
    # a label on one track only is judged apart from nothing: it joins every family
    fams = learn_families([edm - {"break"}] * 3 + [song] * 2 + [song | {"break"}])
    assert fams == [("intro", "build", "drop", "break", "outro"), ("intro", "break", "outro", "verse", "chorus")]
    rare = learn_families([edm] * 3 + [song] * 2 + [{"intro", "drop", "verse", "outro"}], min_tracks=4)
    assert len(rare) == 1 and set(rare[0]) == edm | song  # verse on 3 tracks: too few to judge, one family
    # a track with labels of both families counts in the one holding more of them; ties (shared labels only) halve
    w = assign_tracks([edm, song, edm | song, {"intro"}, {"intro", "drop", "verse", "chorus"}],
                      [tuple(edm), ("intro", "outro", "verse", "chorus")])
    np.testing.assert_allclose(w, [[1, 0], [0, 1], [1, 0], [0.5, 0.5], [0, 1]])
    with pytest.raises(ParameterError, match="apart_at must be a float in \\[0, 1\\); got 1"):
        learn_families([edm], apart_at=1)
    with pytest.raises(ParameterError, match="min_tracks must be an int >= 1; got 0"):
        learn_families([edm], min_tracks=0)


def test_path_score_is_the_score_viterbi_maximises():
    from workbench.train import smoothing as sm
    from workbench.train.sections.families import path_score

    rng = np.random.default_rng(5)
    n, k = 5, 3
    ev = np.log(rng.dirichlet(np.ones(k), size=n))
    opts = {"min_len": 1, "switch_penalty": 0.7, "evidence_weight": 1.3,
            "log_transitions": np.log(rng.dirichlet(np.ones(k), size=k)), "log_init": np.log(rng.dirichlet(np.ones(k))),
            "log_final": np.log(rng.dirichlet(np.ones(k))), "log_middle": np.log(rng.dirichlet(np.ones(k))),
            "length_logprior": lambda L: -0.3 * np.asarray(L, dtype=float)[:, None] * np.arange(1, k + 1)[None, :],
            "boundary_bonus": rng.normal(0, 1, n)}
    best = sm.segment_viterbi(ev, **opts)
    every = []  # every segmentation of 5 bars into labelled runs (neighbours differ)
    for cuts in product([0, 1], repeat=n - 1):
        bounds = [0] + [i + 1 for i, c in enumerate(cuts) if c] + [n]
        for labs in product(range(k), repeat=len(bounds) - 1):
            if any(a == b for a, b in zip(labs[:-1], labs[1:], strict=True)):
                continue
            every.append(path_score(ev, [sm.Segment(a, b, lab) for a, b, lab in
                                         zip(bounds[:-1], bounds[1:], labs, strict=True)], **opts))
    assert path_score(ev, best, **opts) == pytest.approx(max(every))
    assert len(every) > 50 and min(every) < max(every) - 1


def test_a_track_is_decoded_within_one_family():
    from workbench.train.sections import segments_for
    from workbench.train.sections.families import with_families
    from workbench.train.sections.grammar import learn_grammar, track_sequences

    data = _data({"edm": EDM, "song": SONG}, per_group=3)
    base = learn_grammar(track_sequences(data.tracks), CLASSES, weight=2.0, position_weight=1.5)
    g = with_families(base, data.tracks, mode="learned")
    assert g.families.names == ("intro/build/drop/break/outro", "intro/outro/verse/chorus")
    assert g.families.tracks == (3.0, 3.0)
    from workbench.train.sections.families import LabelFamilies

    again = LabelFamilies.from_dict(g.families.to_dict())
    assert again.names == g.families.names and again.grammars[1].classes == ("intro", "outro", "verse", "chorus")
    tr = data.tracks[0]  # an EDM track whose drops sound like choruses (the cross-generator error)
    lab = tr.window_labels()
    probs = np.full((len(tr.times_s), len(CLASSES)), 0.02)
    for i, c in enumerate(lab):
        probs[i, CLASSES.index(c)] = 0.9
    drops = lab == "drop"
    probs[drops, CLASSES.index("drop")], probs[drops, CLASSES.index("chorus")] = 0.2, 0.7
    probs /= probs.sum(axis=1, keepdims=True)
    one = segments_for(tr, probs, CLASSES, grammar=base, novelty_weight=8.0)
    assert "chorus" in [s.label for s in one] and {s.family for s in one} == {None}
    fam = segments_for(tr, probs, CLASSES, grammar=g, novelty_weight=8.0)
    assert [s.label for s in fam] == list(EDM)
    assert {s.family for s in fam} == {"intro/build/drop/break/outro"}
    song = data.tracks[-1]  # a song track stays a song
    p = np.full((len(song.times_s), len(CLASSES)), 0.05)
    for i, c in enumerate(song.window_labels()):
        p[i, CLASSES.index(c)] = 0.7
    p /= p.sum(axis=1, keepdims=True)
    s = segments_for(song, p, CLASSES, grammar=g)
    assert [x.label for x in s] == list(SONG) and s[0].family == "intro/outro/verse/chorus"


def test_one_family_libraries_are_unchanged_and_bad_values_refused():
    from workbench.train.sections import train_sections
    from workbench.train.sections.families import with_families
    from workbench.train.sections.grammar import learn_grammar, track_sequences

    data = _data({"a": EDM, "b": EDM, "c": EDM}, per_group=2)
    g = learn_grammar(track_sequences(data.tracks), CLASSES[:5])
    assert with_families(g, data.tracks, mode="learned") is g and with_families(None, data.tracks, mode="learned") is None
    off = train_sections(data, config=FAST, progress=False)
    on = train_sections(data, config={**FAST, "label_families": "learned"}, progress=False)
    assert on.trainer.grammar_.families is None and "label_families" not in on.metrics
    for key in ("model", "model_smoothed"):
        assert on.metrics[key]["accuracy"] == off.metrics[key]["accuracy"]
    assert (on.metrics["transfer"]["leave_one_group_out"]["model_smoothed"]
            == off.metrics["transfer"]["leave_one_group_out"]["model_smoothed"])
    with pytest.raises(ParameterError, match=r"config label_families must be one of \['off', 'learned'\]; got 'auto'"):
        train_sections(data, config={**FAST, "label_families": "auto"}, progress=False)
    with pytest.raises(ParameterError, match=r"label_families must be one of .*; got True"):
        with_families(g, data.tracks, mode=True)  # type: ignore[arg-type]


def test_train_sections_names_each_tracks_family(tmp_path):
    from workbench.train.sections import load_section_model, save_section_model, train_sections

    data = _data({"a": EDM, "b": SONG, "c": EDM, "d": SONG}, per_group=2)
    res = train_sections(data, config={**FAST, "label_families": "learned"}, progress=False)
    m = res.metrics
    names = {"intro/build/drop/break/outro", "intro/outro/verse/chorus"}
    assert set(m["label_families"]["families"]) == names
    held = m["label_families"]["held_out"]
    assert set(held) == set(m["test_tracks"]) and set(held.values()) <= names
    assert all(t["family"] in names for t in res.timeline)
    loso = m["transfer"]["leave_one_group_out"]
    assert set(loso["label_families"]) == {t.track_id for t in data.tracks}
    from workbench.report.sections import families_part

    html = families_part(m)
    assert "intro/outro/verse/chorus (" in html and "cross-style: " in html and "in-domain: " in html
    assert families_part({"model": {}}) == ""
    # the model file keeps the families
    save_section_model(res.trainer, tmp_path / "m.pt", features=res.features, backbone="test")
    back, _, _ = load_section_model(tmp_path / "m.pt")
    assert back.grammar_.families.names == res.trainer.grammar_.families.names


def test_tracks_using_two_families_form_a_family_of_every_label():
    from workbench.train.sections import segments_for
    from workbench.train.sections.families import with_families
    from workbench.train.sections.grammar import learn_grammar, track_sequences

    house = ("intro", "verse", "chorus", "break", "build", "drop", "outro")
    data = _data({"edm": EDM, "song": SONG, "house": house}, per_group=2)
    base = learn_grammar(track_sequences(data.tracks), CLASSES, weight=2.0)
    g = with_families(base, data.tracks, mode="learned")
    assert g.families.names[-1] == "/".join(CLASSES) and g.families.tracks[-1] == 2.0
    assert with_families(base, data.tracks, mode="learned", mixed=False).families.tracks == (4.0, 2.0)
    assert with_families(base, data.tracks[:-1], mode="learned").families.tracks == (3.0, 2.0)  # one: no family
    tr = data.tracks[-1]
    p = np.full((len(tr.times_s), len(CLASSES)), 0.05)
    for i, c in enumerate(tr.window_labels()):
        p[i, CLASSES.index(c)] = 0.7
    p /= p.sum(axis=1, keepdims=True)
    out = segments_for(tr, p, CLASSES, grammar=g)
    assert [s.label for s in out] == list(house) and out[0].family == "/".join(CLASSES)


def test_decoding_with_no_family_is_refused_by_name():
    from workbench.train.sections.families import LabelFamilies

    empty = LabelFamilies(labels=(), grammars=(), log_prior=np.zeros(0), tracks=())
    with pytest.raises(ParameterError, match="label families must hold at least one family to decode with; got 0"):
        empty.decode(np.full((8, 2), 0.5), np.arange(0, 8, 4), ("intro", "drop"))


def test_family_grammars_keep_the_labels_left_out_of_the_position_factor():
    from workbench.train.sections.families import with_families
    from workbench.train.sections.grammar import learn_grammar, track_sequences

    data = _data({"edm": EDM, "song": SONG}, per_group=3)
    for free in ([], ["build"]):
        base = learn_grammar(track_sequences(data.tracks), CLASSES, weight=2.0, position_free=free)
        edm = with_families(base, data.tracks, mode="learned").families.grammars[0]
        assert "build" in edm.classes
        assert bool(np.any(edm.log_position[edm.classes.index("build")])) == (not free)
        assert np.any(edm.log_position[edm.classes.index("drop")])


def test_position_free_labels_come_from_the_config_not_from_rows_that_happen_to_be_zero():
    """A label whose learned position factor is exactly 0 is not free (only config ``position_free`` says so): its
    family grammars learn its position; the free labels are kept on the grammar and in its dict."""
    from dataclasses import replace

    from workbench.train.sections.families import with_families
    from workbench.train.sections.grammar import Grammar, learn_grammar, track_sequences

    data = _data({"edm": EDM, "song": SONG}, per_group=3)
    base = learn_grammar(track_sequences(data.tracks), CLASSES, weight=2.0, position_free=["build"])
    assert base.position_free == ("build",)
    assert Grammar.from_dict(base.to_dict()).position_free == ("build",)
    drop = CLASSES.index("drop")
    zero = base.log_position.copy()
    zero[drop] = 0.0  # learned as no information, not left out
    edm = with_families(replace(base, log_position=zero), data.tracks, mode="learned").families.grammars[0]
    assert edm.position_free == ("build",)
    assert not np.any(edm.log_position[edm.classes.index("build")])
    assert np.any(edm.log_position[edm.classes.index("drop")])


def test_ends_weight_reaches_the_trained_grammar_its_families_and_the_model_file(tmp_path):
    from workbench.train.sections import load_section_model, save_section_model, train_sections

    data = _data({"a": EDM, "b": SONG, "c": EDM, "d": SONG}, per_group=2)
    res = train_sections(data, config={**FAST, "ends_weight": 3.0, "label_families": "learned", "transfer": False},
                         progress=False)
    g = res.trainer.grammar_
    assert g.ends_weight == 3.0 and all(f.ends_weight == 3.0 for f in g.families.grammars)
    save_section_model(res.trainer, tmp_path / "m.pt", features=res.features, backbone="test")
    assert load_section_model(tmp_path / "m.pt")[0].grammar_.ends_weight == 3.0
