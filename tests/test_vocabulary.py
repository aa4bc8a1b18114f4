"""One vocabulary: gancore/vocabulary.py is the only place the run states, event kinds, palette and
chart labels are written; assets/0_vocabulary.js is generated from it (tools/vocabulary.py) and
the browser scripts read it. These tests hold the two sides equal and the drawing true to it."""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

# The page's scripts in Dash's load order (sorted file names) under a small DOM stub, minus
# stream.js, which opens the page's socket. Plotly.react is recorded, not drawn.
HARNESS = r"""
const fs = require('fs'), path = require('path'), vm = require('vm');
const [dir, skip] = [process.argv[1], process.argv[2].split(',')];
function El(id) {
  this.id = id || ''; this.dataset = {}; this.style = {}; this.children = [];
  this.offsetParent = {}; this.textContent = ''; this.className = '';
  this.classList = { toggle() {}, contains() { return false; }, add() {}, remove() {} };
}
El.prototype.appendChild = function (c) { this.children.push(c); return c; };
El.prototype.setAttribute = function (k, v) { this[k] = v; };
El.prototype.addEventListener = function () {};
El.prototype.querySelector = function () { return null; };
El.prototype.querySelectorAll = function () { return []; };
El.prototype.remove = function () {};
El.prototype.on = function () {};
const els = {};
globalThis.window = globalThis;
globalThis.document = {
  body: new El('body'), readyState: 'complete', addEventListener() {},
  getElementById(id) { return els[id] || (els[id] = new El(id)); },
  createElement() { return new El(); }, querySelector() { return null; },
};
globalThis.location = { search: '', pathname: '/', protocol: 'http:', host: 'test', origin: '' };
globalThis.history = { replaceState() {} };
globalThis.MutationObserver = function () { this.observe = function () {}; };
globalThis.addEventListener = function () {};
const drawn = {};
globalThis.Plotly = { react(div, data) { drawn[div.id] = data; return Promise.resolve(); } };
const index = { frame_steps: [0, 200], curves: { step: [0, 100, 200] }, metrics: {},
                modes_total: 0, events: EVENTS };
globalThis.fetch = function (url) {
  return Promise.resolve(url.endsWith('/index')
    ? { ok: true, json: () => Promise.resolve(index) }
    : { ok: false, statusText: 'no frames in this test', text: () => Promise.resolve('') });
};
fs.readdirSync(dir).filter(f => f.endsWith('.js') && !skip.includes(f)).sort().forEach(f => {
  vm.runInThisContext(fs.readFileSync(path.join(dir, f), 'utf8'), { filename: f });
});
const GS = globalThis.GS;
// the play page: the run's events arrive with a frame, the charts are drawn in idle time
GS.resetView({ run: 'r', kind: '2d', config: null });
GS.addFrameScalars({ step: 200, scalars: {}, meta: { events: EVENTS } });
GS.drawCharts(true);
// the replay page: the same events from a recording's index
GS.replay.open({ recs: ['rec'] });
setTimeout(function () {
  const symbols = function (traces) {
    const out = {};
    (traces || []).filter(t => t.mode === 'markers')
      .forEach(t => { out[t.name] = t.marker.symbol; });
    return out;
  };
  console.log(JSON.stringify({ live: symbols(drawn['timeline']),
                               replay: symbols(drawn['replay-timeline']) }));
  process.exit(0);  // the pages' own timers (the class view's poll) would keep node alive
}, 300);
"""


