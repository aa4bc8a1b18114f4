"""Where a compare page's group (app.lockstep) says that it plays, so that whichever web process
answers the page's next click knows it, and where a pause sent through another process reaches
the thread that plays the group."""

from __future__ import annotations

import time
from typing import Any

from gancore.run import redis_keys as rk

LEASE_MS = 30_000  # the playing thread renews its lease every tick (1/12 s)


class GroupBoard:
    """The local registry's: one process serves every page, so a group's own play thread is the
    whole truth and there is nothing to tell."""

    def held(self, key: str) -> bool:
        """Whether a group plays in another process."""
        return False

    def hold(self, key: str) -> bool:
        """The playing group says so (every tick); False when a pause asked it to stop."""
        return True

    def release(self, key: str) -> None:
        """The group stopped playing."""

    def stop(self, key: str, timeout: float) -> None:
        """Ask the process that plays the group to stop it; wait (bounded) until it has."""


class RedisGroupBoard(GroupBoard):
    """The shared registry's (app.shared_runs): the process whose thread plays a group holds its
    lease in Redis, and a pause through any other process asks it there to stop."""

    def __init__(self, r: Any, errors: tuple[type[BaseException], ...]):
        self.r, self.errors = r, errors

    def _key(self, key: str, part: str) -> str:
        return rk.key(f"group:{key}:{part}")

    def held(self, key: str) -> bool:
        try:
            return bool(self.r.exists(self._key(key, "playing")))
        except self.errors:
            return False

    def hold(self, key: str) -> bool:
        try:
            p = self.r.pipeline(transaction=False)
            p.exists(self._key(key, "stop"))
            p.set(self._key(key, "playing"), 1, px=LEASE_MS)
            asked, _ = p.execute()
        except self.errors:
            return True  # Redis restarting: the group plays on, as its runs do
        return not asked

    def release(self, key: str) -> None:
        try:
            self.r.delete(self._key(key, "playing"))
        except self.errors:
            pass

    def stop(self, key: str, timeout: float) -> None:
        playing, stop = self._key(key, "playing"), self._key(key, "stop")
        try:
            self.r.set(stop, 1, px=int(timeout * 1000))
            deadline = time.monotonic() + timeout
            while self.r.exists(playing) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.r.delete(stop, playing)  # a holder that never answered (its process died)
        except self.errors:
            pass
