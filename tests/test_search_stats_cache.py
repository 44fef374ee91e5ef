"""LibrarySearch read the index's window statistics (standardize-windows.npz) from disk at every query it scaled
(a vector, a Query, an audio file); now once per index load or build, and a rebuild replaces them."""

from __future__ import annotations

import numpy as np
from test_search_model import lib, music, prepared  # noqa: F401  (fixtures)

from workbench.search import LibrarySearch


def test_window_stats_are_read_once_per_index_and_a_rebuild_replaces_them(lib, monkeypatch):  # noqa: F811
    reads = []
    real_load = np.load

    def counting_load(path, *args, **kwargs):
        if str(path).endswith("standardize-windows.npz"):
            reads.append(str(path))
        return real_load(path, *args, **kwargs)

    search = LibrarySearch(lib, model="backbone", progress=False).update()
    monkeypatch.setattr(np, "load", counting_load)
    vector = np.ones(search.index.dim, dtype=np.float32)
    first = [r.track.id for r in search.similar(vector, k=3)]
    for _ in range(3):
        assert [r.track.id for r in search.similar(vector, k=3)] == first  # the same scaling every time
    assert reads == [], reads  # the loaded index's statistics: no read per query
    mean, std = search.window_stats()
    other = LibrarySearch(lib, model="backbone", progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(other.window_stats(), (mean, std), strict=True))  # the saved ones
    assert len(reads) == 1  # an instance with no index loaded reads the file
    search.update()  # a load reads them once
    search.similar(vector, k=3)
    assert len(reads) == 2
    # a rebuild refits: the new statistics are used without reading them back
    with lib.store.transaction() as conn:  # one track fewer: other statistics
        conn.execute("DELETE FROM tracks WHERE id = (SELECT MAX(id) FROM tracks)")
    search.rebuild()
    new_mean, _ = search.window_stats()
    assert not np.array_equal(new_mean, mean) and len(reads) == 2
    assert np.array_equal(LibrarySearch(lib, model="backbone", progress=False).window_stats()[0], new_mean)
