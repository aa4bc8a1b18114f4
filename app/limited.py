"""Run a parser of a stranger's file in a child Python process with a memory and a time limit.

HDF5, zlib and numpy are C code: a crafted file can make them allocate gigabytes or spin, and in
the web process that takes every visitor down. The child limits its own address space first
thing (a limit set from the parent would need `preexec_fn`, unsafe in the threaded server), then
runs the module as `python -m MODULE ARGS` would. Usage, for the parent: `run_limited`; for the
child: `python -m app.limited MEMORY_BYTES MODULE ARGS...`.
"""

from __future__ import annotations

import os
import resource
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The child's address space (RLIMIT_AS, one BLAS thread). Measured peaks: the interpreter with
# numpy and h5py 0.12 GB; the largest data files the datasets limits accept (16 Mi values, up to
# 50 MB) 0.46 GB for a CSV on numpy's parser, 0.36 GB on the careful one, 0.47 GB for a gzip-
# compressed HDF5 float64 dataset, 0.27 GB for a float64 .npy; `gancore validate` of a recording
# of the largest frames 0.2 GB, plus its tables read whole (at most the 50 MB upload and the
# recording's MAX_TABLE_UNSTORED_BYTES, twice over). Twice the worst: what needs more is a bomb.
MEMORY_BYTES = 1024**3
# Exit status of a child whose module ran out of its memory budget (MemoryError reached us).
EXIT_OUT_OF_MEMORY = 3
# One thread each: OpenBLAS and OpenMP would reserve an arena per core inside the limit.
_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_limited(module: str, args: list[str], *, timeout_s: float,
                memory_bytes: int = MEMORY_BYTES) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` in a child limited to `memory_bytes` of address space, killed
    after `timeout_s` (subprocess.TimeoutExpired). Output is captured as text; an out-of-memory
    child exits with EXIT_OUT_OF_MEMORY."""
    env = {**os.environ, **_ONE_THREAD, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    return subprocess.run([sys.executable, "-m", "app.limited", str(int(memory_bytes)), module,
                           *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout_s, stdin=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    """The child: limit the address space, then run MODULE as __main__ with ARGS."""
    memory, module, *args = argv
    limit = int(memory)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except MemoryError:
        print("error: ran out of its memory budget", file=sys.stderr)
        return EXIT_OUT_OF_MEMORY
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)  # sys.exit("message"), as the interpreter would
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
