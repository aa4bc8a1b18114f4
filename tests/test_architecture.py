"""Layering promises: the engine stays free of the web stack."""

import re
import subprocess
import sys

from conftest import ROOT


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
