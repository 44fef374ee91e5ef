"""Helpers for tests that drive JupyterLab in a real browser (Debian chromium + Python playwright).

Follows ../shared/guides/browser-testing.md: the test starts its own JupyterLab (own config,
data, runtime and workspace folders, fixed token, free port, no network checks) in its own
process group, and drives /usr/bin/chromium headless through playwright (never
``playwright install``).

>>> reason = skip_reason()                       # doctest: +SKIP
>>> with JupyterLab(root, env={"WORKBENCH_DB": db}) as lab, chromium() as browser:   # doctest: +SKIP
...     page = browser.new_page(); open_notebook(page, lab, "02_label_sections.ipynb"); run_all(page)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: Playwright timeout (ms): generous, the test machines are busy 2-core boxes.
TIMEOUT_MS = 90_000
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def jupyter_lab_command() -> list[str] | None:
    """The command that starts JupyterLab with this interpreter, or ``None`` when it is missing."""
    exe = Path(sys.executable).with_name("jupyter-lab")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("jupyter-lab")
    return [found] if found else None


def skip_reason() -> str | None:
    """Why a browser test cannot run here (``None`` when it can)."""
    if not CHROMIUM.is_file():
        return f"Debian chromium not found at {CHROMIUM} (apt-get install chromium)"
    if jupyter_lab_command() is None:
        return "jupyter-lab not installed (pip install jupyterlab)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python playwright not installed (pip install playwright; never `playwright install`)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JupyterLab:
    """A JupyterLab server for one test run, in its own folders and process group.

    Parameters
    ----------
    root : Path
        Working folder: ``nb/`` (the server's root, put notebooks there), ``cfg/``, ``data/``,
        ``rt/``, ``ws/`` and ``lab.log`` are made under it.
    env : dict
        Extra environment for the server (inherited by its kernels), e.g. ``WORKBENCH_DB``.
    """

    def __init__(self, root: Path, *, env: dict[str, str] | None = None, ready_timeout_s: float = 120.0) -> None:
        self.root = Path(root)
        self.nb_dir = self.root / "nb"
        self.env = dict(env or {})
        self.ready_timeout_s = ready_timeout_s
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.root / "lab.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> JupyterLab:
        cmd = jupyter_lab_command()
        if cmd is None:
            raise RuntimeError("jupyter-lab is not installed")
        for d in ("nb", "cfg", "data", "rt", "ws"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        # No "get notified about Jupyter news?" toast over the page (and no network checks).
        settings = self.root / "cfg" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            '{"fetchNews": "false", "checkForUpdates": false}\n')
        env = {**os.environ, **self.env, "JUPYTER_CONFIG_DIR": str(self.root / "cfg"),
               "JUPYTER_DATA_DIR": str(self.root / "data"), "JUPYTER_RUNTIME_DIR": str(self.root / "rt"),
               "JUPYTER_PLATFORM_DIRS": "1", "NUMBA_CPU_NAME": os.environ.get("NUMBA_CPU_NAME", "generic"),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        args = [*cmd, "--no-browser", "--allow-root", f"--port={self.port}", "--ServerApp.port_retries=0",
                "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.nb_dir}", f"--LabApp.workspaces_dir={self.root / 'ws'}",
                "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     cwd=self.nb_dir)
        log.close()
        deadline = time.monotonic() + self.ready_timeout_s
        status = f"{self.url}/api/status?token={self.token}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(status, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {self.ready_timeout_s} s:\n{self.log()}")

    def stop(self) -> None:
        """Stop the server's whole process group (server and kernels)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        # kernels may have outlived the server in the same group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian chromium, headless, driven by playwright; yields the Browser."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_notebook(page: Any, lab: JupyterLab, name: str) -> None:
    """Open notebook ``name`` (in the server's root) and wait until its kernel is idle.

    The toolbar says "idle" for a moment while the kernel still starts; the status bar's
    "(ipykernel) | Idle" is the reliable sign (the guide's pitfall 1).
    """
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(lab.notebook_url(name))
    page.locator(".jp-Notebook").first.wait_for()
    page.get_by_text("(ipykernel) | Idle").first.wait_for()


def run_all(page: Any) -> None:
    """Run every cell from the Run menu."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def wait_for(predicate: Callable[[], Any], *, timeout_s: float = TIMEOUT_MS / 1000, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.25)


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the SQLite file ``db`` (a fresh read-only connection each time)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def build_demo_library(folder: Path, *, n_tracks: int = 2, duration_s: float = 30.0) -> Path:
    """Synthesize, scan and analyse a small demo library under ``folder``; the database path."""
    from workbench.analysis import analyze_library
    from workbench.demo import synthesize_library
    from workbench.library import Library

    folder = Path(folder)
    synthesize_library(folder / "audio", n_tracks=n_tracks, duration_s=duration_s, progress=False)
    # the database sits in its own workspace (folder/lib), the audio outside it: its paths are stored
    # absolute, so a copy of the database alone (copy_database) still finds the audio
    db = folder / "lib" / "workbench.db"
    lib = Library(db)
    lib.scan(folder / "audio", progress=False)
    summary = analyze_library(lib, progress=False)
    if summary.failed:
        raise RuntimeError(f"demo analysis failed: {summary}")
    lib.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lib.conn.close()
    return db


def copy_database(src: Path, dst: Path) -> Path:
    """A consistent copy of SQLite file ``src`` at ``dst`` (the backup API, WAL-safe)."""
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()
    return dst


class ConsoleErrors(list):
    """The page's console ``error`` messages and uncaught exceptions, collected from ``page``.

    >>> errors = ConsoleErrors(page)   # doctest: +SKIP
    >>> assert not errors, errors      # doctest: +SKIP
    """

    def __init__(self, page: Any) -> None:
        super().__init__()
        page.on("console", lambda m: self.append(f"console: {m.text} at {m.location}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.append(f"uncaught: {e}"))


def drag(page: Any, x0: float, y0: float, x1: float, y1: float, *, steps: int = 12) -> None:
    """Press the mouse at (x0, y0), move to (x1, y1) in ``steps`` moves and release (page pixels)."""
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=steps)
    page.mouse.up()


def labeler_notebook(folder: Path, *, extra_cell: str | None = None, n_tracks: int = 1,
                     duration_s: float = 90.0) -> JupyterLab:
    """A demo library under ``folder`` and a JupyterLab (entered with ``with``) serving notebook 02 as
    ``nb/02_label_sections.ipynb``, with ``extra_cell`` run after its labeler cell when given."""
    import json

    db = build_demo_library(folder / "demo", n_tracks=n_tracks, duration_s=duration_s)
    server = JupyterLab(folder / "lab", env={"WORKBENCH_DB": str(db), "NUMBA_CPU_NAME": "generic"})
    (folder / "lab" / "nb").mkdir(parents=True)
    nb = json.loads((NOTEBOOKS / LABELER_NOTEBOOK).read_text())
    if extra_cell:
        at = next(i for i, c in enumerate(nb["cells"]) if "WebLabeler(" in "".join(c["source"]))
        nb["cells"].insert(at + 1, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                    "source": extra_cell.splitlines(keepends=True)})
    (folder / "lab" / "nb" / LABELER_NOTEBOOK).write_text(json.dumps(nb))
    return server


LABELER_NOTEBOOK = "02_label_sections.ipynb"


@contextlib.contextmanager
def compare_widget_page(folder: Path, runs: Path) -> Iterator[tuple[Any, ConsoleErrors]]:
    """JupyterLab (under ``folder``) and chromium at 1400 x 1000 px showing ``CompareWidget(runs)`` after Run All;
    yields the widget's output area (a playwright locator, shown) and the page's console errors."""
    import json

    lab = JupyterLab(folder / "lab", env={"NUMBA_CPU_NAME": "generic"})
    (folder / "lab" / "nb").mkdir(parents=True)
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": f"from workbench.widgets.compare import CompareWidget\nCompareWidget({str(runs)!r})"}
    (folder / "lab" / "nb" / "compare.ipynb").write_text(json.dumps(
        {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
         "nbformat": 4, "nbformat_minor": 5}))
    with lab, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = ConsoleErrors(page)
        open_notebook(page, lab, "compare.ipynb")
        run_all(page)
        root = page.locator(".jp-OutputArea-output").filter(has_text="Save name").first
        root.wait_for()
        page.wait_for_timeout(500)
        yield root, errors
