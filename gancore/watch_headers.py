"""The watch link's HTTP header names (the protocol: docs/watch.md, "The link"), in one place for
both ends: the script's client (gancore/watch/link.py) and the dashboard's ingest
(app/watch_ingest.py). It is a module of its own, outside the gancore.watch package, because the
web process must not import torch, and importing anything in that package imports the watcher.
"""

KEY_HEADER = "X-Ganscope-Key"  # every post: the run key the dashboard gave at registration
STEP_HEADER = "X-Ganscope-Step"  # a frame post, optional: the step the script has reached
VIEWERS_HEADER = "X-Ganscope-Viewers"  # a frame post's reply: pages open on the run now
