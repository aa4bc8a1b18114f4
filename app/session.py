"""The browser session id: issued by the server, signed, kept in a cookie; it says which runs and
recordings a browser may control.

The cookie holds ``sid.signature`` (HMAC-SHA256 of the sid under the server's key, see
`app.security.load_key`). A cookie the server did not sign (a chosen sid, another browser's sid
copied without its signature, a damaged one) is replaced by a new session, so a session id
cannot be guessed into or borrowed; the key lives in the runs folder, so sessions outlive a
restart of the server.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, g, request

from app.security import COOKIE_MAX_AGE_S, same, sign

COOKIE = "ganscope_session"
_PURPOSE = "session"  # what the cookie's signature is for (security.sign keeps uses apart)
_SID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_key: bytes | None = None  # set by `install`; one server per process, like the run registry


def _server_key() -> bytes:
    if _key is None:
        raise RuntimeError("app.session.install was not called: no server key")
    return _key


def cookie_value(sid: str) -> str:
    """The cookie a browser holds for session `sid` (tests use it to act as a given session)."""
    return f"{sid}.{sign(_server_key(), _PURPOSE, sid)}"


def verified_sid(cookie: str | None) -> str | None:
    """The session id in a cookie, if the server signed it; None otherwise."""
    sid, dot, signature = (cookie or "").rpartition(".")
    if not dot or not _SID.fullmatch(sid):
        return None
    return sid if same(signature, sign(_server_key(), _PURPOSE, sid)) else None


def session_id() -> str:
    """This request's session id (made on the first request, set as a cookie on its answer)."""
    sid = getattr(g, "ganscope_sid", None)
    if sid is None:
        sid = verified_sid(request.cookies.get(COOKIE))
        if sid is None:
            sid = secrets.token_urlsafe(18)
            g.ganscope_new_sid = True
        g.ganscope_sid = sid
    return sid


def install(server: Flask, key: bytes) -> None:
    """Sign sessions with `key`; every answer to a browser without a good session cookie
    sets one."""
    global _key
    _key = key

    @server.before_request
    def _ensure_session():
        session_id()

    @server.after_request
    def _set_cookie(response):
        if getattr(g, "ganscope_new_sid", False):
            response.set_cookie(COOKIE, cookie_value(g.ganscope_sid), httponly=True,
                                samesite="Lax", max_age=COOKIE_MAX_AGE_S)
        return response
