"""The pieces of bench.classroom: simulated students (a page's socket each), recorded frames
replayed into Redis by producers that stand in for workers, and the viewers that pull them
through one web process. Services come from tests.services and tests.distributed.conftest."""

from __future__ import annotations

import heapq
import json
import math
import multiprocessing as mp
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.stream import decode_envelope
from gancore.frames import decode, encode
from tests.distributed.conftest import Tab
from tests.servers import AppServer, Client, run_of
from tests.services import _stat

PRESET = "ring8-reference"
BAD_STATES = ("failed", "lost", "unknown", "stopped", "reconnecting")  # none while a page shows


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (its own threads, not its children)."""
    utime, stime = _stat(pid)[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


# ---- 1. a class of students ----------------------------------------------------------------

def student(server: AppServer, arrive_at: float, watch_s: float, give_up_at: float) -> dict:
    """One student: arrives, opens the play page of PRESET with play (its own browser session),
    pulls envelopes as assets/stream.js does until `watch_s` after its first frame, leaves.
    Times are seconds from opening the page."""
    out: dict[str, Any] = {"arrive": arrive_at, "open_s": None, "queued_s": None, "place": "",
                           "first_s": None, "frames": 0, "errors": [], "states": [], "run": None,
                           "t_open": None, "t_left": None}
    time.sleep(max(0.0, arrive_at - time.monotonic()))
    client = Client(server.url)
    t0 = out["t_open"] = time.monotonic()
    try:
        status, answer = client.open_preset(PRESET, play=True)
    except OSError as e:
        out["errors"].append(f"open failed: {e}")
        return out
    out["open_s"], out["run"] = time.monotonic() - t0, run_of(answer)
    if status != 200 or not out["run"]:
        out["errors"].append(f"open refused ({status}): {str(answer)[:200]}")
        return out
    if "error" in str(answer.get("response", {}).get("notice", "")):
        out["errors"].append(f"open notice: {str(answer['response']['notice'])[:200]}")
    run_id, leave_at, tab = out["run"], None, None
    try:
        tab = Tab(server, client)
        tab.watch(run_id)
        while leave_at is None or time.monotonic() < leave_at:
            if leave_at is None and time.monotonic() > give_up_at:
                out["errors"].append("no frame before the class ended")
                break
            tab.ws.send("next")
            msg = tab.ws.receive(timeout=10)
            now = time.monotonic() - t0
            if msg is None:
                out["errors"].append("the socket was silent for 10 s")
                break
            for entry, frame, _rows in decode_envelope(msg):
                if entry["run"] != run_id:
                    continue
                state = entry["state"]
                if not out["states"] or out["states"][-1] != state:
                    out["states"].append(state)
                if entry.get("error") or state in BAD_STATES:
                    out["errors"].append(f"{state}: {entry.get('error') or entry['message']}")
                if state == "queued" and out["queued_s"] is None:
                    out["queued_s"], out["place"] = now, entry["message"]
                if frame is not None:
                    out["frames"] += 1
                    if out["first_s"] is None:
                        out["first_s"] = now
                        leave_at = time.monotonic() + watch_s
            if out["errors"]:
                break
    except Exception as e:  # noqa: BLE001 - any failure of the socket is the student's error
        out["errors"].append(f"socket: {type(e).__name__}: {e}")
    finally:
        if tab is not None:
            tab.close()  # the student leaves: its run gives its slot to the queue
        out["t_left"] = time.monotonic()
    return out


def run_class(server: AppServer, students: int, watch_s: float, arrive_s: float, seed: int,
              slots: int = 2) -> tuple[list[dict], float]:
    """`students` students arriving over `arrive_s` seconds (seeded), each in a thread; returns
    their records in arrival order and the class's wall time."""
    rng = random.Random(seed)
    start = time.monotonic() + 0.5
    arrivals = sorted(start + rng.uniform(0, arrive_s) for _ in range(students))
    give_up = start + arrive_s + math.ceil(students / slots) * (watch_s + 25) + 60
    results: list[dict] = [{} for _ in arrivals]

    def one(i: int) -> None:
        results[i] = student(server, arrivals[i], watch_s, give_up)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(students)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        r["arrive"] -= start
        # At once: fewer than `slots` students had opened before it and not left yet (a seat
        # was free), whatever the page then showed while its run was being placed.
        present = [o for o in results if o is not r and o["t_open"] is not None
                   and r["t_open"] is not None and o["t_open"] < r["t_open"]
                   and (o["t_left"] or math.inf) > r["t_open"]]
        r["at_once"] = r["t_open"] is not None and len(present) < slots
    return results, time.monotonic() - start


