"""Rewrites the generated blocks of README.md and docs/*.md from the code's own docs.

A block sits between `<!-- NAME:start -->` and `<!-- NAME:end -->` in the one file `BLOCKS` names
for it. Run `python tools/sync_readme.py` after changing a config field, a preset, a detector, a
lesson or the recording layout (`--check` only reports); tests/test_docs.py fails while a block
is stale, missing, or left behind in a file it no longer belongs to.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]

from gancore.cli import config_reference  # noqa: E402
from gancore.store import recording  # noqa: E402
from gancore.teach.presets import PRESETS  # noqa: E402

MARKER = re.compile(r"<!-- ([a-z0-9-]+):(start|end) -->")


class Block(NamedTuple):
    path: str  # the file that holds the block, relative to the checkout
    make: Callable[[], str]


def presets_table() -> str:
    return "\n".join(f"| `{p.name}` | {p.watch} |" for p in PRESETS.values())


def recording_layout() -> str:
    doc = recording.__doc__
    start = doc.index("Layout")
    return "```\n" + doc[start:].strip() + "\n```"


def detectors() -> str:
    from inspect import cleandoc

    from gancore.observe.detectors import DETECTORS, divergence_event

    lines = [f"- **{d.kind.replace('_', ' ')}**: {' '.join(cleandoc(d.__doc__).split())}"
             for d in DETECTORS]
    lines.append(f"- **divergence**: {' '.join(cleandoc(divergence_event.__doc__).split())}")
    return "\n".join(lines)


def lessons() -> str:
    """Each lesson's title, text and presets, beside its GIF (written by `make lessons`)."""
    from gancore.teach.lessons import LESSONS

    # The GIFs' folder as the page that shows them links it (relative to that page's folder).
    page = ROOT / BLOCKS["lessons"].path
    gifs = Path(os.path.relpath(ROOT / "docs" / "lessons", page.parent)).as_posix()
    out = []
    for lesson in LESSONS.values():
        out.append(f"### {lesson.title}\n\n"
                   f'<img src="{gifs}/{lesson.slug}.gif" width="480" align="right" '
                   f'alt="{lesson.title}: {lesson.problem} beside {lesson.remedy}">\n\n'
                   f"{lesson.text}\n\n"
                   f"Problem `{lesson.problem}`, remedy `{lesson.remedy}`; in the app: "
                   f"`/?preset={lesson.problem}&play=1&lesson={lesson.slug}`"
                   f'<br clear="right">')
    return "\n\n".join(out)


BLOCKS: dict[str, Block] = {
    "presets": Block("docs/presets.md", presets_table),
    "detectors": Block("docs/detectors.md", detectors),
    "lessons": Block("docs/classroom.md", lessons),
    "recording-layout": Block("docs/recording.md", recording_layout),
    "config-reference": Block("docs/config.md", config_reference),
}


def files() -> list[str]:
    """Every file that holds a generated block, in a stable order."""
    return sorted({b.path for b in BLOCKS.values()})


def replace_section(text: str, name: str, body: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"{BLOCKS[name].path} must hold one {start} ... {end} pair")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def sync(text: str, path: str) -> str:
    """`text` (the file at `path`) with each of its generated blocks made afresh. ValueError when
    one of its blocks lacks its markers, or it holds markers of a block that lives elsewhere."""
    for name, _ in MARKER.findall(text):
        if name not in BLOCKS or BLOCKS[name].path != path:
            home = BLOCKS[name].path if name in BLOCKS else "no file (unknown block)"
            raise ValueError(f"{path} holds the block {name!r}, which belongs in {home}")
    for name, block in BLOCKS.items():
        if block.path == path:
            text = replace_section(text, name, block.make())
    return text


def stale() -> list[str]:
    """The files whose generated blocks differ from what the code says now."""
    return [p for p in files()
            if sync((ROOT / p).read_text(encoding="utf-8"), p)
            != (ROOT / p).read_text(encoding="utf-8")]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        out = stale()
        for p in out:
            print(f"{p} is stale: run python tools/sync_readme.py")
        return 1 if out else 0
    for p in files():
        f = ROOT / p
        text = f.read_text(encoding="utf-8")
        new = sync(text, p)
        if new != text:
            f.write_text(new, encoding="utf-8")
            print(f"rewrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
