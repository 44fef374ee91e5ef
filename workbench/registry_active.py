"""Which model version is active: :class:`RegistryActivation`, the part of :class:`workbench.registry.Registry`
that activates, rolls back and deactivates versions (a mixin; split out of :mod:`workbench.registry`).

At most one version of a type is active. ``models activate`` and ``models rollback`` make one active and record
when (:data:`~workbench.registry_types.ACTIVATED_AT` in its row); ``models deactivate`` makes none active and records
which version was and when in the type's row of the ``model_deactivations`` table (outside the version rows: deleting
that version leaves the type deactivated; making a version active clears it), and, as history, in the version's row
(:data:`~workbench.registry_types.DEACTIVATED_AT`). A type with no active
version has no default model: ``workbench suggest`` and the labeler suggest novelty boundaries for a deactivated
``dj_section`` (never the newest sections run), plain ``workbench similar`` ranks with the active CNN
``embedding`` version or the backbone when ``head`` is deactivated, and with the active head or the backbone when
``embedding`` is (:func:`workbench.similarity.model.resolve_model`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from workbench.registry_types import DEACTIVATED_AT, Deactivated, RegistryError, Version, version_below

if TYPE_CHECKING:
    from workbench.library import Library


class RegistryActivation:
    """Activate, roll back, deactivate (a mixin of :class:`workbench.registry.Registry`: it needs ``library``,
    ``get``, ``list``, ``active``, ``check_gates``, ``_lock``, ``_row_blob``, ``_make_active`` and ``_record_forced``)."""

    library: Library

    def activate(self, model_type: str, version: int, *, force: bool = False) -> Version:
        """Make ``version`` the one active version of its type.

        Refused (:class:`~workbench.evaluate.gates.GateFailedError`) when the version fails a
        blocking gate (its baselines, or the version active now on the same held-out tracks)
        unless ``force=True``; a forced activation is added to the version's JSON and card.

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"}
        version : int >= 1
        force : bool
            Activate a version that fails a blocking gate (recorded) instead of refusing it.

        Returns
        -------
        Version
            The version, now active.
        """
        v = self.get(model_type, version)
        with self._lock():
            _, bad = self.check_gates(model_type, v.metrics, what=f"activating {v.name}", force=force,
                                      version=version, forcing="activate it anyway")
            forced = list(v.forced)
            if bad:
                from workbench.store import utc_now

                forced.append({"action": "activate", "at": utc_now(), "failing_gates": [g.as_dict() for g in bad]})
                self._record_forced(v, forced)
            with self.library.store.transaction() as conn:
                self._make_active(conn, model_type, version)
        return self.get(model_type, version)

    def rollback(self, model_type: str, *, force: bool = False) -> Version:
        """Activate the version before the active one (the highest version below it).

        The earlier version must pass its own baseline gates (unless ``force``); it is not held
        to the version it replaces (going back is the point).

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"}
        force : bool
            Roll back to a version that fails its baseline gates (recorded) instead of refusing it.

        Returns
        -------
        Version
            The version now active.

        Raises
        ------
        RegistryError
            No active version, or the active one is the earliest.
        workbench.evaluate.gates.GateFailedError
            The earlier version fails a gate and ``force`` is False.
        """
        current = self.active(model_type)
        if current is None:
            off = self.deactivated(model_type)
            raise RegistryError(f"no active {model_type} version to roll back from" + (
                "" if off is None else f": {deactivated_said(off)}" if off.deleted else (
                    f": {off.name} was deactivated; `workbench models activate {model_type} N` makes a version active "
                    f"({off.version} makes it active again)")))
        target = version_below(self.list(model_type), current.version)
        if target is None:
            raise RegistryError(f"{model_type} v{current.version} is the earliest version; nothing to roll back to")
        from workbench.evaluate.gates import GateFailedError, blocking_gates, failing, refusal_message

        bad = failing(blocking_gates(target.metrics, model_type))
        if bad and not force:
            raise GateFailedError(refusal_message(f"rolling back to {target.name}", bad,
                                                  forcing="roll back to it anyway"), gates=bad)
        with self._lock(), self.library.store.transaction() as conn:
            self._make_active(conn, model_type, target.version)
        if bad:
            from workbench.store import utc_now

            with self._lock():
                self._record_forced(target, [*target.forced, {"action": "rollback", "at": utc_now(),
                                                              "failing_gates": [g.as_dict() for g in bad]}])
        return self.get(model_type, target.version)

    def deactivate(self, model_type: str) -> Version | None:
        """Make no version of ``model_type`` active (``workbench models deactivate TYPE``), and record which was and when
        in the ``model_deactivations`` table (and when in its row, :data:`~workbench.registry_types.DEACTIVATED_AT`).

        Nothing is deleted: ``activate`` makes the version active again. With none active the type has no default
        model (see the module).

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"}
            The type to leave with no active version.

        Returns
        -------
        Version or None
            The version that was active (now inactive), or None when none was (nothing changed).
        """
        from workbench.store import utc_now

        if self.active(model_type) is None:  # checks model_type; nothing to do, and no models/ folder made for it
            return None
        with self._lock():
            current = self.active(model_type)
            if current is None:
                return None
            with self.library.store.transaction() as conn:
                blob = self._row_blob(conn, model_type, current.version)
                blob[DEACTIVATED_AT] = at = utc_now("microseconds")
                conn.execute("UPDATE model_versions SET active = 0, metadata = ? WHERE model_type = ? AND version = ?",
                             (json.dumps(blob, default=str), model_type, current.version))
                conn.execute("INSERT OR REPLACE INTO model_deactivations (model_type, version, deactivated_at) "
                             "VALUES (?, ?, ?)", (model_type, current.version, at))
        return self.get(model_type, current.version)

    def deactivated(self, model_type: str) -> Deactivated | None:
        """Which version ``models deactivate`` turned off and when, while it left no version of ``model_type`` active;
        else None (a version is active, or none was deactivated: then a type's default-model rules apply as before any
        export). Deleting that version keeps the type deactivated (``.deleted`` says so).

        Parameters
        ----------
        model_type : {"dj_section", "embedding", "head"}
            The type asked about.

        Returns
        -------
        Deactivated or None
            ``name``, ``version``, ``deactivated_at``, ``forced``, ``deleted``, and ``way_back()``: how to undo it
            (:func:`deactivated_said` says it all).
        """
        if self.active(model_type) is not None:  # checks model_type
            return None
        row = self.library.conn.execute("SELECT version, deactivated_at FROM model_deactivations WHERE model_type = ?",
                                        (model_type,)).fetchone()
        if row is None:
            return None
        versions = {v.version: v for v in self.list(model_type)}
        was = versions.get(int(row["version"]))
        return Deactivated(model_type, int(row["version"]), str(row["deactivated_at"]), deleted=was is None,
                           forced=() if was is None else was.forced, versions=tuple(versions))


def deactivated_said(was: Deactivated) -> str:
    """The version ``models deactivate`` turned off, when, and the command that makes a version active again, as
    ``models list``, the labeler, ``suggest`` and ``models rollback`` say it.

    Parameters
    ----------
    was : Deactivated
        :meth:`RegistryActivation.deactivated`'s answer.

    Returns
    -------
    str
        ``"head_v2 was deactivated 2026-12-07 07:10 (UTC); `workbench models activate head 2` makes it active again"``
        (``--force`` in the command when the version was activated with it); once head_v2 is deleted
        ``"head_v2 (deleted) was deactivated ...; `workbench models activate head N` (N in [3]) makes a version
        active"`` (:meth:`~workbench.registry_types.Deactivated.way_back`).
    """
    from workbench.runs import started_text

    return f"{was.named} was deactivated {started_text(was.deactivated_at, zone=True)}; {was.way_back()}"