def class_figures(results: list[dict], wall_s: float) -> dict:
    queued = [r for r in results if r["queued_s"] is not None]
    at_once = [r["first_s"] for r in results if r["at_once"] and r["first_s"] is not None]
    firsts = [r["first_s"] for r in results if r["first_s"] is not None]
    return {"students": len(results), "errors": sum(len(r["errors"]) for r in results),
            "with_error": sum(bool(r["errors"]) for r in results),
            "watched": len(firsts), "queued": len(queued),
            "queued_p50": pct([r["queued_s"] for r in queued], 50),
            "queued_p95": pct([r["queued_s"] for r in queued], 95),
            "once_n": len(at_once), "once_queued": sum(r["at_once"] for r in queued),
            "once_p50": pct(at_once, 50), "once_p95": pct(at_once, 95),
            "all_p50": pct(firsts, 50), "all_p95": pct(firsts, 95),
            "max_first": max(firsts, default=float("nan")),
            "open_p95": pct([r["open_s"] for r in results if r["open_s"] is not None], 95),
            "wall_s": wall_s, "error_texts": [e for r in results for e in r["errors"]][:5],
            "places": [r["place"] for r in queued]}


# ---- 2. the web tier alone: recorded frames replayed into Redis ----------------------------

STAMP = 1000000000.000001  # meta.sent_at of the template frames, overwritten at each send


def recorded_frames(count: int = 20, every: int = 10) -> list[tuple[bytes, np.ndarray]]:
    """`count` real frames of PRESET (one every `every` training steps, seed from the preset),
    each encoded with a placeholder sent_at, with the scalar rows made since the frame before."""
    import torch

    from gancore.run.session import Session
    from gancore.teach.presets import PRESETS

    torch.set_num_threads(1)
    s = Session(PRESETS[PRESET].config())
    s.state = "running"
    out = []
    for _ in range(count):
        s.train(every)
        f = s.frame()
        f.meta["sent_at"] = STAMP
        out.append((encode(f), s.take_rows()))
    s.close()
    return out


def stamp(template: bytes, at: float) -> bytes:
    """The frame with meta.sent_at = `at`: the same number of digits replace the placeholder
    (the header's length and alignment are unchanged), cheaper than encoding every frame."""
    old, new = repr(STAMP).encode(), f"{at:.6f}".encode()
    assert len(old) == len(new)
    return template.replace(old, new, 1)


