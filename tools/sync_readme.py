"""Rewrites the generated parts of README.md (the config reference) from the code's own docs.

Run `python tools/sync_readme.py`; tests/test_config.py fails when the README is out of date.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gancore.cli import config_reference  # noqa: E402
from gancore.store import recording  # noqa: E402
from gancore.teach.presets import PRESETS  # noqa: E402


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

    out = []
    for lesson in LESSONS.values():
        out.append(f"### {lesson.title}\n\n"
                   f'<img src="docs/lessons/{lesson.slug}.gif" width="480" align="right" '
                   f'alt="{lesson.title}: {lesson.problem} beside {lesson.remedy}">\n\n'
                   f"{lesson.text}\n\n"
                   f"Problem `{lesson.problem}`, remedy `{lesson.remedy}`; in the app: "
                   f"`/?preset={lesson.problem}&play=1&lesson={lesson.slug}`"
                   f'<br clear="right">')
    return "\n\n".join(out)


SECTIONS = {"config-reference": config_reference, "presets": presets_table,
            "recording-layout": recording_layout, "detectors": detectors, "lessons": lessons}


def replace_section(text: str, name: str, body: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def sync(text: str) -> str:
    for name, make in SECTIONS.items():
        text = replace_section(text, name, make())
    return text


if __name__ == "__main__":
    readme = ROOT / "README.md"
    readme.write_text(sync(readme.read_text()))
