"""Run widget event handlers on the thread that built the widget.

JupyterLab 4.6 sends widget comm messages over kernel *subshells* (setting
``commsOverSubshells``, default "perCommTarget"), so with ipykernel 7 a button's callback can
run on a subshell thread rather than the kernel's main thread. A library's SQLite connection
belongs to the thread that opened it (the main thread, where the notebook's cells run), so a
callback that touches the library must go back there. :class:`Dispatcher` remembers the thread
and event loop a widget was built on and hands each event to that loop when it arrives on
another thread; on the same thread (and in tests, with no loop running) it runs at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Dispatcher:
    """Wrap event handlers so they run on the creating thread, with errors reported.

    Parameters
    ----------
    on_error : callable
        Called with the exception when a handler raises (on the creating thread); the
        exception is also logged.
    """

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self.on_error = on_error
        self.thread_id = threading.get_ident()
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # not inside a kernel's event loop (a script, a test)
            self.loop = None

    def wrap(self, handler: Callable[..., Any]) -> Callable[..., None]:
        """``handler`` made safe to call from any thread.

        Parameters
        ----------
        handler : callable
            An event handler (a button's ``on_click``, an ``observe`` callback).

        Returns
        -------
        callable
            Takes the same arguments; runs ``handler`` on the creating thread's loop when called
            from another thread, else at once; errors go to ``on_error``.
        """

        def run(*args: Any) -> None:
            if threading.get_ident() != self.thread_id and self.loop is not None and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self._call, handler, args)
            else:
                self._call(handler, args)

        return run

    def _call(self, handler: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            handler(*args)
        except Exception as exc:  # noqa: BLE001 - reported to the person, not swallowed
            log.exception("widget event handler failed")
            self.on_error(exc)