def _produce(url: str, run_ids: list[str], frames: list[tuple[bytes, np.ndarray]], fps: float,
             seed: int, counts: Any, stop: Any, ready: Any) -> None:
    """A producer process: for each run, a real RedisLink that says "running", beats every
    0.5 s and sends a recorded frame (stamped with time.time()) at `fps`, the runs' phases
    spread by a seeded draw. counts[i] is the number of frames run i has sent."""
    import redis

    from gancore.run.redis_link import RedisLink

    client = redis.Redis.from_url(url)
    links = [RedisLink(client, r, attempt=1, worker="bench-producer") for r in run_ids]
    steps = [0] * len(links)
    for link in links:
        link.send(("status", "running", "", 0))
        link.beat(0, 0.0)
    period, rng = 1.0 / fps, random.Random(seed)
    now = time.monotonic()
    due = [(now + rng.uniform(0, period), i) for i in range(len(links))]
    heapq.heapify(due)
    beat_at = now + 0.5
    ready.set()
    while True:
        now = time.monotonic()
        if now >= beat_at:
            if stop.is_set():  # looked at twice a second: each look is a few system calls
                break
            for i, link in enumerate(links):
                link.beat(steps[i], fps * len(frames[0][1]))
            beat_at += 0.5
        at, i = due[0]
        if at > now:
            time.sleep(min(at - now, beat_at - now, 0.05))
            continue
        # a fixed cadence; a producer that fell a period behind starts afresh from now
        heapq.heapreplace(due, (max(at + period, now), i))
        template, rows = frames[counts[i] % len(frames)]
        links[i].send(("frame", stamp(template, time.time()), rows))
        counts[i] += 1
        steps[i] += len(rows)
    for i, link in enumerate(links):
        link.send(("status", "stopped", "bench over", steps[i]))


class Producers:
    """A spawned process running `_produce` for `run_ids`; `counts()` reads what each run sent."""

    def __init__(self, url: str, run_ids: list[str], frames: list, fps: float, seed: int):
        ctx = mp.get_context("spawn")
        self.stop_event, ready = ctx.Event(), ctx.Event()
        self.shared = ctx.Array("q", len(run_ids), lock=False)
        self.proc = ctx.Process(target=_produce, args=(url, run_ids, frames, fps, seed,
                                                       self.shared, self.stop_event, ready),
                                daemon=True)
        self.proc.start()
        if not ready.wait(60):
            raise RuntimeError("the producer did not start")

    def counts(self) -> list[int]:
        return list(self.shared)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.stop_event.set()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()


def admit_runs(url: str, runs_dir: Path, count: int) -> list[str]:
    """`count` runs the web tier knows, admitted by the shared registry's own Lua admission
    (one session, room for all), then taken out of the queue as a worker does when it takes a
    run's slot (gancore.run.celery_worker._take_from_queue): nothing is placed on Celery."""
    from app.backends.redis import RedisBackend
    from app.limits import Limits
    from app.shared_runs import SharedRunRegistry
    from gancore.run import redis_keys as rk
    from gancore.teach.presets import PRESETS

    registry = SharedRunRegistry(runs_dir, Limits(), RedisBackend(url, runs_dir))
    try:
        ids = []
        for _ in range(count):
            run = registry._new_run("bench-producers", PRESETS[PRESET].config(), preset=PRESET,
                                    autoplay=True)
            registry._admit_run(run, allowance=count + 1)
            registry.r.zrem(rk.key("queue"), run.run_id)  # the queue holds 64 at most
            ids.append(run.run_id)
    finally:
        registry.close()  # its reaper must not read Redis while the bench measures
    return ids


class Viewer(threading.Thread):
    """A spectator's tab on one run (any session may watch a run by its id): pulls envelopes as
    assets/stream.js does and notes, per frame, when it arrived and how long after its send.
    Its socket is websocket-client's blocking one, not Tab's simple_websocket, which reads in a
    thread of its own per socket: 40 viewers took 17-19% of a core against 27-29%, CPU that the
    web process under test needs on a 2-core box (delivered/produced the same within noise)."""

    def __init__(self, server: AppServer, run_id: str):
        import websocket

        super().__init__(daemon=True)
        client = Client(server.url)
        client.get("/api/runs")  # the session cookie a page has before its socket opens
        self.ws = websocket.create_connection(server.url.replace("http", "ws", 1) + "/ws",
                                              cookie=client.cookie_header(), timeout=10)
        self.ws.send(json.dumps({"op": "watch", "runs": [run_id]}))
        self.run_id = run_id
        self.got: list[tuple[float, float]] = []  # (received at, latency) in wall seconds
        self.errors: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                self.ws.send("next")
                msg = self.ws.recv()  # a socket silent for 10 s raises
                at = time.time()
                for entry, frame, _rows in decode_envelope(msg):
                    if entry.get("error") or entry["state"] in BAD_STATES:
                        self.errors.append(f"{entry['state']}: {entry['message']}")
                    if frame is not None:
                        self.got.append((at, at - decode(frame).meta["sent_at"]))
        except Exception as e:  # noqa: BLE001 - reported, not raised in a thread
            self.errors.append(f"{type(e).__name__}: {e}")
        finally:
            self.ws.close()

    def frames_between(self, t0: float, t1: float) -> list[float]:
        return [lat for at, lat in list(self.got) if t0 <= at < t1]


