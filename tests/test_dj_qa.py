"""What a DJ and producer meets on their own music (session 12's user QA): loops whose bars start
where the clip does, one lookup for a style profile's reference tracks, a resonance inside its
stated range, one backbone name in every run record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_user_qa import SR_DRUMS, drums

from workbench.cli import main

# -- downbeats of loops --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["loop_garzul.flac", "loop_mika.flac", "loop_amen_full.flac", "loop_safari.flac",
                                  "loop_tabla.flac"])
def test_a_loops_first_downbeat_is_where_the_clip_starts(real_audio_dir, name):
    """The bar-phase cues cannot see a loop's first beat (no beat before it to change from, and
    the onset at the first sample has no frame before it), so garzul and mika got their downbeats
    on beat 4, 1.5 s late; the Amen grid lost its first beat when it moved half a beat onto the
    snares, so its first downbeat came a bar late (1.71 s); the safari and tabla grids sat on the
    off-beats (first beat 0.24 s and 0.32 s: their "and"s are struck harder)."""
    from workbench import audio
    from workbench.analysis import analyze

    y, sr = audio.load(real_audio_dir / "loops" / name, mono=False)
    a = analyze(y, sr=sr)
    assert a.beats[0] < 0.05, a.beats[:3]
    assert a.downbeats[0] < 0.05, a.downbeats
    bar = 4 * 60.0 / a.bpm
    assert np.allclose(np.diff(a.downbeats), bar, atol=0.03)


def test_the_beat_before_a_moved_grid_comes_back_inside_the_music():
    from workbench.analysis.beats import _extend_to_start

    moved = np.array([0.43, 0.86, 1.29, 1.72])
    assert np.allclose(_extend_to_start(moved, first_s=0.0), [0.0, 0.43, 0.86, 1.29, 1.72])
    # a silent lead-in keeps the beats out of it
    assert np.allclose(_extend_to_start(moved, first_s=0.40), moved)
    # a beat a few ms before the first sample is the first sample's beat
    assert _extend_to_start(moved - 0.02, first_s=0.0)[0] == 0.0


# -- one lookup of a profile's reference tracks ---------------------------------------------------

@pytest.fixture(scope="module")
def scanned_home(tmp_path_factory) -> Path:
    """Four short drum clips in two sub-folders (grooves/, loops/), scanned (no analysis needed)."""
    music = tmp_path_factory.mktemp("music")
    for j, (folder, names) in enumerate((("grooves", ("a", "b")), ("loops", ("c", "d")))):
        (music / folder).mkdir()
        for i, n in enumerate(names):
            sf.write(music / folder / f"{n}.flac", drums(120.0 + 4 * i + 10 * j, 4.0, seed=2 * j + i), SR_DRUMS)
    home = tmp_path_factory.mktemp("ws")
    assert main(["--home", str(home), "--quiet", "scan", str(music)]) == 0
    return home


def test_reference_tracks_looks_only_where_it_is_told(scanned_home):
    import workbench
    from workbench.crates import Crates
    from workbench.errors import ParameterError
    from workbench.style import reference_tracks

    lib = workbench.Library(scanned_home / "data" / "workbench.db")
    Crates(lib).add("loops", [t.id for t in lib.tracks() if t.folder == "grooves"])  # a crate named as a folder
    assert reference_tracks(lib, "loops")[1] == "crate:loops"
    tracks, source = reference_tracks(lib, "loops", kind="folder")
    assert source == "folder:loops" and sorted(Path(t.path).name for t in tracks) == ["c.flac", "d.flac"]
    with pytest.raises(ParameterError, match=r"must name a crate \(crates: loops\); got 'grooves'"):
        reference_tracks(lib, "grooves", kind="crate")
    with pytest.raises(ParameterError, match=r"kind must be None, 'crate' or 'folder'; got 'album'"):
        reference_tracks(lib, "loops", kind="album")


def test_profile_build_folder_says_what_reference_tracks_says(scanned_home, capsys):
    """`profile build --folder` had its own copy of the lookup, with another message."""
    import workbench
    from workbench.errors import ParameterError
    from workbench.style import reference_tracks

    lib = workbench.Library(scanned_home / "data" / "workbench.db")
    with pytest.raises(ParameterError) as helper:
        reference_tracks(lib, "techno", kind="folder")
    capsys.readouterr()
    assert main(["--home", str(scanned_home), "profile", "build", "ref", "--folder", "techno"]) != 0
    err = capsys.readouterr().err
    assert str(helper.value) in err and "folders: grooves, loops" in err


# -- the acid resonance stays in its stated range -------------------------------------------------

def test_a_lone_tone_over_a_quiet_band_reads_at_the_top_of_the_stated_range():
    from workbench.style.acid import _resonance_db
    from workbench.style.features import FEATURES

    freqs = np.fft.rfftfreq(2048, 1 / 22050)
    column = np.full(freqs.size, 1e-7)
    f0 = 110.0
    for k in range(1, 20):
        column[int(np.argmin(np.abs(freqs - k * f0)))] = (100.0 if k == 10 else 1.0) / k  # a saw, one harmonic +40 dB
    spec = np.tile(column[:, None], (1, 8))
    value = _resonance_db(spec, freqs, np.arange(8))
    stated = next(f for f in FEATURES if f.name == "acid_resonance_db")
    assert stated.low <= value <= stated.high
    assert value == pytest.approx(stated.high)  # 40 dB uncapped: "30 dB or more"


def test_a_profile_range_is_never_inverted_by_the_stated_bounds():
    from workbench.style.profiles import _bounded_stats

    st = _bounded_stats("acid_resonance_db", np.array([36.0, 38.0, 40.5, 39.0, 37.5]), seed=0)
    lo, hi = st["range"]
    assert lo <= hi <= 30.0


# -- QA flags ---------------------------------------------------------------------------------------

def test_drum_loops_with_no_key_are_not_flagged_for_an_uncertain_key(scanned_home):
    """The analysis says "no key" for drums; `workbench qa` still asked to review their key."""
    import workbench
    from workbench.analysis import track_analysis
    from workbench.qa import qa_report

    assert main(["--home", str(scanned_home), "--quiet", "analyze", "--workers", "1"]) == 0
    lib = workbench.Library(scanned_home / "data" / "workbench.db")
    assert not any(track_analysis(lib, t, compute=False).has_key for t in lib.tracks())
    flagged = {f.name for r in qa_report(lib) for f in r.flags}
    assert "low_key_confidence" not in flagged


def test_five_reference_tracks_make_one_cluster_without_a_silhouette_claim():
    """`profile show` said "style clusters: 1 (silhouette 0.00)", chosen by silhouette, where no
    silhouette was compared: two clusters of 3+ tracks need 6 tracks."""
    from workbench.style.profiles import _clusters

    rng = np.random.default_rng(0)
    one = _clusters(rng.standard_normal((5, 8)), k=None, seed=0)
    assert one["k"] == 1 and one["silhouette"] is None and "too few tracks (5" in one["chosen"]
    two = _clusters(np.concatenate([rng.normal(3, 0.1, (4, 8)), rng.normal(-3, 0.1, (4, 8))]), k=None, seed=0)
    assert two["k"] == 2 and two["silhouette"] > 0.5 and two["chosen"] == "silhouette"


# -- one name for the feature backbone ---------------------------------------------------------------

def test_an_embeddings_run_records_the_feature_backbone_by_the_name_sections_runs_use():
    """Embeddings runs recorded config.backbone "features", sections runs "features-v1": `runs
    compare` listed the backbone among the parameters that differ."""
    from workbench.train.backbones import backbone_by_name
    from workbench.train.embeddings_job import resolve_backbone

    data_cfg = {"backbone": "features"}
    b = resolve_backbone(None, data_cfg)
    assert data_cfg["backbone"] == "features-v1" == b.name
    assert backbone_by_name("features-v1").name == "features-v1"  # the recorded name builds it again


def test_an_old_embeddings_record_reads_with_the_same_backbone_name(tmp_path):
    from workbench.experiments_compare import run_params
    from workbench.report.examples import write_example_run
    from workbench.runs import load_run

    old = write_example_run("embeddings", root=tmp_path, config={"backbone": "features"})
    sections = write_example_run("sections", root=tmp_path, config={"backbone": "features-v1"})
    a, b = run_params(load_run(old)), run_params(load_run(sections))
    assert a["config.backbone"] == b["config.backbone"] == "features-v1"
    assert a["backbone"] == b["backbone"] == "features-v1"


def test_runs_list_shows_one_backbone_name_for_both_kinds(tmp_path):
    """`runs list` showed "features" for an embeddings run: its config's "backbone" overwrote the
    column read from run.json."""
    from workbench.experiments import runs_table
    from workbench.report.examples import write_example_run

    write_example_run("embeddings", root=tmp_path, config={"backbone": "features"})
    write_example_run("sections", root=tmp_path, config={"backbone": "features-v1"})
    assert runs_table(tmp_path)["backbone"].tolist() == ["features-v1", "features-v1"]


# -- plots ----------------------------------------------------------------------------------------------

def test_a_class_scoring_zero_is_labelled_not_left_blank():
    """The per-class figure of an embeddings run drew nothing for the loops class (P@1 0 on its two
    held-out windows): it read as a class left out."""
    from workbench.report.plots import per_class_figure

    fig = per_class_figure({"librosa_data": {"precision_at_1": 0.95, "n": 19},
                            "loops": {"precision_at_1": 0.0, "n": 2},
                            "stk": {"precision_at_1": float("nan"), "n": 0}})
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["0.9500", "0.0000", "n/a"]  # 4 decimals, as the project writes (session 21)


# -- labels ----------------------------------------------------------------------------------------------

def test_a_jams_export_of_many_tracks_names_the_cli_option(tmp_path):
    """`workbench labels export labels.jams` said "pass tracks= one track": a Python argument."""
    from workbench.labels.core import LabelError
    from workbench.labels.formats import write

    with pytest.raises(LabelError, match=r"`--track T` on the command line, tracks=\[T\] in Python"):
        write(tmp_path / "labels.jams", "jams", [(None, 1.0, []), (None, 1.0, [])])


def test_a_reliability_bin_of_a_few_items_draws_a_small_marker():
    """The suggestions' reliability diagram drew every bin alike: a bin of one suggestion at
    accuracy 1.0 read like a trend."""
    from workbench.report.sections import reliability_figure

    rel = {"confidence": [0.15, 0.55, None, 0.95], "accuracy": [1.0, 0.5, None, 0.9], "count": [1, 40, 0, 59],
           "ece": 0.1}
    fig = reliability_figure({"in-domain": rel})
    sizes = fig.axes[0].collections[0].get_sizes()
    assert sizes.size == 3 and sizes[0] < sizes[1] < sizes[2]
    assert "marker area" in fig.axes[0].get_xlabel()


def test_the_reliability_plot_gives_each_bins_count_and_says_when_too_few_to_read():
    """Session 22: the suggestions' reliability plot was drawn from as few as 8 suggestions and gave no count."""
    from workbench.report.sections import reliability_figure

    rel = {"confidence": [0.35, 0.55, None, 0.95], "accuracy": [0.5, 0.4, None, 0.8], "count": [30, 52, 0, 97],
           "ece": 0.1}
    fig = reliability_figure({"cross-style, stated": rel}, drawn_from={"cross-style, stated": 8})
    (ax,) = fig.axes
    assert sorted(t.get_text() for t in ax.texts) == ["30", "52", "97"]  # each non-empty bin's count
    assert ax.get_title().endswith("(179 windows in 8 suggestions)\ntoo few to read: under 5 suggestions a bin")
    many = {**rel, "count": [300, 520, 0, 970]}
    title = reliability_figure({"held-out": many}).axes[0].get_title()
    assert title.endswith("(1,790 windows)") and "too few" not in title, title


def test_a_crate_of_one_track_says_track(tmp_path, capsys):
    """`crates import-folders` printed "crate 'singularity': 1 added, 1 tracks"."""
    music = tmp_path / "music"
    (music / "solo").mkdir(parents=True)
    sf.write(music / "solo" / "a.flac", drums(124.0, 3.0, seed=7), SR_DRUMS)
    home = tmp_path / "ws"
    assert main(["--home", str(home), "--quiet", "scan", str(music)]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "crates", "import-folders"]) == 0
    assert "crate 'solo': 1 added, 1 track\n" in capsys.readouterr().out
