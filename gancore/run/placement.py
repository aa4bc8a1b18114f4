"""How Celery places runs: one configuration for the web tier (which sends a run) and the worker
machines (which train it), so both ends agree. Celery only places; the run's own traffic goes
through Redis keys (gancore.run.redis_keys)."""

from __future__ import annotations

import os
from typing import Any

TASK_NAME = "ganscope.train_run"
QUEUE = "ganscope-runs"


def checkpoint_name(run_id: str) -> str:
    """Where, inside the shared runs folder, a distributed run keeps its latest trainer state:
    a lost run resumes from it."""
    return f"checkpoints/{run_id}.pt"


def redis_url(explicit: str | None = None) -> str | None:
    """--redis URL, or GANSCOPE_REDIS_URL; None means the embedded local backend."""
    return explicit or os.environ.get("GANSCOPE_REDIS_URL") or None


def make_celery(url: str) -> Any:
    """A Celery app on the Redis broker at `url`, set up for runs that train for an hour.

    - One run per pool process and no prefetch (worker_disable_prefetch, Redis brokers): a worker
      takes a run only when a pool process is free, so a queued run goes to whichever machine
      frees first, and the queue's order is the order runs asked in.
    - Early acknowledgement and no redelivery: a run whose worker dies is reported lost and
      resumed only when its owner asks. A redelivered run would train twice, or restart silently
      from step 0.
    - No result backend: a run's results are its Redis keys and its recording.
    """
    from celery import Celery

    app = Celery("ganscope", broker=url)
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=False,
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        worker_disable_prefetch=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a Redis restart: reconnect, however long it takes
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        # Pool processes live across runs (each keeps torch imported: a warm start); a run's
        # memory is given back by gancore.heap when it ends.
        worker_max_tasks_per_child=None,
    )
    return app