def redis_calls(url: str) -> dict[str, int]:
    """Commands Redis has served: all of them, and HGETALL (only the web tier's status reads
    send it; producers and pumps do not)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {"all": sum(v["calls"] for v in stats.values()),
            "hgetall": stats.get("cmdstat_hgetall", {}).get("calls", 0)}


def measure_tier(workdir: Path, frames: list, runs: int, viewers: int, seconds: float,
                 fps: float, seed: int) -> dict:
    """A fresh redis-server and one web process (--redis, no Celery worker); `runs` producers at
    `fps`; `viewers` spread over the runs (viewer i watches run i mod runs). Figures over a
    window of `seconds` once every viewer has had a frame."""
    from tests.services import RedisServer

    workdir.mkdir(parents=True)
    redis_srv = RedisServer(workdir / "redis")
    web = producers = None
    tabs: list[Viewer] = []
    try:
        web = AppServer(workdir / "runs", "--redis", redis_srv.url, tab_fps=0)
        ids = admit_runs(redis_srv.url, workdir / "runs", runs)
        producers = Producers(redis_srv.url, ids, frames, fps, seed)
        tabs = [Viewer(web, ids[i % runs]) for i in range(viewers)]
        for t in tabs:
            t.start()
        deadline = time.monotonic() + 30
        while not all(t.got for t in tabs) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)
        k0 = redis_calls(redis_srv.url)
        c0, w0, r0, p0, b0 = (producers.counts(), cpu_seconds(web.proc.pid),
                              redis_srv.cpu_seconds(), producers.cpu(), time.process_time())
        t0 = time.time()
        time.sleep(seconds)
        t1 = time.time()
        c1, w1, r1, p1, b1 = (producers.counts(), cpu_seconds(web.proc.pid),
                              redis_srv.cpu_seconds(), producers.cpu(), time.process_time())
        k1 = redis_calls(redis_srv.url)
        dt = t1 - t0
        produced = [b - a for a, b in zip(c0, c1, strict=True)]
        lats, ratios = [], []
        for i, t in enumerate(tabs):
            got = t.frames_between(t0, t1)
            lats += got
            ratios.append(len(got) / max(1, produced[i % runs]))
        return {"runs": runs, "viewers": viewers, "seconds": dt,
                "produced_fps": sum(produced) / dt / runs, "delivered_fps": len(lats) / dt,
                "ratio_min": min(ratios), "ratio_p50": pct(ratios, 50),
                "lat_p50": 1000 * pct(lats, 50), "lat_p95": 1000 * pct(lats, 95),
                "web_core_per_viewer": (w1 - w0) / dt / viewers, "web_core": (w1 - w0) / dt,
                "redis_core": (r1 - r0) / dt, "redis_core_per_run": (r1 - r0) / dt / runs,
                "producer_core": (p1 - p0) / dt, "viewers_core": (b1 - b0) / dt,
                "redis_calls": (k1["all"] - k0["all"]) / dt,
                "hgetall_per_frame": (k1["hgetall"] - k0["hgetall"]) / max(1, len(lats)),
                "errors": sum(len(t.errors) for t in tabs),
                "error_texts": [e for t in tabs for e in t.errors][:3]}
    finally:
        for t in tabs:
            t.halt.set()
        for t in tabs:
            t.join(15)
        if producers is not None:
            producers.stop()
        if web is not None:
            web.stop()
        redis_srv.stop()
