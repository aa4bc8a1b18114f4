"""The Redis keys a distributed run lives in, named once for both ends: the worker that trains it
(gancore.run.redis_link) and the web processes that show it (app.backends.redis).

Celery (Redis broker) only places a run on a free worker slot; everything the run says and hears
afterwards goes through these keys, all under one prefix (GANSCOPE_REDIS_PREFIX, default "gs"):

    run:<id>:frame     string   newest frame: 8-byte little-endian sequence number + frame bytes;
                                overwritten, never queued (a slow page sees fewer frames)
    run:<id>:rows      stream   one entry per frame: {"seq", "rows": float64 bytes, "n"}; trimmed
                                to ROWS_STREAM_MAX entries. A reader blocks on it (XREAD) to learn
                                that a new frame exists, and gets every scalar row on the way
    run:<id>:cmd       stream   commands {"id", "op", "args": JSON}, read by the worker through the
                                consumer group "worker" and acknowledged (XACK) once handled
    run:<id>:ack:<n>   list     the worker's answer to command n, JSON {ok, error, result};
                                expires after ACK_TTL_S
    run:<id>:status    hash     state, message, step, steps_per_s, attempt, worker: written by the
                                worker on every change and every heartbeat
    run:<id>:hb        string   the heartbeat: the step, written by the training loop itself every
                                HEARTBEAT_S with a HEARTBEAT_TTL_MS expiry. A run whose state is
                                not final and whose heartbeat expired is lost
    run:<id>:viewers   zset     who watches: member "o:<tab>" (the owner's pages) or "s:<tab>"
                                (spectators), score = when it last asked (epoch s). A run nobody
                                watched for VIEWER_TTL_S makes no frames
    run:<id>:cmdseq    string   the last command id handed out for the run (INCR)
    run:<id>:meta      string   the web tier's record of the run (owner, config, parent, ...),
                                JSON, shared by every web process
    runs               zset     every run id the web tier knows, score = creation time
    owned:<sid>        zset     a browser session's runs, score = creation time (/api/runs)
    session:<sid>      set      the run ids that count against a browser session's share
    queue              zset     run ids waiting for a worker slot, score = when they asked
    started            list     when runs that waited in the queue started lately (epoch s):
                                the queue's estimate
    group:<sid>:<ids>  strings  a compare page's group of runs (app.groups): ":playing" is the
                                lease its play thread renews every tick in the web process that
                                plays it, ":stop" a "Pause all" sent through another process
"""

from __future__ import annotations

import os
import struct

HEARTBEAT_TTL_MS = 2000  # a loop that missed about four beats (HEARTBEAT_S = 0.5) is lost
STARTUP_TTL_MS = 60_000  # a task that took its slot gets this long to build its run
ACK_TTL_S = 120
ROWS_STREAM_MAX = 4000  # frames' worth of row blocks kept for readers that fall behind
VIEWER_TTL_S = 6.0  # a tab asks at least every WAIT_S (1 s); 6 s of silence: it is gone
RUN_TTL_S = 7 * 24 * 3600  # a run's keys outlive its training by a week (replay, lists)


def prefix() -> str:
    return os.environ.get("GANSCOPE_REDIS_PREFIX", "gs")


def run_key(run_id: str, part: str) -> str:
    return f"{prefix()}:run:{run_id}:{part}"


def ack_key(run_id: str, cmd_id: int | str) -> str:
    return f"{prefix()}:run:{run_id}:ack:{cmd_id}"


def key(name: str) -> str:
    """A key shared by every run (runs, queue, released) or one session's (session:<sid>)."""
    return f"{prefix()}:{name}"


def newest_frame(seq: int, frame: bytes) -> bytes:
    """The value of run:<id>:frame: the 8-byte little-endian sequence number, then the frame."""
    return struct.pack("<Q", seq) + frame


def read_newest_frame(blob: bytes) -> tuple[int, bytes] | None:
    """(sequence number, frame) of a run:<id>:frame value; None for one too short to hold both."""
    if len(blob) <= 8:
        return None
    return struct.unpack_from("<Q", blob, 0)[0], bytes(blob[8:])
