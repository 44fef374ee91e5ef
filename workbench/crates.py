"""Crates: the user's own named groups of tracks (as in a DJ's library software).

A crate is a name and a set of tracks, stored in the library (tables ``crates`` and
``crate_tracks``). A track may sit in several crates. Crates are how a user tells the
workbench what "the same kind of music" means to them: embedding training takes its classes
from them first, the explorer groups and colours by them.

Examples
--------
>>> crates = Crates(lib)                                  # doctest: +SKIP
>>> crates.add("warm-up", [12, 14, "a3f9c2e1"])           # doctest: +SKIP
>>> crates.import_folders()                               # one crate per sub-folder  # doctest: +SKIP
>>> [(c.name, c.n_tracks) for c in crates.list()]         # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from workbench.errors import ParameterError, WorkbenchError
from workbench.library import Library, Track
from workbench.store import transaction, utc_now

#: Longest crate name accepted (characters).
MAX_NAME_LENGTH = 200


class CrateNotFoundError(WorkbenchError, LookupError):
    """No crate has the name given."""


@dataclass(frozen=True)
class Crate:
    """One crate: its name and how many (present) tracks it holds."""

    name: str
    n_tracks: int
    created_at: str


def check_name(name: object) -> str:
    """A crate name, stripped; refuses empty, over-long or non-string names.

    Parameters
    ----------
    name : str
        The name as given.

    Returns
    -------
    str
        The name without surrounding white space.

    Raises
    ------
    ParameterError
        ``name`` is not a non-empty string of at most :data:`MAX_NAME_LENGTH` characters.
    """
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(f"crate name must be a non-empty string; got {name!r}")
    text = name.strip()
    if len(text) > MAX_NAME_LENGTH:
        raise ParameterError(f"crate name must be at most {MAX_NAME_LENGTH} characters; got {len(text)}")
    return text


class Crates:
    """The crates of one library.

    Parameters
    ----------
    library : Library
        An open library; crates live in its database.
    """

    def __init__(self, library: Library) -> None:
        self.library = library

    @property
    def _conn(self):  # -> sqlite3.Connection
        return self.library.conn

    def _track_ids(self, tracks: Iterable[int | str | os.PathLike[str] | Track]) -> list[int]:
        ids: list[int] = []
        for t in tracks:
            ids.append(t.id if isinstance(t, Track) else self.library.track(t).id)
        return ids

    def _crate_id(self, name: str) -> int:
        row = self._conn.execute("SELECT id FROM crates WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = [c.name for c in self.list()]
            raise CrateNotFoundError(f"no crate named {name!r}; crates: {', '.join(known) or 'none yet'}")
        return int(row["id"])

    def create(self, name: str) -> Crate:
        """Create an empty crate (no error when it exists already).

        Parameters
        ----------
        name : str
            Non-empty, at most :data:`MAX_NAME_LENGTH` characters (stripped).

        Returns
        -------
        Crate
        """
        name = check_name(name)
        with transaction(self._conn):
            self._conn.execute("INSERT OR IGNORE INTO crates (name, created_at) VALUES (?, ?)", (name, utc_now()))
        return self.get(name)

    def add(self, name: str, tracks: Iterable[int | str | os.PathLike[str] | Track]) -> int:
        """Put tracks (ids, hashes, paths or :class:`Track`) into a crate, creating it when needed.

        Parameters
        ----------
        name : str
            The crate's name.
        tracks : iterable of int, str, os.PathLike or Track
        Track ids, content hashes, paths, or :class:`Track` objects.

        Returns
        -------
        int
            How many tracks were not in the crate before.
        """
        name = check_name(name)
        ids = self._track_ids(tracks)
        now = utc_now()
        with transaction(self._conn):
            self._conn.execute("INSERT OR IGNORE INTO crates (name, created_at) VALUES (?, ?)", (name, now))
            crate_id = self._conn.execute("SELECT id FROM crates WHERE name = ?", (name,)).fetchone()["id"]
            before = self._conn.total_changes
            self._conn.executemany(
                "INSERT OR IGNORE INTO crate_tracks (crate_id, track_id, added_at) VALUES (?, ?, ?)",
                [(crate_id, i, now) for i in ids],
            )
            return self._conn.total_changes - before

    def remove(self, name: str, tracks: Iterable[int | str | os.PathLike[str] | Track] | None = None) -> int:
        """Take tracks out of a crate, or delete the crate (its tracks stay in the library) when
        ``tracks`` is ``None``. Returns how many tracks left the crate.

        Parameters
        ----------
        name : str
            The crate's name.
        tracks : iterable of int, str, os.PathLike or Track, or None
        Track ids, content hashes, paths, or :class:`Track` objects. None deletes the crate.

        Returns
        -------
        int
            How many tracks left the crate.

        Raises
        ------
        CrateNotFoundError
            No crate has this name.
        """
        name = check_name(name)
        crate_id = self._crate_id(name)
        with transaction(self._conn):
            if tracks is None:
                n = self._conn.execute("SELECT COUNT(*) FROM crate_tracks WHERE crate_id = ?",
                                       (crate_id,)).fetchone()[0]
                self._conn.execute("DELETE FROM crates WHERE id = ?", (crate_id,))
                return int(n)
            ids = self._track_ids(tracks)
            before = self._conn.total_changes
            self._conn.executemany("DELETE FROM crate_tracks WHERE crate_id = ? AND track_id = ?",
                                   [(crate_id, i) for i in ids])
            return self._conn.total_changes - before

    def get(self, name: str) -> Crate:
        """One crate by name (raises :class:`CrateNotFoundError`).

        Parameters
        ----------
        name : str
            The crate's name.

        Returns
        -------
        Crate
        """
        name = check_name(name)
        self._crate_id(name)
        return next(c for c in self.list() if c.name == name)

    def list(self) -> list[Crate]:
        """Every crate, by name, with its number of tracks whose file is present."""
        rows = self._conn.execute(
            "SELECT c.name, c.created_at, COUNT(t.id) AS n FROM crates c "
            "LEFT JOIN crate_tracks ct ON ct.crate_id = c.id "
            "LEFT JOIN tracks t ON t.id = ct.track_id AND t.missing_since IS NULL "
            "GROUP BY c.id ORDER BY c.name"
        ).fetchall()
        return [Crate(name=r["name"], n_tracks=int(r["n"]), created_at=r["created_at"]) for r in rows]

    def tracks(self, name: str) -> list[Track]:
        """The present tracks of one crate, by path.

        Parameters
        ----------
        name : str
            The crate's name.

        Returns
        -------
        list of Track

        Raises
        ------
        CrateNotFoundError
            No crate has this name.
        """
        crate_id = self._crate_id(check_name(name))
        rows = self._conn.execute(
            "SELECT t.* FROM tracks t JOIN crate_tracks ct ON ct.track_id = t.id "
            "WHERE ct.crate_id = ? AND t.missing_since IS NULL ORDER BY t.path",
            (crate_id,),
        ).fetchall()
        return [Track.from_row(r, self.library.workspace.root) for r in rows]

    def membership(self) -> dict[int, list[str]]:
        """Every track id that sits in a crate, with its crates' names (sorted)."""
        out: dict[int, list[str]] = {}
        for r in self._conn.execute(
            "SELECT ct.track_id, c.name FROM crate_tracks ct JOIN crates c ON c.id = ct.crate_id ORDER BY c.name"
        ):
            out.setdefault(int(r["track_id"]), []).append(r["name"])
        return out

    def of_track(self, track: int | str | os.PathLike[str] | Track) -> list[str]:
        """The names of the crates one track sits in.

        Parameters
        ----------
        track : int, str, os.PathLike or Track
            A track id, content hash, path, or :class:`Track`.

        Returns
        -------
        list of str
            Crate names, sorted; empty when it sits in none.
        """
        (track_id,) = self._track_ids([track])
        return self.membership().get(track_id, [])

    def import_folders(self, *, prefix: str = "") -> dict[str, int]:
        """One crate per sub-folder: each track goes into the crate named after the sub-folder it
        sits in under the folder it was scanned from (``Track.folder``, e.g. ``albums/x``).

        Tracks directly in a scanned folder are left out. Returns, per crate name, how many
        tracks were added to it.

        Parameters
        ----------
        prefix : str
            Put before each folder's name to make the crate's name (e.g. ``"folder:"``).

        Returns
        -------
        dict of str to int
            Crate name -> number of tracks newly added.
        """
        groups: dict[str, list[int]] = {}
        for t in self.library.tracks():
            if t.folder is not None:
                groups.setdefault(prefix + t.folder, []).append(t.id)
        return {name: self.add(name, ids) for name, ids in sorted(groups.items())}
