"""Who may open the class view (/class and /api/class: every student's run at a glance), checked
after app.security's Host, Origin and token checks have let a request on:

    a teacher key is set (--teacher-key) and not given by ?teacher=, by the X-Ganscope-Teacher
    header, or by the signed cookie a ?teacher= link left                              -> 401
    no teacher key, no token, and bound beyond loopback (anyone could look)             -> 403

With a key, the token alone is not enough: every student holds the token. Without a key, the
token already checked suffices, and on loopback without a token the machine's one user may look,
as everywhere else in the app (the default `make run`)."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from app.security import (
    COOKIE_MAX_AGE_S,
    TEACHER_PARAM,
    policy_of,
    refusal,
    same,
    server_key,
    sign,
    url_without,
)

TEACHER_HEADER = "X-Ganscope-Teacher"
TEACHER_COOKIE = "ganscope_teacher"
TEACHER_PATHS = ("/class", "/api/class")
NEEDS_TEACHER = ("the class view needs the teacher key: open the class-view link printed where "
                 "this ganscope server was started")
CLASS_VIEW_OFF = ("the class view is off: this server has no token and no teacher key, so "
                  "anyone who reaches it could watch every student; start it with "
                  "--teacher-key KEY (or with a token)")


def is_teacher_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in TEACHER_PATHS)


def _cookie_value(key: str) -> str:
    return sign(server_key(), "teacher", key)


def teacher_refusal() -> BaseResponse | None:
    """None when this request may see the class view; otherwise the one-line refusal. A good
    ?teacher= leaves a signed cookie and, on a page load, redirects to the URL without it (as
    the token does). Keys are compared in constant time."""
    policy = policy_of(current_app)
    key = policy.teacher_key
    if key is None:
        return None if policy.class_view_open() else refusal(403, CLASS_VIEW_OFF)
    given = request.args.get(TEACHER_PARAM)
    if given is not None:
        if not same(given, key):
            return refusal(401, NEEDS_TEACHER)
        g.ganscope_teacher = True  # the after-request hook sets the cookie
        return redirect(url_without(TEACHER_PARAM), 303) \
            if request.method in ("GET", "HEAD") else None
    header = request.headers.get(TEACHER_HEADER)
    if header is not None and same(header.strip(), key):
        return None
    cookie = request.cookies.get(TEACHER_COOKIE)
    if cookie is not None and same(cookie, _cookie_value(key)):
        return None
    return refusal(401, NEEDS_TEACHER)


def _check_paths() -> BaseResponse | None:
    return teacher_refusal() if is_teacher_path(request.path) else None


def _grant(response: Response) -> Response:
    if g.get("ganscope_teacher"):
        key = policy_of(current_app).teacher_key
        assert key is not None  # a grant comes only from checking the key
        response.set_cookie(TEACHER_COOKIE, _cookie_value(key), max_age=COOKIE_MAX_AGE_S,
                            httponly=True, samesite="Lax")
    return response


def install(server: Flask) -> None:
    """The check on the class view's paths, after app.security's (installed first, at the
    front of the before-request hooks), and the cookie a good ?teacher= leaves."""
    server.before_request(_check_paths)
    server.after_request(_grant)
