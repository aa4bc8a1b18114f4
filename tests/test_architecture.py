"""Layering promises: the engine stays free of the web stack, the web process free of torch,
gancore's sub-packages import only downward along the data path, and no module imports itself
back through others."""

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# gancore's layers in pipeline order: a module may import its own layer and the ones before it.
GANCORE_LAYERS = ("gancore.choices", "gancore.vocabulary", "gancore.frames", "gancore.heap",
                  "gancore.config",
                  "gancore.data", "gancore.train", "gancore.observe", "gancore.store",
                  "gancore.render", "gancore.run", "gancore.teach", "gancore.cli",
                  "gancore.__main__")
MAX_MODULE_LINES = 450


def _modules(package: str) -> dict[str, Path]:
    out = {}
    for f in (ROOT / package).rglob("*.py"):
        name = ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        out[name] = f
    return out


def _imports(path: Path) -> set[str]:
    """Every module a file names in an import, at any depth (function-level imports too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def _layer(module: str) -> int | None:
    return next((i for i, p in enumerate(GANCORE_LAYERS)
                 if module == p or module.startswith(p + ".")), None)


def test_gancore_source_never_imports_the_web_stack():
    pattern = re.compile(r"^\s*(import|from)\s+(dash|plotly|flask)\b", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "gancore").rglob("*.py")
                 if pattern.search(p.read_text())]
    assert offenders == []


def test_importing_every_gancore_module_loads_no_web_package():
    code = ("import sys, pkgutil, importlib, gancore\n"
            "for m in pkgutil.walk_packages(gancore.__path__, 'gancore.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "print(sorted(k for k in sys.modules if k.split('.')[0] in "
            "('dash', 'plotly', 'flask')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_a_worker_machine_trains_without_the_web_stack():
    """A class's worker machine has gancore, torch, celery and redis: the Celery task module and
    a run's session load with dash, plotly and flask unimportable."""
    code = ("import sys\n"
            "for m in ('dash', 'plotly', 'flask', 'flask_sock', 'werkzeug'):\n"
            "    sys.modules[m] = None\n"
            "from gancore.run import celery_worker\n"
            "celery_worker._warm()\n"
            "from gancore.config import RunConfig\n"
            "from gancore.run.session import Session\n"
            "s = Session(RunConfig())\n"
            "s.train(3)\n"
            "print(s.step)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "3"


def test_the_web_process_imports_no_torch(tmp_path):
    """The dashboard with every page loaded: torch lives in the workers only (it cost the web
    process a second and 300 MB for seven column names and a list of loss names)."""
    code = ("import sys\n"
            "from app.main import create_app\n"
            f"app = create_app({str(tmp_path)!r}, spare=False)\n"
            "client = app.server.test_client()\n"
            "for page in ('/', '/compare', '/library', '/lessons', '/draw', '/replay'):\n"
            "    assert client.get(page).status_code == 200, page\n"
            "from app import runs\n"
            "runs.registry().close()\n"
            "print(sorted(k for k in sys.modules if k.split('.')[0] == 'torch')[:3])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_gancore_sub_packages_import_only_downward():
    upward = []
    for module, path in _modules("gancore").items():
        mine = _layer(module)
        for target in _imports(path):
            theirs = _layer(target) if target.startswith("gancore") else None
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_import_cycles_in_gancore_or_app():
    modules = {**_modules("gancore"), **_modules("app")}
    graph = {m: {t for t in _imports(p) if t in modules and t != m} for m, p in modules.items()}
    cycles, seen, done = [], [], set()

    def visit(m: str) -> None:
        if m in done:
            return
        if m in seen:
            cycles.append(seen[seen.index(m):] + [m])
            return
        seen.append(m)
        for t in sorted(graph[m]):
            visit(t)
        seen.pop()
        done.add(m)

    for m in sorted(graph):
        visit(m)
    assert cycles == []


def test_no_module_over_the_size_a_reader_holds():
    long = [f"{p.relative_to(ROOT)} ({n})" for package in ("gancore", "app")
            for p in (ROOT / package).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert long == []
