"""`import workbench` is cheap: no heavy library, no file, no model is touched."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ["torch", "librosa", "soundfile", "sklearn", "matplotlib", "faiss", "numpy", "sqlite3", "scipy"]


def test_import_is_cheap(tmp_path):
    code = (
        "import sys, workbench; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
    assert list(tmp_path.iterdir()) == []  # wrote nothing


def test_lazy_names_resolve():
    import workbench

    assert workbench.Library.__name__ == "Library"
    assert callable(workbench.load)
    assert "Library" in dir(workbench)


def test_sections_package_leaves_held_out_helpers_lazy(tmp_path):
    """The ensemble and external-scoring modules load when a run scores its held-out tracks, not at import."""
    lazy = ["workbench.train.sections.ensemble", "workbench.train.sections.external"]
    code = f"import sys, workbench.train.sections; print(','.join(m for m in {lazy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
