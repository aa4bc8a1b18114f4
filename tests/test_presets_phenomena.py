"""Each phenomenon preset shows its story under its seed; the healthy presets show none.

The presets train in two real processes side by side (a 2-core machine), once per test session.
"""

import pytest

from tests.helpers import on_both_cores

pytestmark = pytest.mark.timeout(600)  # 3 presets, about 35 s on an idle 2-core box

# preset -> (steps, detector kinds that must fire); an empty tuple means none may fire. A set
# means any one of its kinds will do. The presets of the classroom lessons (problem and remedy
# sides) are checked against their lessons' own declarations instead, over their first 3,000
# steps here (tests/test_lessons_period.py) and a whole class period in `make test-lessons`; these
# are the healthy presets outside the lessons. Listed longest first (seconds on one core of the
# 2-core box in the comments), the order the two processes take them in.
EXPECTED = {
    "ring8-reference": (2000, ()),  # 25 s
    "two-points": (2000, ()),  # 21 s
    "circle": (2000, ()),  # 18 s
}


def train_preset(job: tuple[str, int]) -> tuple[str, list[dict], str]:
    from gancore.run.session import Session
    from gancore.teach.presets import get_preset

    name, steps = job
    session = Session(get_preset(name).config())
    session.state = "running"
    session.train(steps)
    return name, [e for e in session.events if e["kind"] != "edit"], session.state


@pytest.fixture(scope="module")
def outcomes():
    jobs = [(name, steps) for name, (steps, _) in EXPECTED.items()]
    return {name: (events, state) for name, events, state in on_both_cores(train_preset, jobs)}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_shows_its_phenomenon(outcomes, name):
    events, state = outcomes[name]
    wanted = EXPECTED[name][1]
    kinds = {e["kind"] for e in events}
    assert state != "diverged", events
    if wanted:
        for want in wanted:
            alternatives = want if isinstance(want, set) else {want}
            assert alternatives & kinds, f"{name}: expected {want}, got {events}"
        for e in events:
            assert f"at step {e['step']:,}" in e["message"]
    else:
        assert events == [], f"{name} should stay healthy, got {events}"
