"""docker-compose.yml, read without a docker engine: the web tier and the workers build from the
repo's Dockerfile, meet at one Redis and one shared runs volume; the web tier asks for a token."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def argv(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def option(service: str, name: str) -> str:
    args = argv(service)
    assert args.count(name) == 1, f"{service} should give {name} once: {args}"
    return args[args.index(name) + 1]


def mounts(service: str) -> dict[str, str]:
    """Named-volume mounts as {volume: path in the container}."""
    return dict(m.split(":")[:2] for m in SERVICES[service].get("volumes", []))


def test_cp001_web_and_workers_build_from_the_repos_dockerfile():
    assert set(SERVICES) == {"redis", "web", "worker"}
    assert (ROOT / "Dockerfile").is_file()
    for name in ("web", "worker"):
        assert SERVICES[name]["build"] == "."
    assert argv("web")[0] == "ganscope" and argv("worker")[:2] == ["gancore", "worker"]
    # Those commands are the package's scripts, on the image's PATH.
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'ganscope = "app.__main__:main"' in pyproject
    assert 'gancore = "gancore.cli:console"' in pyproject
    assert "ENV PATH=/home/ganscope/app/.venv/bin:$PATH" in (ROOT / "Dockerfile").read_text()


def test_cp002_every_worker_and_the_web_tier_share_the_runs_volume():
    web, worker = mounts("web"), mounts("worker")
    assert web == worker and len(web) == 1
    (volume, path), = web.items()
    assert volume in COMPOSE["volumes"]  # a named volume, not a folder of one host
    assert option("web", "--runs-dir") == option("worker", "--runs-dir") == path
    # An empty named volume takes the image folder's owner: the app user (uid 1000) must own it.
    assert f"install -d -o 1000 -g 1000 {path}" in (ROOT / "Dockerfile").read_text()


def test_cp003_web_and_workers_name_one_redis_which_is_healthy_before_they_start():
    url = option("web", "--redis")
    assert option("worker", "--redis") == url
    parts = urlsplit(url)
    assert parts.scheme == "redis" and parts.hostname == "redis" and parts.port == 6379
    redis = SERVICES["redis"]
    assert redis["image"].startswith("redis:7")
    # Nothing persisted: a restarted Redis is empty, and the backend must cope with that.
    assert shlex.split(redis["command"]) == ["redis-server", "--save", "", "--appendonly", "no"]
    assert "redis-cli" in redis["healthcheck"]["test"] and "ping" in redis["healthcheck"]["test"]
    for name in ("web", "worker"):
        assert SERVICES[name]["depends_on"] == {"redis": {"condition": "service_healthy"}}


def test_cp004_only_the_web_tier_is_published_and_it_requires_a_token():
    assert "ports" not in SERVICES["worker"] and "ports" not in SERVICES["redis"]
    assert option("web", "--host") == "0.0.0.0"
    assert SERVICES["web"]["ports"] == [f"{option('web', '--port')}:{option('web', '--port')}"]
    assert "--no-token" not in argv("web")
    # `${VAR:?message}`: compose refuses to start without a token rather than serve an open port.
    assert re.fullmatch(r"\$\{GANSCOPE_TOKEN:\?.+\}",
                        SERVICES["web"]["environment"]["GANSCOPE_TOKEN"])
    # every student holds the token, so the class view (/class) needs a key of the teacher's own
    assert re.fullmatch(r"\$\{GANSCOPE_TEACHER_KEY:\?.+\}",
                        SERVICES["web"]["environment"]["GANSCOPE_TEACHER_KEY"])


def test_cp005_the_image_installs_what_the_worker_imports():
    """test_dockerfile.py holds `make install`; here: its pinned layer has Celery and Redis."""
    pins = (ROOT / "requirements.txt").read_text().split()
    assert {"celery", "redis", "gunicorn"} <= {p.split("==")[0] for p in pins if "==" in p}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY .*\brequirements\.txt\b", dockerfile, re.M)
    assert re.search(r"^RUN make deps$", dockerfile, re.M)
    dry = subprocess.run(["make", "-n", "-B", "deps"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert "pip install --quiet -r requirements.txt" in dry.stdout, dry.stdout + dry.stderr


def help_flags(*module_args: str) -> set[str]:
    out = subprocess.run([sys.executable, "-m", *module_args, "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    return set(re.findall(r"(?<![\w-])--[a-z][\w-]*", out.stdout))


def test_cp006_the_commands_use_only_flags_their_help_lists():
    for service, module_args in (("web", ("app",)), ("worker", ("gancore", "worker"))):
        given = {a for a in argv(service) if a.startswith("--")}
        assert given <= help_flags(*module_args), f"{service}: {given - help_flags(*module_args)}"
