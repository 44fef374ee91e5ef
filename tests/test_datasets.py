"""Training sets from cached embeddings, class sources, and grouped splits that never leak a track."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from workbench.augment import AugmentSettings
from workbench.errors import ParameterError
from workbench.library import Library
from workbench.train.datasets import (
    EmbeddingSet,
    LeakageError,
    assert_no_leakage,
    class_of,
    demo_sections,
    grouped_kfold,
    grouped_split,
    section_windows,
    split_groups,
    track_embeddings,
    whole_tracks,
)

SR = 22050


def _write(path, *, freq_hz, seed, artist=None, duration_s=4.0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    y = (0.3 * np.sin(2 * np.pi * freq_hz * t) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=1, format="FLAC") as f:
        if artist:
            f.artist = artist
        f.write(y)


@pytest.fixture(scope="module")
def styled_library(tmp_path_factory):
    """Five tracks: four with a JSON beside them holding a "style" (two with sections too), one bare."""
    root = tmp_path_factory.mktemp("styled")
    folder = root / "music"
    folder.mkdir()
    specs = [("001_techno", 110.0, "DJ A", True), ("002_house", 440.0, "DJ B", True),
             ("003_techno", 120.0, "DJ A", False), ("004_house", 460.0, None, False), ("mystery", 900.0, None, False)]
    for i, (stem, f, artist, truth) in enumerate(specs):
        _write(folder / f"{stem}.flac", freq_hz=f, seed=i, artist=artist)
        if truth:
            style = stem.split("_")[1]
            (folder / f"{stem}.json").write_text(json.dumps({"style": style, "sections": [
                {"start_s": 0.0, "end_s": 2.0, "label": "intro"}, {"start_s": 2.0, "end_s": 4.0, "label": "drop"}]}))
        elif "_" in stem:  # a style tag but no sections
            (folder / f"{stem}.json").write_text(json.dumps({"style": stem.split("_")[1]}))
    lib = Library(root / "lib.db")
    lib.scan(folder, progress=False)
    yield lib
    lib.close()



# ------------------------------------------------------------------ classes


def test_class_sources(styled_library):
    tracks = {t.path.rsplit("/", 1)[-1].split(".")[0]: t for t in styled_library.tracks()}
    assert class_of(tracks["001_techno"], "style") == "techno"  # from the truth JSON
    assert class_of(tracks["004_house"], "style") == "house"  # a JSON with the style only
    assert class_of(tracks["mystery"], "style") is None
    assert class_of(tracks["001_techno"], "artist") == "DJ A"
    assert class_of(tracks["004_house"], "artist") is None
    assert class_of(tracks["mystery"], "track") == str(tracks["mystery"].id)
    assert class_of(tracks["mystery"], {tracks["mystery"].id: "crate 1"}) == "crate 1"
    assert class_of(tracks["mystery"], {tracks["mystery"].content_hash: "crate 2"}) == "crate 2"
    assert class_of(tracks["mystery"], lambda t: "x" if t.id else None) == "x"
    assert class_of(tracks["mystery"], "self") == str(tracks["mystery"].id)
    assert class_of(tracks["mystery"], "folder") is None  # directly in the scanned folder
    with pytest.raises(ParameterError, match=r"classes_from must be one of 'folder', 'artist', 'self'.*got 'genre'"):
        class_of(tracks["mystery"], "genre")
    with pytest.raises(ParameterError, match=r"'crates' and 'auto' need the library.*got 'crates'"):
        class_of(tracks["mystery"], "crates")


def test_track_embeddings_by_style_with_views(styled_library):
    data = track_embeddings(styled_library, classes_from="style", progress=False)
    assert data.classes == ["house", "techno"] and len(data) == 4 and data.dim == 202
    assert data.meta["dropped"] == [t.id for t in styled_library.tracks() if "mystery" in t.path]
    assert (data.view == 0).all() and data.X.dtype == np.float32
    views = track_embeddings(styled_library, classes_from="style", n_views=2, seed=1, progress=False,
                             augment_settings=AugmentSettings(gain_p=1.0))
    assert len(views) == 12 and sorted(set(views.view.tolist())) == [0, 1, 2]
    np.testing.assert_array_equal(views.originals().X, data.X)  # view 0 is the cached original
    for tid in set(views.track_ids.tolist()):  # a track's views share its class
        assert len(set(views.y[views.track_ids == tid].tolist())) == 1
    assert not np.allclose(views.X[views.view == 1], data.X)


def test_track_identity_classes_need_views(styled_library):
    with pytest.raises(ParameterError, match=r"classes_from='track' .* pass n_views >= 1"):
        track_embeddings(styled_library, classes_from="track", progress=False)
    data = track_embeddings(styled_library, classes_from="track", n_views=1, progress=False)
    assert len(data.classes) == 5 and (np.bincount(data.y) == 2).all()
    with pytest.raises(ParameterError, match=r"classes_from must be one of \['auto', 'crates', 'folder', 'artist', "
                                             r"'self'\].*got 'label'"):
        track_embeddings(styled_library, classes_from="label", progress=False)
    with pytest.raises(ParameterError, match=r"n_views must be an int >= 0; got -1"):
        track_embeddings(styled_library, n_views=-1, progress=False)


def test_section_windows_from_dicts_and_demo_truth(styled_library):
    sections = demo_sections(styled_library)
    assert len(sections) == 4 and {s["label"] for s in sections} == {"intro", "drop"}
    data = section_windows(styled_library, sections, window_s=1.0, progress=False)
    assert data.classes == ["drop", "intro"]
    assert len(data) == 8  # 4 sections of 2 s, 1-s windows
    assert (data.rows["end_s"] - data.rows["start_s"] <= 1.0 + 1e-9).all()
    assert list(data.rows["section"]) == [data.classes[i] for i in data.y]
    by_style = section_windows(styled_library, sections, window_s=1.0, hop_s=0.5, classes_from="style",
                               progress=False)
    assert by_style.classes == ["house", "techno"] and len(by_style) == 12  # 3 windows per 2-s section
    whole = section_windows(styled_library, whole_tracks(styled_library), window_s=2.0, classes_from="style",
                            n_views=1, progress=False)
    assert len(whole) == 4 * 2 * 2 and set(whole.view.tolist()) == {0, 1}  # 4 styled tracks x 2 windows x 2 views


def test_section_window_errors(styled_library):
    t = styled_library.tracks()[0]
    with pytest.raises(ParameterError, match=r"a section needs 0 <= start_s < end_s"):
        section_windows(styled_library, [{"track_id": t.id, "label": "drop", "start_s": 2.0, "end_s": 1.0}],
                        progress=False)
    with pytest.raises(ParameterError, match=r"a section needs track_id, label, start_s and end_s"):
        section_windows(styled_library, [{"label": "drop"}], progress=False)
    with pytest.raises(ParameterError, match=r"window_s must be a number of seconds > 0; got 0"):
        section_windows(styled_library, [], window_s=0, progress=False)
    with pytest.raises(ParameterError, match=r"hop_s must be a number of seconds > 0 or None; got -1"):
        section_windows(styled_library, [], hop_s=-1, progress=False)


# ------------------------------------------------------------------ grouped splits never leak


def _rows(n_tracks=40, views=3, windows=4, seed=0):
    """Rows of windows x views of tracks; a third of the artists unknown."""
    rng = np.random.default_rng(seed)
    tracks = np.repeat(np.arange(n_tracks), views * windows)
    artist_of = {t: (None if t % 3 == 0 else f"artist {int(rng.integers(8))}") for t in range(n_tracks)}
    artists = np.array([artist_of[t] for t in tracks], dtype=object)
    y = np.array([t % 4 for t in tracks])
    view = np.tile(np.repeat(np.arange(views), windows), n_tracks)
    return tracks, artists, y, view


@pytest.mark.parametrize("seed", range(5))
def test_grouped_split_keeps_tracks_views_and_artists_on_one_side(seed):
    tracks, artists, y, _ = _rows(seed=seed)
    for kwargs in ({}, {"artists": artists}, {"y": y}, {"artists": artists, "y": y}):
        train, test = grouped_split(tracks, test_size=0.25, seed=seed, **kwargs)
        assert len(train) + len(test) == len(tracks) and len(np.intersect1d(train, test)) == 0
        assert not set(tracks[train]) & set(tracks[test])  # no window or view of a track on both sides
        if "artists" in kwargs:
            known = lambda idx: {a for a in artists[idx] if a is not None}  # noqa: E731
            assert not known(train) & known(test)
        assert 0.05 < len(test) / len(tracks) < 0.6


def test_grouped_kfold_covers_every_row_once_without_leakage():
    tracks, artists, y, _ = _rows(seed=1)
    for kwargs in ({}, {"artists": artists}, {"y": y}):
        folds = grouped_kfold(tracks, n_splits=4, seed=2, **kwargs)
        assert len(folds) == 4
        all_test = np.concatenate([te for _, te in folds])
        assert sorted(all_test.tolist()) == list(range(len(tracks)))
        for train, test in folds:
            assert not set(tracks[train]) & set(tracks[test])
            assert_no_leakage(tracks, train, test, artists=kwargs.get("artists"))


def test_split_is_seeded():
    tracks, artists, y, _ = _rows()
    a = grouped_split(tracks, test_size=0.3, seed=4, y=y)
    b = grouped_split(tracks, test_size=0.3, seed=4, y=y)
    c = grouped_split(tracks, test_size=0.3, seed=5, y=y)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_assert_no_leakage_catches_tracks_artists_and_rows():
    tracks = np.array([1, 1, 2, 2, 3, 3])
    with pytest.raises(LeakageError, match=r"1 track has rows on both sides of the split: \[2\]"):
        assert_no_leakage(tracks, [0, 1, 2], [3, 4, 5])
    artists = np.array(["A", "A", "B", "B", "A", "A"], dtype=object)
    with pytest.raises(LeakageError, match=r"1 artist has tracks on both sides of the split: \['a'\]"):
        assert_no_leakage(tracks, [0, 1, 2, 3], [4, 5], artists=artists)
    with pytest.raises(LeakageError, match=r"rows \[1\] are in both train and test"):
        assert_no_leakage(tracks, [0, 1], [1])
    assert_no_leakage(tracks, [0, 1, 2, 3], [4, 5])  # clean: no error


def test_embedding_set_split_by_track_with_views(styled_library):
    data = track_embeddings(styled_library, classes_from="style", n_views=1, progress=False)
    train, test = data.split(test_size=0.5, seed=0, by_artist=False)
    assert len(train) + len(test) == len(data)
    assert not set(train.track_ids) & set(test.track_ids)
    # with artists: DJ A's two tracks go together
    train, test = data.split(test_size=0.5, seed=0, by_artist=True, stratify=False)
    dj_a = {t.id for t in styled_library.tracks() if t.artist == "DJ A"}
    assert dj_a <= set(train.track_ids) or dj_a <= set(test.track_ids)
    assert len(data.kfold(n_splits=2, seed=0, by_artist=False)) == 2


@pytest.mark.parametrize(("call", "match"), [
    (lambda: grouped_split([1, 1, 1], test_size=0.5), r"a grouped split needs at least 2 groups .* got 1 in 3 rows"),
    (lambda: grouped_split([1, 2, 3], test_size=0.5, artists=["X", "X", "x"]),
     r"needs at least 2 groups .*pass artists=None \(by_artist=False\) when one artist made every track"),
    (lambda: grouped_split([1, 2], test_size=1.5), r"test_size must be a fraction in \(0, 1\); got 1.5"),
    (lambda: grouped_split([1, 2], seed=-3), r"seed must be an int >= 0; got -3"),
    (lambda: grouped_split([1, 2], y=[0]), r"y must have one entry per row \(2\); got 1"),
    (lambda: grouped_kfold([1, 2, 3], n_splits=5), r"n_splits=5 needs at least as many groups .*got 3"),
    (lambda: grouped_kfold([1, 2, 3], n_splits=1), r"n_splits must be an int >= 2; got 1"),
    (lambda: split_groups([1, 2], artists=["a"]), r"artists must have one entry per group entry \(2\); got 1"),
    (lambda: split_groups([[1, 2]]), r"groups must be a 1-d sequence"),
])
def test_split_errors(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"X": np.zeros(3)}, r"X must have shape \(n, d\)"),
    ({"y": [0, 1]}, r"y must have one entry per row of X \(3\); got 2"),
    ({"y": [0, 1, 5]}, r"y must index classes \(0..1\); got 0..5"),
    ({"artists": ["a"]}, r"artists must have one entry per row of X \(3\); got 1"),
    ({"rows": {"start_s": np.zeros(2)}}, r"rows\['start_s'\] must have one entry per row of X \(3\); got 2"),
])
def test_embedding_set_validation(kwargs, match):
    base = {"X": np.zeros((3, 2)), "y": [0, 1, 1], "classes": ["a", "b"], "track_ids": [1, 2, 3], "view": [0, 0, 0]}
    with pytest.raises(ParameterError, match=match):
        EmbeddingSet(**{**base, **kwargs})


def test_subset_and_counts():
    data = EmbeddingSet(np.eye(4), [0, 1, 1, 1], ["a", "b"], [1, 2, 3, 3], [0, 0, 0, 1],
                        rows={"start_s": np.arange(4.0)})
    assert data.class_counts() == {"a": 1, "b": 3}
    sub = data.subset(np.array([False, True, False, True]))
    assert sub.track_ids.tolist() == [2, 3] and sub.rows["start_s"].tolist() == [1.0, 3.0]
    assert data.originals().view.tolist() == [0, 0, 0]
    with pytest.raises(ParameterError, match=r"a boolean index must have 4 entries; got 2"):
        data.subset(np.array([True, False]))


def test_sections_default_to_the_label_store(styled_library):
    from workbench.labels import Labels
    from workbench.train.datasets import library_sections

    assert len(Labels(styled_library)) == 0 and library_sections(styled_library) == []
    empty = section_windows(styled_library, progress=False)  # no stored labels: no windows, right width
    assert len(empty) == 0 and empty.dim == 202 and empty.classes == []
