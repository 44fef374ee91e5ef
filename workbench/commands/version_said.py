"""What ``workbench export`` and ``workbench models`` say of a model version's state: why a version is
registered inactive and the command that activates it, what a forced export did to the active version,
and the way back from an activation (``models rollback`` or ``models activate N``).

Sentences only, from the registry's versions (nothing is changed here); :mod:`workbench.commands.export`
prints them, and its names for them still import from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.registry_types import Version

__all__ = ["activate_hint", "forced_line", "inactive_line", "inactive_reason", "registered_inactive_reason",
           "way_back"]


def inactive_reason(registry: Registry, version: Version, *, no_activate: bool,
                    before: Version | None = None) -> str | None:
    """Why ``workbench export`` registered ``version`` inactive, as ``export --json`` says it (``inactive_reason``).

    Parameters
    ----------
    registry : Registry
        Where the export registered it.
    version : Version
        The new version (``active`` False to have a reason).
    no_activate : bool
        Whether the export was told ``--no-activate``.
    before : Version or None
        The version of its type active before the export, to name the way back (:func:`forced_line`).

    Returns
    -------
    str or None
        None where the version is active; else the sentence the text output prints (on stdout, or on stderr for a
        version forced past a failing gate).
    """
    if version.active:
        return None
    if no_activate:
        return f"{version.name} is registered inactive: exported with --no-activate; {activate_hint(version)}"
    if version.forced:
        return forced_line(version, registry.active(version.model_type), before=before,
                           versions=registry.list(version.model_type),
                           deactivated=registry.deactivated(version.model_type) is not None).removeprefix("WARNING: ")
    return inactive_line(registry, version)


def registered_inactive_reason(registry: Registry, version: Version) -> str | None:
    """Why a version registered earlier (``export --json``'s ``already_exported``) is inactive now, and how to activate it.

    Parameters
    ----------
    registry : Registry
        The registry it is registered in.
    version : Version
        A version of the run that was exported with the same options.

    Returns
    -------
    str or None
        None where the version is active; else one sentence, as :func:`inactive_reason` says it of a new version.
    """
    if version.active:
        return None
    t = version.model_type
    active, off = registry.active(t), registry.deactivated(t)
    if active is not None:
        why = f"{active.name} is the active {t}"
    elif off is not None:
        why = f"{'it' if off.version == version.version else off.named} was deactivated (`workbench models deactivate {t}`)"
    else:
        why = f"no {t} version is active (it was exported with --no-activate, or none was ever activated)"
    return f"{version.name} is registered inactive: {why}; {activate_hint(version)}"


def activate_hint(version: Version, what: str = "it") -> str:
    """The command that activates an inactive ``version`` (``--force`` where it was forced past a gate), in words.

    Parameters
    ----------
    version : Version
        The inactive version.
    what : str
        How the sentence names it ("it", "the new one").
    """
    return (f"`workbench models activate {version.model_type} {version.version}"
            f"{' --force' if version.forced else ''}` makes {what} active")


def inactive_line(registry: Registry, version: Version) -> str | None:
    """Why ``workbench export`` registered ``version`` inactive when its type was deactivated, and how to activate it.

    Parameters
    ----------
    registry : Registry
        The registry it was registered in.
    version : Version
        The version just registered.

    Returns
    -------
    str or None
        None where the version is active, or its type has a version active or none deactivated.
    """
    off = None if version.active else registry.deactivated(version.model_type)
    if off is None or off.version == version.version:
        return None
    return (f"{version.name} is registered inactive: {off.named} was deactivated (`workbench models deactivate "
            f"{version.model_type}`); {activate_hint(version, 'the new one')}")


def forced_line(version: Version, active: Version | None, *, before: Version | None,
                versions: list[Version], deactivated: bool = False) -> str:
    """What a forced export did to the active version, said loudly (the CLI prints it on stderr).

    Parameters
    ----------
    version : Version
        The version just registered past a failing gate (``version.forced``).
    active : Version or None
        The active version of its type now.
    before : Version or None
        The version of its type active before the export (None: none was); with ``versions``, it names the
        way back from an activated version (:func:`way_back`).
    versions : list of Version
        Every version of its type, ``version`` included.
    deactivated : bool
        Whether ``models deactivate`` turned its type off (no version active on purpose).

    Returns
    -------
    str
    """
    failing = [str(g.get("metric")) for f in version.forced for g in f.get("failing_gates") or []]
    fails = f"fails its blocking gate{'s' if len(failing) != 1 else ''} ({', '.join(failing) or 'see its card'})"
    if version.active:
        back = way_back(version.model_type, version.version, before, versions)
        return f"WARNING: {version.name} {fails} and is now ACTIVE (--activate): `suggest` and `similar` use it; {back}"
    if active is not None:
        now = f"they keep using {active.name}"
    elif version.model_type == "dj_section":  # with none active: workbench.commands.suggest.section_run and
        # workbench.widgets.suggest.active_suggester (the labeler reads the registry alone: novelty)
        now = ("dj_section is turned off (`models deactivate`), so they suggest novelty boundaries" if deactivated
               else "no dj_section version is active, so `suggest` falls back to the newest sections run (this run's "
                    "model, where it is the newest) and the labeler to novelty boundaries")
    else:
        now = f"no {version.model_type} version is active, so they use none"
    return (f"WARNING: {version.name} {fails}: registered but NOT active (--force exports, it does not activate); "
            f"`suggest` and `similar` ignore it, {now}. To use it anyway: "
            f"`workbench models activate {version.model_type} {version.version} --force`")


def way_back(model_type: str, version: int, before: Version | None, versions: list[Version]) -> str:
    """How to undo activating ``version``: the command that makes ``before`` active again.

    ``workbench models rollback`` activates the version just below the active one, which is the
    way back only when that is ``before``; otherwise the sentence names ``models activate`` with
    ``before``'s number, and what rollback would do instead. When no version was active before, it
    names ``models deactivate``, which makes none active again. A command that activates a version forced
    past its gates (``Version.forced``) carries ``--force``, as the registry asks again.

    Parameters
    ----------
    model_type : {"dj_section", "embedding", "head"}
    version : int >= 1
        The version being activated.
    before : Version or None
        The version active before it (None: none was).
    versions : list of Version
        Every version of ``model_type``.

    Returns
    -------
    str
        One sentence naming the command.
    """
    def _force(target: Version) -> str:  # a version forced past its gates is refused again without --force
        return " --force" if target.forced else ""

    from workbench.registry_types import version_below

    below = version_below(versions, version)  # where rollback goes, as Registry.rollback picks it
    if before is not None and below is not None and below.version == before.version:
        return f"`workbench models rollback {model_type}{_force(before)}` goes back to {before.name}"
    if before is None:
        return (f"no {model_type} version was active before it: `workbench models deactivate {model_type}` makes none "
                "active again")
    then = (f"`workbench models rollback {model_type}{_force(below)}` activates {below.name}, the version below it"
            if below is not None else f"`workbench models rollback {model_type}` has no version below it to go back to")
    return (f"`workbench models activate {model_type} {before.version}{_force(before)}` goes back to {before.name} "
            f"({then})")


def _changed(before: Version | None, now: Version, back: str) -> str:
    """What ``models activate`` changed, in words: the version active before and the way back (``back``, from
    :func:`way_back`), or that nothing changed."""
    if before is not None and before.version == now.version:
        return "already active; nothing changed"
    if before is None:
        return "none was active before: " + back.removeprefix(f"no {now.model_type} version was active before it: ")
    return f"was {before.name}; {back}"
