"""One exception family for the workbench.

Every error is a :class:`WorkbenchError` and also the built-in exception a caller would
expect (``ValueError``, ``FileNotFoundError``, ...), so ``except ValueError`` keeps working.
Messages name the value received and what is allowed.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


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
