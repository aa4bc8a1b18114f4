"""The browser session id: a random cookie that says which runs a browser may control."""

from __future__ import annotations

import secrets

from flask import Flask, g, request

COOKIE = "ganscope_session"


def session_id() -> str:
    """This request's session id (made on the first request, set as a cookie on its answer)."""
    sid = getattr(g, "ganscope_sid", None)
    if sid is None:
        sid = request.cookies.get(COOKIE) or ""
        if not (16 <= len(sid) <= 64 and sid.replace("-", "").replace("_", "").isalnum()):
            sid = secrets.token_urlsafe(18)
            g.ganscope_new_sid = True
        g.ganscope_sid = sid
    return sid


def install(server: Flask) -> None:
    """Every answer to a browser without a session cookie sets one."""

    @server.before_request
    def _ensure_session():
        session_id()

    @server.after_request
    def _set_cookie(response):
        if getattr(g, "ganscope_new_sid", False):
            response.set_cookie(COOKIE, g.ganscope_sid, httponly=True, samesite="Lax",
                                max_age=30 * 24 * 3600)
        return response
