"""The classroom lessons: each names runnable presets, the set covers the phenomena the issue
lists, the texts say something, and docs/classroom.md shows every lesson beside its GIF."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from gancore.observe.detectors import DETECTORS
from gancore.teach.lessons import LESSONS, get_lesson
from gancore.teach.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]

# phenomenon (as the issue names it) -> the lesson that teaches it
PHENOMENA = {
    "mode collapse": "mode-collapse",
    "mode hopping and non-convergence": "mode-hopping",
    "swaying and getting stuck": "swaying",
    "catastrophic forgetting": "forgetting",
    "the 1-D Goodfellow picture": "goodfellow-1d",
    "GAN vs VAE": "gan-vs-vae",
    "the bimodal 6-D conditional case": "bimodal-6d",
    "100-D gaussians by KS, correlations and the norm": "gaussian-100d",
    "AdaGAN, seed 004's boosting remedy for mode collapse": "adagan",
}


def test_les001_every_phenomenon_has_its_lesson():
    assert sorted(LESSONS) == sorted(PHENOMENA.values())
    assert len({lesson.title for lesson in LESSONS.values()}) == len(LESSONS)


@pytest.mark.parametrize("slug", sorted(LESSONS))
def test_les002_lesson_names_runnable_presets_and_real_event_kinds(slug):
    lesson = get_lesson(slug)
    assert lesson.slug == slug and re.fullmatch(r"[a-z0-9-]+", slug)
    assert lesson.problem in PRESETS and lesson.remedy in PRESETS
    assert lesson.problem != lesson.remedy
    for name in (lesson.problem, lesson.remedy):
        PRESETS[name].config()  # validates
    kinds = {d.kind for d in DETECTORS}
    assert set(lesson.watch) <= kinds, set(lesson.watch) - kinds


@pytest.mark.parametrize("slug", sorted(LESSONS))
def test_les003_lesson_text_says_what_to_watch_and_why(slug):
    text = get_lesson(slug).text
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s]
    assert 350 <= len(text) <= 900, len(text)
    assert len(sentences) >= 3
    assert "right" in text  # it says what the remedy side shows
    assert not re.search(r"\s{2,}|\s[,.]", text)  # joined string pieces read cleanly


def test_les004_unknown_lesson_names_the_choices():
    with pytest.raises(KeyError, match="mode-collapse"):
        get_lesson("no-such-lesson")


def test_les005_docs_list_each_lesson_beside_its_gif():
    spec = importlib.util.spec_from_file_location("sync_readme", ROOT / "tools" / "sync_readme.py")
    sync_readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync_readme)
    where = sync_readme.BLOCKS["lessons"].path
    page = ROOT / where
    text = page.read_text()
    assert sync_readme.sync(text, where) == text, (
        f"{where} is stale: run python tools/sync_readme.py")
    section = text.split("<!-- lessons:start -->")[1].split("<!-- lessons:end -->")[0]
    for lesson in LESSONS.values():
        assert f"### {lesson.title}" in section
        gif = re.search(rf'src="([^"]*/{lesson.slug}\.gif)"', section)
        assert gif, f"no GIF for {lesson.slug}"
        gifs = ROOT / "docs" / "lessons"
        assert (page.parent / gif.group(1)).resolve() == gifs / f"{lesson.slug}.gif"
        assert lesson.text in section
