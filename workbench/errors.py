"""One exception family for the workbench.

Every error is a :class:`WorkbenchError` and also the built-in exception a caller would
expect (``ValueError``, ``FileNotFoundError``, ...), so ``except ValueError`` keeps working.
Messages name the value received and what is allowed.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose.

    These are refusals the user can act on, so IPython and Jupyter show them briefly: IPython
    renders an exception that has a ``_render_traceback_`` method with the lines it returns, in
    place of the traceback. Any other exception (a bug) keeps its traceback; outside IPython
    (scripts, the CLI, ``except``) nothing changes. In a notebook, ``import traceback;
    traceback.print_last()`` (or ``%debug``) in the next cell still shows the frames.
    """

    def _render_traceback_(self) -> list[str]:
        """IPython's rendering of the refusal: its type in red and its message, no frames."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


class ParameterError(WorkbenchError, ValueError):
    """An argument is outside what is allowed (message names it, the range and the value)."""


class AudioError(WorkbenchError, ValueError):
    """Audio could not be used; ``path`` is the file concerned, when there is one."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path

    @property
    def reason(self) -> str:
        """The message without its leading ``"<path>: "``, for reports that list the path apart."""
        text = str(self)
        prefix = f"{self.path}: "
        return text[len(prefix):] if self.path and text.startswith(prefix) else text


class AudioFileNotFoundError(AudioError, FileNotFoundError):
    """The audio file does not exist."""


class EmptyAudioError(AudioError):
    """The file is empty or decodes to zero samples."""


class CorruptAudioError(AudioError):
    """The file is truncated or its contents cannot be decoded."""


class UnsupportedFormatError(AudioError):
    """The file's format is not one the workbench decodes."""


class NonFiniteAudioError(AudioError):
    """The samples contain NaN or infinity."""


class AudioTooShortError(AudioError):
    """The audio is shorter than the caller's minimum duration."""


class StoreError(WorkbenchError, RuntimeError):
    """The SQLite library cannot be opened, migrated or written."""


class SchemaVersionError(StoreError):
    """The database was written by a newer workbench than this one."""


class NoLibraryError(WorkbenchError, FileNotFoundError):
    """There is no library database where one was looked for, and the caller asked for none to be made."""


class TrackNotFoundError(WorkbenchError, LookupError):
    """No track in the library matches the id, hash or path given."""


class ContentChangedWarning(UserWarning):
    """A file at a known path has new contents: its analyses are dropped, its labels kept."""


class SilentAudioError(AudioError):
    """The audio is digital silence (or too quiet to analyse)."""


class IndexFileError(WorkbenchError, ValueError):
    """A saved similarity index is missing pieces, inconsistent or from an unknown format."""


class IndexNotFoundError(IndexFileError, FileNotFoundError):
    """The folder holds no saved similarity index."""


class AudioReadError(AudioError, OSError):
    """The file is there but the system would not let it be read (permission denied, file name
    too long, input/output error, ...); the message names the cause, never "corrupt"."""


class SampleRangeError(NonFiniteAudioError):
    """Float samples so large (beyond :data:`workbench.audio.MAX_ABS_SAMPLE`) that no analysis
    can use them: a damaged or wrongly encoded float file."""


class NotRegularFileError(AudioFileNotFoundError):
    """The path is a FIFO, device, socket, folder or a link the scan does not follow."""


class WriteError(WorkbenchError, OSError):
    """A file could not be written (disk full, permission denied, read-only file system, ...);
    the message names the path and the cause."""


def os_cause(exc: BaseException) -> str:
    """The cause of an OS error in plain words: ``"permission denied"``, ``"disk full"``, ...

    Falls back to the exception's own text for anything that is not an :class:`OSError` with
    a known ``errno``.

    Parameters
    ----------
    exc : BaseException
        The error to describe.

    Returns
    -------
    str
        Lower-case words, no path.
    """
    import errno
    import os

    words = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOSPC: "disk full",
        errno.EDQUOT: "disk quota exceeded",
        errno.ENAMETOOLONG: "file name too long",
        errno.EROFS: "read-only file system",
        errno.ENOENT: "no such file or folder",
        errno.ENOTDIR: "a part of the path is not a folder",
        errno.EISDIR: "is a folder",
        errno.EIO: "input/output error",
        errno.ELOOP: "too many levels of symbolic links",
        errno.EMFILE: "too many open files",
    }
    if isinstance(exc, OSError) and exc.errno in words:
        return words[exc.errno]
    if isinstance(exc, OSError) and exc.errno is not None:
        return (exc.strerror or os.strerror(exc.errno)).lower()
    if isinstance(exc, UnicodeError):
        return "the file name is not valid text in the file-system encoding"
    return str(exc) or type(exc).__name__


def failure_reason(exc: BaseException) -> str:
    """One line saying why one track failed, for batch summaries (no traceback, no path prefix).

    Parameters
    ----------
    exc : BaseException
        The error that stopped one track.

    Returns
    -------
    str
        The audio error's reason, the OS cause, or ``"<Type>: <first line>"``.
    """
    if isinstance(exc, AudioError):
        return exc.reason
    if isinstance(exc, OSError):
        return os_cause(exc)
    text = str(exc).strip() or "no message"
    return f"{type(exc).__name__}: {text.splitlines()[0]}"

