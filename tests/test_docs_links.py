"""Every relative link in the README and in docs/ names a file that exists (images included).

Links are read as Markdown ``[text](target)`` / ``![alt](target)``; web addresses, ``mailto:`` and
in-page anchors (``#...``) are not files and are left out; a target's own ``#anchor`` is dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_files(root: Path = ROOT) -> list[Path]:
    """The README and every Markdown page under ``docs/``."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def broken_links(paths: list[Path]) -> list[str]:
    """``file: target`` of each relative link whose file does not exist."""
    out = []
    for path in paths:
        for target in LINK.findall(path.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:", "#")):
                continue
            if not (path.parent / target.split("#", 1)[0]).exists():
                out.append(f"{path.name}: {target}")
    return out


def test_every_relative_link_resolves():
    assert not broken_links(markdown_files()), broken_links(markdown_files())


def test_the_readme_links_every_history_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pages = sorted((ROOT / "docs" / "experiments").glob("*.md"))
    assert pages
    missing = [p.name for p in pages if f"docs/experiments/{p.name}" not in readme]
    assert not missing, f"history pages no README line links to: {missing}"


def test_the_check_finds_a_broken_link(tmp_path):
    (tmp_path / "here.md").write_text("x")
    page = tmp_path / "page.md"
    page.write_text("[ok](here.md) [ok too](here.md#part) ![img](gone.png) [web](https://example.org) "
                    "[anchor](#top) [bad](missing/page.md)\n")
    assert [b.split(": ", 1)[1] for b in broken_links([page])] == ["gone.png", "missing/page.md"]
