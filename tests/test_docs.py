"""The README and docs/: every generated block is fresh and where tools/sync_readme.py puts it,
and every relative link or image points at a file (and a heading) that exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
MD_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:img|a|source)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.I)


def sync_readme():
    spec = importlib.util.spec_from_file_location("sync_readme", ROOT / "tools" / "sync_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def links(text: str) -> list[str]:
    """Link and image targets outside code (a URL in a code sample is not a link)."""
    prose = INLINE_CODE.sub("", FENCE.sub("", text))
    return MD_LINK.findall(prose) + HTML_LINK.findall(prose)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    out, seen = set(), {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        s = slug(heading)
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def test_doc001_every_generated_block_is_fresh_and_in_its_own_file():
    sync = sync_readme()
    homes = set(sync.files())
    assert homes <= {rel(p) for p in PAGES}, homes - {rel(p) for p in PAGES}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        # Raises when a block's markers are missing here or a block sits in the wrong file.
        assert sync.sync(text, rel(page)) == text, (
            f"{rel(page)} is stale: run python tools/sync_readme.py")
    assert sync.stale() == []


def test_doc002_a_stale_or_misplaced_block_is_caught():
    sync = sync_readme()
    name, block = next(iter(sync.BLOCKS.items()))
    text = (ROOT / block.path).read_text(encoding="utf-8")
    start = f"<!-- {name}:start -->"
    assert sync.sync(text.replace(start, start + "\nstale line"), block.path) == text
    with pytest.raises(ValueError, match=name):
        sync.sync(text, "README.md" if block.path != "README.md" else "docs/other.md")
    with pytest.raises(ValueError, match=name):
        sync.sync(text.replace(start, ""), block.path)


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_doc003_relative_links_point_at_files_and_headings_that_exist(page):
    text = page.read_text(encoding="utf-8")
    missing = []
    for target in links(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("/"):
            continue  # a URL, or a path on the running app: not a file of this checkout
        path, _, anchor = unquote(target).partition("#")
        path = path.split("?", 1)[0]
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            missing.append(f"{target}: no file {file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            missing.append(f"{target}: no heading #{anchor} in {rel(file)}")
    assert not missing, f"{rel(page)}: " + "; ".join(missing)


def test_doc004_the_readme_keeps_the_two_command_quick_start_and_links_every_doc():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, re.S).group(1)
    assert [line.split()[:2] for line in block.strip().splitlines()] == [["make", "run"],
                                                                         ["make", "test"]]
    linked = {t.split("#")[0] for t in links(readme)}
    for doc in (ROOT / "docs").glob("*.md"):
        assert f"docs/{doc.name}" in linked, f"README does not link docs/{doc.name}"
