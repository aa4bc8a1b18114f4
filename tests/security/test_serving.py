"""Serving beyond one desk (issue 16, items 6 and 7), each attack tried as an attacker would from
plain HTTP and WebSocket clients on 127.0.0.1: a DNS-rebinding Host, a foreign Origin on POSTs and
on the socket handshake, a server bound wide without its token, forged and borrowed session
cookies, a restart, missing security headers, malformed callback bodies, an oversized socket
message. Each attack's test failed on the code before these checks existed (test_se015 is the
guard's other side: Dash's own "nothing to update" still answers 204)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from tests.servers import AppServer, Client

FOREIGN_HOST = "rebind.attacker.example"  # resolves to 127.0.0.1 in a DNS-rebinding attack
FOREIGN_ORIGIN = f"http://{FOREIGN_HOST}"
SCHOOL_NAME = "gans.school.example"  # the DNS name a school gives the teacher's machine
NEEDS_TOKEN = "needs the link with its token"
SESSION = "ganscope_session"
AUTH = "ganscope_auth"
PAGES = ["/", "/compare", "/library", "/lessons", "/replay"]


# ---- helpers ------------------------------------------------

def one_line(body: bytes) -> str:
    text = body.decode(errors="replace")
    assert text.count("\n") <= 1 and len(text) < 300, text[:500]
    return text.strip()


def ws_handshake(port: int, headers: dict[str, str] | None = None,
                 path: str = "/ws") -> tuple[int, socket.socket]:
    """A WebSocket opening handshake on a raw socket: (HTTP status, the open socket). Raw, so
    the test controls every header and reads the refusal's status (simple_websocket's client
    only says the handshake failed)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    fields = {"Host": f"127.0.0.1:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
              "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
              "Sec-WebSocket-Version": "13", **(headers or {})}
    head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    sock.sendall((head + "\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return int(answer.split(b" ", 2)[1]), sock


def ws_status(port: int, headers: dict[str, str] | None = None) -> int:
    """The HTTP status a WebSocket handshake gets (101: the socket opened)."""
    status, sock = ws_handshake(port, headers)
    sock.close()
    return status


def text_frame_header(length: int) -> bytes:
    """A client's (masked) text frame header for `length` bytes; the mask key is zero, so the
    payload goes unchanged."""
    return struct.pack("!BBQ", 0x81, 0x80 | 127, length) + b"\0\0\0\0"


def raw_get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One GET that does not follow redirects (to see the answer to a token link)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def by_inputs(client: Client, inputs: list[tuple[str, str]]) -> str:
    """A callback's output string, found by its inputs as the renderer finds it."""
    _, _, raw = client.get("/_dash-dependencies")
    want = [{"id": i, "property": p} for i, p in inputs]
    return next(d["output"] for d in json.loads(raw) if d["inputs"] == want)


def vm_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def token_of(server: AppServer) -> str:
    """The token in the link the server printed at start-up."""
    m = re.search(r"\?token=([A-Za-z0-9_-]+)", server.output())
    assert m, f"no link with a token in the server's output: {server.output()[-800:]}"
    return m.group(1)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """A server bound to every interface, as a teacher starts it for a class, reached on
    127.0.0.1 under this machine's own name (what a student's browser sends as Host)."""
    srv = AppServer(tmp_path_factory.mktemp("wide") / "runs", "--no-spare", "--host", "0.0.0.0",
                    env={"GANSCOPE_ALLOW_HOSTS": f"{SCHOOL_NAME}, other.school.example"})
    yield srv
    srv.stop()


def machine_host(server: AppServer) -> str:
    return f"{socket.gethostname()}:{server.port}"


# ---- Host, Origin ------------------------------------------------

def test_se001_foreign_host_is_refused_even_on_loopback(server):
    """DNS rebinding: a page on the attacker's name, re-resolved to 127.0.0.1, drives the server
    with its own name as Host. Every route refuses it; loopback names still work."""
    client = Client(server.url)
    for path in ["/", "/api/runs", "/_dash-layout", "/assets/stream.js"]:
        status, _, body = client.get(path, headers={"Host": f"{FOREIGN_HOST}:{server.port}"})
        assert status == 400, (path, status)
        assert "--allow-host" in one_line(body)
    status, _ = client.callback("run-label.children",
                                [{"id": "run", "property": "data", "value": None}],
                                headers={"Host": FOREIGN_HOST})
    assert status == 400
    assert ws_status(server.port, {"Host": f"{FOREIGN_HOST}:{server.port}"}) == 400
    for host in [f"localhost:{server.port}", f"127.0.0.1:{server.port}", "[::1]", "LOCALHOST."]:
        assert client.get("/api/runs", headers={"Host": host})[0] == 200, host


def test_se002_foreign_origin_is_refused_on_callbacks(server):
    """A cross-site page POSTing a callback (CSRF): refused; the app's own origin and clients
    that send no Origin (scripts, tests) are not."""
    client = Client(server.url)
    label = [{"id": "run", "property": "data", "value": None}]
    for origin in [FOREIGN_ORIGIN, "null", f"http://127.0.0.1:{server.port + 1}"]:
        status, answer = client.callback("run-label.children", label,
                                         headers={"Origin": origin})
        assert status == 403, (origin, status)
        assert "cross-origin" in answer
    assert client.callback("run-label.children", label,
                           headers={"Origin": server.url})[0] == 200
    assert client.callback("run-label.children", label)[0] == 200


def test_se003_foreign_origin_is_refused_on_the_socket_handshake(server):
    assert ws_status(server.port, {"Origin": FOREIGN_ORIGIN}) == 403
    assert ws_status(server.port, {"Origin": server.url}) == 101


# ---- the token ------------------------------------------------

def test_se004_bound_wide_every_route_needs_the_token(wide):
    token = token_of(wide)
    host = {"Host": machine_host(wide)}
    anyone = Client(wide.url, headers=host)
    for path in ["/", "/compare", "/assets/stream.js", "/_dash-layout", "/_dash-dependencies",
                 "/api/runs", "/export/nothing.csv", "/api/recordings/x.h5"]:
        status, _, body = anyone.get(path)
        assert status == 401, (path, status)
        assert NEEDS_TOKEN in one_line(body)
    assert anyone.callback("run-label.children",
                           [{"id": "run", "property": "data", "value": None}])[0] == 401
    assert ws_status(wide.port, host) == 401
    # a wrong token is refused, whichever way it comes
    assert anyone.get("/?token=not-the-token")[0] == 401
    assert anyone.get("/api/runs", headers={"Authorization": "Bearer not-the-token"})[0] == 401
    assert anyone.get("/api/runs", headers={"Cookie": f"{AUTH}=forged"})[0] == 401
    assert anyone.get(f"/?token={token}x")[0] == 401
    assert anyone.get("/api/runs", headers={"Authorization": "Bearer \u00e9"})[0] == 401


def test_se005_the_token_link_leaves_a_cookie_and_drops_the_token(wide):
    token = token_of(wide)
    host = {"Host": machine_host(wide)}
    status, headers, _ = raw_get(wide.port, f"/compare?presets=a,b&token={token}", host)
    assert status == 303 and headers["Location"] == "/compare?presets=a%2Cb"
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Lax" in headers["Set-Cookie"]
    student = Client(wide.url, headers=host)
    assert student.get(f"/?preset=ring8-reference&token={token}")[0] == 200  # redirected
    assert student.cookie(AUTH) is not None
    # with the cookie: pages, callbacks and the socket
    assert student.get("/library")[0] == 200
    assert student.callback("run-label.children",
                            [{"id": "run", "property": "data", "value": None}])[0] == 200
    assert ws_status(wide.port, {**host, "Cookie": student.cookie_header()}) == 101
    # scripts: a bearer header
    status, _, body = Client(wide.url).get("/api/runs",
                                           headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and json.loads(body) == []
    # the printed links: this machine's and other machines'
    assert f"http://127.0.0.1:{wide.port}/?token={token}" in wide.output()


def test_se006_bound_wide_only_this_machines_names_addresses_and_allowed_hosts(wide):
    client = Client(wide.url)
    token = token_of(wide)
    bearer = {"Authorization": f"Bearer {token}"}
    for host in [machine_host(wide), f"{socket.gethostname()}.local", "192.0.2.7:8050",
                 f"localhost:{wide.port}", SCHOOL_NAME, f"{SCHOOL_NAME.upper()}:{wide.port}"]:
        assert client.get("/api/runs", headers={**bearer, "Host": host})[0] == 200, host
    for host in [FOREIGN_HOST, "0.0.0.0", "user@127.0.0.1", "127.0.0.1/x", ""]:
        assert client.get("/api/runs", headers={**bearer, "Host": host})[0] == 400, host


def test_se007_no_token_only_on_explicit_request(fresh_server):
    srv = fresh_server("--host", "0.0.0.0", "--no-token")
    assert Client(srv.url, headers={"Host": machine_host(srv)}).get("/")[0] == 200
    assert "WARNING: --no-token" in srv.output()
    assert "?token=" not in srv.output()


def test_se008_a_token_given_on_loopback_is_required_there_too(fresh_server):
    srv = fresh_server(env={"GANSCOPE_TOKEN": "class-of-2025"})
    assert Client(srv.url).get("/")[0] == 401
    assert Client(srv.url).get("/?token=class-of-2025")[0] == 200


# ---- sessions ------------------------------------------------

def test_se009_a_chosen_or_badly_signed_session_id_is_replaced(server):
    genuine = Client(server.url)
    genuine.get("/api/runs")
    sid, _, signature = genuine.cookie(SESSION).partition(".")
    assert len(sid) >= 16 and signature
    for forged in ["chosen-by-the-attacker-0123", f"{sid}.{'A' * len(signature)}", sid,
                   f"{sid}.", f".{signature}"]:
        status, headers, _ = Client(server.url).get(
            "/api/runs", headers={"Cookie": f"{SESSION}={forged}"})
        issued = re.search(f"{SESSION}=([^;]+)", headers.get("Set-Cookie", ""))
        assert status == 200 and issued, forged
        assert issued.group(1).partition(".")[0] not in (forged.partition(".")[0], sid)
    # the genuine cookie is kept
    assert "Set-Cookie" not in genuine.get("/api/runs")[1]


def test_se010_a_borrowed_session_id_cannot_control_anothers_run(server):
    owner = Client(server.url)
    status, answer = owner.open_preset("ring8-vanilla-collapse", play=True)
    assert status == 200, answer
    run_data = answer["response"]["run"]["data"]
    sid = owner.cookie(SESSION).partition(".")[0]  # what an onlooker could learn, unsigned
    intruder = Client(server.url, headers={"Cookie": f"{SESSION}={sid}"})
    play = by_inputs(intruder, [("play", "n_clicks")])
    click = [{"id": "play", "property": "n_clicks", "value": 1}]
    state = [{"id": "run", "property": "data", "value": run_data}]
    status, answer = intruder.callback(play, click, state=state)
    assert status == 200, answer
    assert "another browser session" in json.dumps(answer)
    status, answer = owner.callback(play, click, state=state)  # the owner can (frees the CPU)
    assert status == 200 and "another browser session" not in json.dumps(answer)


def test_se011_sessions_survive_a_restart_on_the_same_runs_folder(tmp_path):
    runs_dir = tmp_path / "runs"
    srv = AppServer(runs_dir, "--no-spare")
    try:
        browser = Client(srv.url)
        browser.get("/api/runs")
        cookie = browser.cookie(SESSION)
    finally:
        srv.stop()
    key = runs_dir / ".secret-key"
    assert key.stat().st_mode & 0o777 == 0o600
    srv = AppServer(runs_dir, "--no-spare")
    try:
        status, headers, _ = Client(srv.url).get("/api/runs",
                                                 headers={"Cookie": f"{SESSION}={cookie}"})
        assert status == 200 and "Set-Cookie" not in headers
    finally:
        srv.stop()


# ---- headers ------------------------------------------------

def test_se012_pages_carry_csp_and_frame_denial(server):
    client = Client(server.url)
    for path in [*PAGES, "/assets/stream.js", "/api/runs"]:
        status, headers, body = client.get(path)
        assert status == 200, path
        csp = headers["Content-Security-Policy"]
        for directive in ["default-src 'self'", "frame-ancestors 'none'", "object-src 'none'",
                          "base-uri 'self'", "connect-src 'self'"]:
            assert directive in csp, (path, directive)
        assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        if path in PAGES:  # every inline script the page runs is allowed by its hash
            html = body.decode()
            html = re.sub(r"<!--.*?-->", "", html, flags=re.S)
            for attrs, script in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
                if "src=" in attrs or "application/json" in attrs:
                    continue
                digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
                assert f"'sha256-{digest}'" in csp, (path, script[:80])


# ---- malformed callbacks ------------------------------------------------

PLAY_RUN = {"run": 5, "config": 7}  # the keys the play page's run store has, wrongly typed
PLAY_BOOT = {"watch": [1, 2]}  # its boot store (a config that cannot run is not malformed:
                               # the page falls back to the default preset and says why)
CMP_RUNS = {"runs": 5, "presets": 7, "cfgs": 8, "seed": []}  # the compare page's, likewise
RUN, CMP = ("run", "data"), ("cmp-runs", "data")
# callback (its inputs with their values, its states), the component given wrong values, and
# the wrongly typed store for it
TYPED = {
    "open_run": ([("boot", "data", None)], [], "boot", PLAY_BOOT),
    "play_pause": ([("play", "n_clicks", 1)], [RUN], "run", PLAY_RUN),
    "reset": ([("reset", "n_clicks", 1)], [RUN], "run", PLAY_RUN),
    "preset": ([("preset", "value", "ring8-reference")], [RUN], "run", PLAY_RUN),
    "upload": ([("upload", "contents", "data:text/csv;base64,MSwy")],
               [("upload", "filename"), RUN, ("upload-cond", "value")], "run", PLAY_RUN),
    "cmp_open": ([("cmp-ask", "data", None)], [], "cmp-ask", CMP_RUNS),
    "cmp_play": ([("cmp-play", "n_clicks", 1)], [("cmp-speed", "value"), CMP], "cmp-runs",
                 CMP_RUNS),
    "cmp_speed": ([("cmp-speed", "value", 2)], [CMP], "cmp-runs", CMP_RUNS),
}


def callback_body(deps: list[dict], inputs: list[tuple[str, str, object]],
                  states: list[tuple[str, str]], output: str = "") -> dict:
    """A well-formed request for the callback with these inputs and states (states None) and
    an output that contains `output`."""
    d = next(d for d in deps if [(i["id"], i["property"]) for i in d["inputs"]] ==
             [(i, p) for i, p, _ in inputs]
             and [(s["id"], s["property"]) for s in d["state"]] == states
             and output in d["output"])
    return {"output": d["output"], "outputs": _outputs(d["output"]),
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "state": [{"id": i, "property": p, "value": None} for i, p in states],
            "changedPropIds": [f"{i}.{p}" for i, p, _ in inputs]}


def post_callback(client: Client, body: bytes,
                  content_type: str = "application/json") -> tuple[int, bytes]:
    status, _, answer = client.request("/_dash-update-component", body,
                                       headers={"Content-Type": content_type})
    return status, answer


def _outputs(output: str) -> list | dict:
    """Dash's parsed form of an output string ("..a.b...c.d.." or "a.b"); a pattern output
    that matches ALL components matches none here."""
    def one(s: str) -> list | dict:
        ident, _, prop = s.rpartition(".")
        if '["ALL"]' in ident:
            return []
        return {"id": json.loads(ident) if ident.startswith("{") else ident,
                "property": prop.split("@")[0]}
    if output.startswith(".."):
        return [one(s) for s in output[2:-2].split("...")]
    return one(output)


def malformed_bodies(deps: list[dict]) -> list[tuple[str, bytes, str]]:
    """(what, body, content type) of 50+ callback requests no page would send: bodies that are
    not JSON, are truncated or garbled, have the wrong top-level type, miss keys, name no
    callback, nest absurdly deep, or give real callbacks of the play and compare pages values
    of types they cannot use."""
    js = "application/json"
    base = callback_body(deps, *TYPED["play_pause"][:2])  # the play page's play/pause
    whole = json.dumps(base).encode()
    out = [(f"truncated at {cut}", whole[:cut], js)
           for cut in (0, 1, len(whole) // 4, len(whole) // 2, len(whole) - 1)]
    out += [("single quotes", whole.replace(b'"', b"'"), js), ("binary", b"\xff\xfe\x00{", js),
            ("NaN soup", b'{"output": NaN, "inputs": [Infinity', js),
            ("text/plain", whole, "text/plain"),
            ("form", b"output=run-label.children", "application/x-www-form-urlencoded")]
    out += [(f"top level {top!r}"[:40], json.dumps(top).encode(), js)
            for top in ([], 1, "x", None, True, [whole.decode()])]
    out += [(f"no {key}", json.dumps({k: v for k, v in base.items() if k != key}).encode(), js)
            for key in ("output", "inputs", "state", "outputs")]
    for label, change in [("unknown output", {"output": "nope.children"}),
                          ("clientside output", {"output": "url-sync.children"}),
                          ("output is a list", {"output": [base["output"]]}),
                          ("inputs is a string", {"inputs": "play"}),
                          ("inputs are numbers", {"inputs": [1, 2]}),
                          ("input without property", {"inputs": [{"id": "play"}]}),
                          ("state is an object", {"state": {"run": 1}}),
                          ("outputs is a string", {"outputs": "notice"}),
                          ("changedPropIds is a number", {"changedPropIds": 5}),
                          ("changedPropIds of objects", {"changedPropIds": [{"a": 1}]})]:
        out.append((label, json.dumps({**base, **change}).encode(), js))
    deep = 100_000
    out.append(("nested lists", b"[" * deep + b"]" * deep, js))
    out.append(("nested objects", b'{"a":' * deep + b"1" + b"}" * deep, js))
    marked = json.dumps({**base, "inputs": [{"id": "play", "property": "n_clicks",
                                             "value": "@@"}]})
    out.append(("nested input value", marked.replace('"@@"', "[" * deep + "]" * deep).encode(),
                js))
    for name, (inputs, states, target, store) in TYPED.items():
        for wrong in (5, "x", [1, 2], True, store):
            body = callback_body(deps, inputs, states)
            for slot in body["inputs"] + body["state"]:
                if slot["id"] == target:
                    slot["value"] = wrong
            out.append((f"{name} {target}={wrong!r}", json.dumps(body).encode(), js))
    return out


def test_se013_malformed_callback_bodies_get_a_one_line_400(server):
    client = Client(server.url)
    client.get("/")
    deps = json.loads(client.get("/_dash-dependencies")[2])
    bodies = malformed_bodies(deps)
    assert len(bodies) >= 50
    answers = {}
    for what, body, content_type in bodies:
        status, text = post_callback(client, body, content_type)
        answers[what] = (status, text.decode(errors="replace")[:200])
    wrong = {w: a for w, a in answers.items() if a[0] != 400}
    assert not wrong, wrong
    for what, (_, text) in answers.items():
        assert one_line(text.encode()).startswith("callback refused:"), what
        for leak in ("Traceback", "/work", str(server.runs_dir), "File \""):
            assert leak not in text, (what, text)
    mine = [r for r in json.loads(client.get("/api/runs")[2]) if r["owner_is_you"]]
    assert mine == [], "a malformed callback started a run"


def test_se015_prevent_update_still_answers_204(tmp_path):
    """Not an attack, the guard's other side: a callback that raises PreventUpdate (nothing to
    change) still gets Dash's 204, not a 400."""
    from dash import Input, Output
    from dash.exceptions import PreventUpdate

    from app import runs
    from app.main import create_app

    app = create_app(tmp_path / "runs", spare=False)
    try:
        @app.callback(Output("se015-out", "children"), Input("se015-in", "value"))
        def nothing(_value):
            raise PreventUpdate

        body = {"output": "se015-out.children",
                "outputs": {"id": "se015-out", "property": "children"},
                "inputs": [{"id": "se015-in", "property": "value", "value": 1}], "state": [],
                "changedPropIds": ["se015-in.value"]}
        answer = app.server.test_client().post("/_dash-update-component", json=body)
        assert answer.status_code == 204
    finally:
        runs.registry().close()


# ---- the socket ------------------------------------------------

def test_se014_an_oversized_socket_message_closes_the_socket(server):
    """A tab sends "next" or a watch list: 32 MB in one message is an attack. The socket is
    closed with 1009 (message too big) once 64 KB have arrived, and the web process does not
    grow by the message's size. (Werkzeug then reads and drops whatever else the client sends,
    10 MB at a time, as it does after any refused request.)"""
    size = 32 * 2**20
    before = vm_rss_mb(server.proc.pid)
    status, sock = ws_handshake(server.port)
    assert status == 101
    got = bytearray()

    def read():
        try:
            while chunk := sock.recv(4096):
                got.extend(chunk)
        except OSError:
            pass

    threading.Thread(target=read, daemon=True).start()
    sent = 0
    try:
        sock.sendall(text_frame_header(size))
        while sent < size and not got:
            sock.sendall(b"a" * 2**16)
            sent += 2**16
    except OSError:
        pass  # the server hung up mid-message: also a refusal
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    sock.close()
    grown = vm_rss_mb(server.proc.pid) - before
    assert got[:1] == b"\x88", f"no close frame after {sent / 2**20:.1f} MB: {bytes(got[:40])}"
    assert struct.unpack("!H", bytes(got[2:4]))[0] == 1009  # message too big
    assert sent < size, "the server read the whole message before refusing it"
    assert grown < 16, f"the web process grew by {grown:.0f} MB"
    assert Client(server.url).get("/api/runs")[0] == 200
