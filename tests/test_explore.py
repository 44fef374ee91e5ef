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
