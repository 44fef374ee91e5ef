"""The explorer groups the way the user organises music: crates, else folders, else style tags, else artists."""

from __future__ import annotations

import pytest
from test_crates import db  # noqa: F401  (the fixture: five tones in a/, b/x/ and the top folder)


def test_explorer_groups_by_crate_then_folder(db):  # noqa: F811
    from workbench import explore
    from workbench.crates import Crates
    from workbench.library import Library

    with Library(db) as lib:
        kind, groups = explore.track_groups(lib)
        assert kind == "folder"  # no crates yet: the sub-folders (top.wav: its folder's name)
        assert sorted(set(groups.values())) == ["a", "b/x", "music"]
        Crates(lib).import_folders()
        kind, groups = explore.track_groups(lib)
        assert kind == "crate" and sorted(set(groups.values())) == ["a", "b/x", "no crate"]
        assert set(explore.track_groups(lib, "artist")[1].values()) == {"unknown artist"}
        with pytest.raises(ValueError, match="group_by must be one of"):
            explore.track_groups(lib, "genre")
        table = explore.library_table(lib)
        assert table.attrs["group_by"] == "crate" and list(table.columns[:6]) == ["name", "artist", "folder", "crates",
                                                                                 "style", "group"]
        summary = explore.group_summary(table)
        assert summary.index.name == "crate" and summary["tracks"].to_dict() == {"a": 2, "b/x": 2, "no crate": 1}
        fig = explore.embedding_map(lib)
        ax = fig.axes[0]
        assert ax.get_legend().get_title().get_text() == "crate"
        assert sorted(t.get_text() for t in ax.texts) == ["four", "one", "three", "top", "two"]  # names beside points
        assert not explore.embedding_map(lib, names=False).axes[0].texts
        fig = explore.plot_distributions(table)
        assert fig.axes[0].get_legend().get_title().get_text() == "crate"


def test_an_empty_library_says_how_to_open_a_workspace_made_with_home(tmp_path):
    """README's own-music path scans with `workbench --home ~/wb`; a notebook started without
    WORKBENCH_HOME opened the repo's empty data/workbench.db and said only 'run workbench scan',
    which the user had just done."""
    from workbench.errors import ParameterError
    from workbench.explore import require_tracks
    from workbench.library import Library

    lib = Library(tmp_path / "data" / "workbench.db")
    with pytest.raises(ParameterError) as err:
        require_tracks(lib)
    message = str(err.value)
    assert str(lib.path) in message and "workbench scan" in message
    assert "WORKBENCH_HOME=DIR" in message and "--home DIR" in message, message


def test_the_embedding_map_uses_the_backbone_search_ranks_on(db, monkeypatch):  # noqa: F811
    """Notebook 01 says the map is 'the library's backbone ... the feature frontend unless OpenL3 weights
    are installed', but the map always embedded with the feature frontend: with OpenL3 weights in
    models/openl3/, search ranked on OpenL3 while the map beside it showed the feature frontend."""
    import workbench.embed.batch as batch
    from workbench import explore
    from workbench.embed.features import FeatureFrontend
    from workbench.library import Library

    libraries_backbone = FeatureFrontend()  # stands in for OpenL3 (no weights on the test machines)
    monkeypatch.setattr(batch, "default_backbone", lambda **kw: (libraries_backbone, "OpenL3 (stand-in)"))
    used = []
    embed = batch.embed_library
    monkeypatch.setattr(batch, "embed_library", lambda lib, backbone, **kw: used.append(backbone) or embed(
        lib, backbone=backbone, **kw))
    with Library(db) as lib:
        explore.embedding_points(lib)
    assert used and used[0] is libraries_backbone, used
