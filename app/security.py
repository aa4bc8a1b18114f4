"""Who may talk to this server, checked before any page, asset, callback or socket answers: the
Host allow-list (DNS rebinding), same-origin POSTs and sockets, the access token when bound beyond
loopback; the server's secret key; the security headers; one-line 400s for malformed callbacks.

The checks run in this order on every request, each refusing with a one-line text reason:
    Host      not an allowed name                          -> 400
    Origin    present on a POST or a /ws handshake, and not this server's own origin -> 403
    token     required (bound beyond loopback, or --token) and not given by ?token=, by
              `Authorization: Bearer`, or by the signed cookie a ?token= link left   -> 401
The class view adds a teacher check on its own paths (app.class_access).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from dash import Dash
from dash.exceptions import PreventUpdate
from flask import Flask, Response, current_app, g, redirect, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse  # flask's Response and redirect()'s

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
TOKEN_PARAM = "token"
AUTH_COOKIE = "ganscope_auth"
COOKIE_MAX_AGE_S = 30 * 24 * 3600  # the auth and session cookies both last a month
KEY_FILE = ".secret-key"  # in the runs folder, so sessions survive a restart
KEY_BYTES = 32
NEEDS_TOKEN = ("this ganscope server needs the link with its token "
               "(printed where it was started)")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TEACHER_PARAM = "teacher"  # the class view's key in its link (app.class_access)
CALLBACK_ROUTE = "_dash-update-component"
_POLICY = "ganscope_policy"  # where the policy and the key live in `Flask.extensions`
_KEY = "ganscope_key"

# A Host header or an Origin's authority: a name or an IPv4 address, or an IPv6 address in
# brackets, then an optional port. Anything else (userinfo, paths, spaces) is refused outright.
_AUTHORITY = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))"
                        r"(?::(?P<port>[0-9]{1,5}))?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ANY_ADDRESS = frozenset({"", "0.0.0.0", "::", "[::]"})  # bound to every interface

# Content-Security-Policy, less script-src (the inline scripts' hashes are known only once Dash
# has set itself up). Measured in headless Chromium on the play page (2-D map and 3-D surface),
# compare, library, lessons and replay: no violation with these. style-src needs
# 'unsafe-inline' because Dash and Plotly set style attributes and add <style> elements;
# Plotly's 3-D surface (WebGL) compiles its shaders without eval. img-src: the D surface is a
# data: PNG, exports are blob: URLs. connect-src 'self' covers ws:// to this host in Chromium.
_CSP_FIXED = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
              "connect-src 'self'; worker-src blob:; frame-ancestors 'none'; "
              "object-src 'none'; base-uri 'self'")
_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a page opened from a ?token= link must not leak it
}


# ---- the policy: which names, which token ------------------------------------------------

def is_loopback(bind: str) -> bool:
    """Whether a bind address keeps the server on this machine (then it trusts its one user)."""
    if bind.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind.strip("[]")).is_loopback
    except ValueError:
        return False


def machine_names() -> set[str]:
    """The names students may type to reach this machine: its host name, that name on the local
    network's multicast DNS (`name.local`), and its fully qualified name. A DNS name the school
    gives the machine is not knowable from here: `--allow-host NAME` adds it."""
    short = socket.gethostname().lower()
    names = {short, f"{short.split('.')[0]}.local"}
    try:
        names.add(socket.getfqdn().lower())
    except OSError:  # no resolver: the short name is still right
        pass
    return {n.rstrip(".") for n in names if n}


def primary_address() -> str | None:
    """The address other machines most likely reach this one on: the source address of the
    default route (a UDP socket's connect sends nothing). None without a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere, only looked up
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if ipaddress.ip_address(address).is_loopback else address


def _is_address(name: str) -> bool:
    try:
        return not ipaddress.ip_address(name).is_unspecified
    except ValueError:
        return False


@dataclass(frozen=True)
class Policy:
    """What this server accepts. `names` are the host names it answers to; `token`, when set,
    must come with every request (from the link, a header or the cookie the link left)."""

    bind: str = "127.0.0.1"
    names: frozenset[str] = LOOPBACK_NAMES
    token: str | None = None
    teacher_key: str | None = None  # the class view's own secret (--teacher-key)

    @classmethod
    def for_bind(cls, bind: str, *, allow_hosts: tuple[str, ...] | list[str] = (),
                 token: str | None = None, no_token: bool = False,
                teacher_key: str | None = None) -> Policy:
        """The policy for a server bound to `bind`. Bound to loopback there is no token unless
        one is given; bound wider a random one is made unless one is given or `no_token`.
        `teacher_key`, when given, is what the class view asks for (students have the token).
        `allow_hosts` are names (a port, if given, is ignored); ValueError names a bad one."""
        names = set(LOOPBACK_NAMES)
        for text in filter(str.strip, allow_hosts):
            parsed = _authority(text)
            if parsed is None:
                raise ValueError(f"--allow-host {text!r} is not a host name")
            names.add(parsed[0])
        if not is_loopback(bind):
            names |= machine_names()
        if bind not in _ANY_ADDRESS and not _is_address(bind.strip("[]")):
            names.add(bind.lower().rstrip("."))  # bound to a name: that name reaches it
        token = (token or "").strip() or None
        if no_token:
            token = None
        elif not token and not is_loopback(bind):
            token = secrets.token_urlsafe(24)
        return cls(bind=bind, names=frozenset(names), token=token,
                   teacher_key=(teacher_key or "").strip() or None)

    def host_allowed(self, name: str) -> bool:
        """A rebinding page reaches us under its own *name*, so names must be on the list. An
        IP address in Host names the very socket the browser opened, which cannot be someone
        else's page: any address is allowed (the machine's own, and the one Docker or a NAT
        forwards to it, which the server cannot know)."""
        return name in self.names or _is_address(name)

    def urls(self, port: int) -> list[str]:
        """The links to print at start-up: this machine's, then (bound wide) other machines'."""
        query = f"?{TOKEN_PARAM}={self.token}" if self.token else ""
        hosts = [self.bind]
        if self.bind in _ANY_ADDRESS:
            hosts = ["127.0.0.1", primary_address() or socket.gethostname()]
        return [f"http://{_bracketed(h)}:{port}/{query}" for h in hosts]

    def class_url(self, port: int) -> str | None:
        """The teacher's link to the class view (token and teacher key in it, as needed), or
        None when the class view is off (see `class_view_open`)."""
        if not self.class_view_open():
            return None
        query = urlencode([(k, v) for k, v in ((TOKEN_PARAM, self.token),
                                               (TEACHER_PARAM, self.teacher_key)) if v])
        host = "127.0.0.1" if self.bind in _ANY_ADDRESS else self.bind
        return f"http://{_bracketed(host)}:{port}/class" + (f"?{query}" if query else "")

    def class_view_open(self) -> bool:
        """Whether the class view can be reached at all: with a teacher key, a token, or on
        loopback (the one user of this machine sees their own runs)."""
        return bool(self.teacher_key or self.token or is_loopback(self.bind))


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def policy_of(server: Flask) -> Policy:
    return server.extensions[_POLICY]


# ---- the server's secret key ------------------------------------------------

def load_key(runs_dir: str | Path) -> bytes:
    """The key that signs session ids and auth cookies, kept in the runs folder so a browser
    keeps its session (and its recordings) across a restart. Made once, readable by the owner
    only; two servers starting together agree, because the file appears whole (written under a
    private name, then hard-linked into place, which fails if another got there first)."""
    folder = Path(runs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / KEY_FILE
    if not path.exists():
        tmp = folder / f"{KEY_FILE}.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(KEY_BYTES) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass  # another server made it first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise RuntimeError(f"{path} is not a ganscope key; delete it to make a new one "
                           "(browsers then start new sessions)")
    return key


def mac(key: bytes, purpose: str, value: str) -> bytes:
    """HMAC-SHA256 of `value` for one `purpose`, so a signature made for one use (a session
    id, an auth cookie, an owner tag) is no good for another."""
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()


def sign(key: bytes, purpose: str, value: str) -> str:
    """`mac` as URL-safe base64 without padding (for cookies)."""
    return base64.urlsafe_b64encode(mac(key, purpose, value)).rstrip(b"=").decode()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two strings (bytes: compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode(), b.encode())


# ---- the checks ------------------------------------------------

def refusal(status: int, reason: str) -> Response:
    """A one-line text answer: no page, no traceback, nothing a browser would run."""
    response = Response(reason + "\n", status, mimetype="text/plain")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="ganscope"'
    return response


def _authority(text: str) -> tuple[str, int | None] | None:
    """(lower-case host name without a final dot, port or None) of a Host header; None when it
    is not one."""
    m = _AUTHORITY.fullmatch(text.strip())
    if m is None:
        return None
    name = (m["v6"] or m["name"]).lower().rstrip(".")
    return name, int(m["port"]) if m["port"] else None


def _same_origin(origin: str, host: tuple[str, int | None]) -> bool:
    """Whether an Origin header names this server as the request reached it. The scheme is not
    compared: behind a TLS proxy the browser's https origin arrives as plain http; a default
    port is the same as none (a proxy drops it from Host)."""
    scheme, sep, rest = origin.partition("://")
    parsed = _authority(rest) if sep and scheme.lower() in _DEFAULT_PORTS else None
    if parsed is None:
        return False  # "null" (a sandboxed frame, a file) or garbage
    default = _DEFAULT_PORTS[scheme.lower()]

    def norm(port: int | None) -> int | None:
        return None if port == default else port

    return parsed[0] == host[0] and norm(parsed[1]) == norm(host[1])


def _is_websocket() -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _auth_cookie_value(token: str) -> str:
    return sign(_key(), "auth", token)


def _key() -> bytes:
    return current_app.extensions[_KEY]


def server_key() -> bytes:
    """The key of the server answering (`load_key`), for a module that signs its own cookie."""
    return _key()


def url_without(param: str = TOKEN_PARAM) -> str:
    """This request's URL (path and query) without the token (or another secret `param`), for
    the redirect after login."""
    query = [(k, v) for k, v in parse_qsl(request.query_string.decode("latin-1"),
                                          keep_blank_values=True) if k != param]
    return request.path + (f"?{urlencode(query)}" if query else "")


def _check_token(token: str) -> BaseResponse | None:
    """None when the request carries the token one of the three ways; otherwise the 401. A good
    ?token= on a page load leaves a signed cookie and redirects to the URL without the token,
    so the token is not left in the address bar, the history or a shared link."""
    given = request.args.get(TOKEN_PARAM)
    if given is not None:
        if not same(given, token):
            return refusal(401, NEEDS_TOKEN)
        g.ganscope_grant = True  # after_request sets the cookie
        if request.method in ("GET", "HEAD") and not _is_websocket():
            return redirect(url_without(), 303)
        return None
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and same(bearer.strip(), token):
        return None
    cookie = request.cookies.get(AUTH_COOKIE)
    if cookie is not None and same(cookie, _auth_cookie_value(token)):
        return None
    return refusal(401, NEEDS_TOKEN)


def check_request() -> BaseResponse | None:
    """Host, then Origin, then token (see the module docstring); None lets the request on."""
    policy = policy_of(current_app)
    host = _authority(request.headers.get("Host", ""))
    if host is None or not policy.host_allowed(host[0]):
        shown = request.headers.get("Host", "")[:80]
        return refusal(400, f"this ganscope server does not answer to Host {shown!r}; "
                            "whoever started it can add the name with --allow-host NAME")
    origin = request.headers.get("Origin")
    if origin is not None and (request.method not in SAFE_METHODS or _is_websocket()) \
            and not _same_origin(origin, host):
        return refusal(403, "cross-origin request refused: the page that sent it is not "
                            "from this ganscope server")
    if policy.token is not None:
        return _check_token(policy.token)
    return None


# ---- headers on every answer ------------------------------------------------

def content_security_policy(app: Dash) -> str:
    """The CSP header. Dash renders its config, its renderer start-up and every clientside
    callback as inline scripts: they are allowed by their hashes (`csp_hashes`), which are
    read per answer because Dash adds the last of them while it sets itself up on the first
    request (8 hashes before it, 9 after); hashing them costs 10 µs an answer."""
    return f"script-src 'self' {' '.join(app.csp_hashes())}; {_CSP_FIXED}"


def _add_headers(app: Dash, response: Response) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy(app)
    response.headers.update(_HEADERS)
    if g.get("ganscope_grant"):
        token = policy_of(app.server).token
        assert token is not None  # a grant comes only from checking the token
        response.set_cookie(AUTH_COOKIE, _auth_cookie_value(token),
                            max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="Lax")
    return response


# ---- malformed callbacks ------------------------------------------------

def _body_problem(app: Dash) -> str | None:
    """Why a callback request cannot be dispatched, in one line; None when it can be tried.
    Checked before Dash reads it, so the common mistakes get a reason a person can act on."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        return "the request body is nested too deeply"
    if body is None:
        return "the request body is not JSON (Content-Type: application/json)"
    if not isinstance(body, dict):
        return "the request body is not a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in app.callback_map:
        return "no callback has that output"
    for key in ("inputs", "state", "changedPropIds"):
        if not isinstance(body.get(key, []), list):
            return f"{key} is not a list"
    return None


def guard_callbacks(app: Dash) -> None:
    """Every callback request that Dash cannot dispatch, or whose callback fails on the inputs
    it was sent, gets a 400 with a one-line reason instead of a bare 500: bodies that are not
    JSON, of the wrong shape, for an unknown output, or with inputs of the wrong types. The
    server log keeps the traceback; the answer never does. PreventUpdate stays Dash's 204."""
    endpoint = app.config.routes_pathname_prefix + CALLBACK_ROUTE
    dispatch = app.server.view_functions[endpoint]

    @functools.wraps(dispatch)
    def guarded(*args, **kwargs):
        try:
            problem = _body_problem(app)
            if problem is not None:
                return refusal(400, f"callback refused: {problem}")
            return dispatch(*args, **kwargs)
        except PreventUpdate:
            raise
        except HTTPException as e:
            return refusal(e.code or 400, f"callback refused: {e.name.lower()}")
        except Exception as e:  # noqa: BLE001 - any failure on client input is the client's
            current_app.logger.warning("callback refused (%s)", type(e).__name__, exc_info=True)
            return refusal(400, "callback refused: its inputs do not fit the callback "
                                f"({type(e).__name__})")

    app.server.view_functions[endpoint] = guarded


# ---- wiring ------------------------------------------------

def install(app: Dash, policy: Policy, key: bytes) -> None:
    """Check every request first (before Dash sets itself up or a session is made), add the
    headers to every answer, and guard the callback route."""
    server = app.server
    server.extensions[_POLICY] = policy
    server.extensions[_KEY] = key
    server.before_request_funcs.setdefault(None, []).insert(0, check_request)
    server.after_request(functools.partial(_add_headers, app))
    guard_callbacks(app)