def run_pages(events: list[dict]) -> dict:
    script = HARNESS.replace("EVENTS", json.dumps(events))
    out = subprocess.run(["node", "-e", script, str(ASSETS), "stream.js"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@node
def test_vo001_a_diverged_run_gets_its_x_marker_on_both_timelines():
    from gancore.observe.detectors import divergence_event

    diverged = divergence_event(180, "loss").as_dict()  # the kind the engine really emits
    collapse = {"step": 90, "kind": "mode_collapse", "message": "mode collapse at step 90"}
    got = run_pages([collapse, diverged])
    # the live timeline names its rows in the legend, with the kinds' words for a room
    from gancore.vocabulary import EVENTS as WORDS

    assert got["live"] == {WORDS["divergence"].label: "x", WORDS["mode_collapse"].label: "diamond"}
    assert got["replay"] == {"divergence": "x", "mode collapse": "diamond"}


def load_generator():
    spec = importlib.util.spec_from_file_location("vocabulary_tool", ROOT / "tools/vocabulary.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_vo002_the_generated_constants_file_is_up_to_date():
    tool = load_generator()
    assert tool.TARGET.read_text(encoding="utf-8") == tool.render(), \
        "assets/0_vocabulary.js is stale: run python tools/vocabulary.py"


@node
def test_vo003_the_browser_reads_what_python_wrote():
    from gancore.vocabulary import as_json

    script = ("require(process.argv[1]); console.log(JSON.stringify(globalThis.GS.VOCAB))")
    out = subprocess.run(["node", "-e", script, str(ASSETS / "0_vocabulary.js")],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert json.loads(out) == json.loads(json.dumps(as_json()))


def test_vo004_the_vocabulary_loads_before_every_script_that_reads_it():
    # Dash serves assets in sorted file-name order and the scripts read GS.VOCAB as they load
    # (vo001 loads them all in that order: the draw_*.js files after draw.js, too).
    assert sorted(p.name for p in ASSETS.glob("*.js"))[0] == "0_vocabulary.js"


def scripts() -> dict[str, str]:
    """Every browser script but the generated one, comments dropped."""
    out = {}
    for p in sorted(ASSETS.glob("*.js")):
        if p.name != "0_vocabulary.js":
            text = re.sub(r"/\*.*?\*/", "", p.read_text(encoding="utf-8"), flags=re.S)
            out[p.name] = re.sub(r"(^|\s)//[^\n]*", r"\1", text)
    return out


def quoted(words) -> str:
    return '"(?:' + "|".join(re.escape(w) for w in words) + ')"'


def written_out(texts: dict[str, str]) -> list[str]:
    """Where these scripts write a piece of the vocabulary themselves."""
    from gancore import vocabulary as v

    state = quoted(v.RUN_STATES)
    # a list of states: ["diverged", "failed", ...], or state === "done" || state === "failed"
    state_list = re.compile(r"\[\s*" + state + r"\s*,\s*" + state)
    state_chain = re.compile(r"===\s*" + state + r"[^;\n]*===\s*" + state)
    # a table keyed by event kinds or metric names (the old LABELS and METRIC_LABELS objects)
    keyed = re.compile(r"\b(?:" + "|".join(list(v.EVENT_KINDS) + list(v.METRIC_LABELS))
                       + r")\s*:\s*\"")
    labels = [w.label for k, w in v.EVENTS.items() if w.label != k]
    labels += list(v.SERIES_LABELS.values()) + list(v.METRIC_LABELS.values())
    label = re.compile(quoted(labels))
    colours = {*v.PALETTE, v.REAL, v.FAKE, v.GRID, v.ARROW, v.MAP, v.INK, v.MUTED, v.ALERT,
               *(c for _, c in v.D_SCALE)}
    colour = re.compile(quoted(colours), re.I)
    offences = []
    for name, text in texts.items():
        offences += [f"{name}: state list {m.group(0)!r}" for m in state_list.finditer(text)]
        offences += [f"{name}: state chain {m.group(0)!r}" for m in state_chain.finditer(text)]
        if len(keyed.findall(text)) >= 2:
            offences.append(f"{name}: a table keyed by event kinds or metrics")
        if len(set(label.findall(text))) >= 2:
            offences.append(f"{name}: labels {sorted(set(label.findall(text)))}")
        offences += [f"{name}: colour {c}" for c in sorted(set(colour.findall(text)))]
    return offences


def test_vo005_no_browser_script_writes_the_vocabulary_itself():
    assert written_out(scripts()) == []


def test_vo006_every_state_and_event_kind_the_code_uses_is_in_the_vocabulary():
    from gancore import vocabulary as v
    from gancore.observe.detectors import DETECTORS, divergence_event
    from gancore.run.session import STATES

    assert {d.kind for d in DETECTORS} | {divergence_event(1, "loss").kind} <= set(v.EVENT_KINDS)
    assert set(STATES) <= set(v.RUN_STATES) and set(v.ENDED) <= set(v.RUN_STATES)
    assert set(v.EVENTS) == set(v.EVENT_KINDS) and set(v.STATE_DOCS) == set(v.RUN_STATES)
    # kinds written as literals: add_event(..., "edit", ...) in gancore, addEvent(step, "fork")
    emitted = set()
    for p in [*(ROOT / "gancore").rglob("*.py"), *ASSETS.glob("*.js")]:
        emitted |= set(re.findall(r"(?i)add_?event\((?:[^,()]+,\s*)?\"(\w+)\"", p.read_text()))
    assert emitted and emitted <= set(v.EVENT_KINDS)


def test_vo007_the_vocabulary_is_torch_and_web_free():
    code = ("import sys, gancore.vocabulary\n"
            "print(sorted(k for k in sys.modules if k.split('.')[0] in "
            "('torch', 'numpy', 'dash', 'plotly', 'flask')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_vo008_no_browser_script_is_over_500_lines():
    long = {p.name: n for p in ASSETS.glob("*.js")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert long == {}
