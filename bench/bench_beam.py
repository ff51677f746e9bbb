# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: the Python BEAM reader against OTP's beam_lib on every module OTP ships.

Both sides read each file once and compute the code MD5, the exports, the imports and the
behaviours. beam_lib runs in one escript (``bench/beam_lib_facts.escript``) that times its own
passes; its wall time including VM start is measured from here as well.

    python bench/bench_beam.py [--reps 5] [--elixir] [DIR_WILDCARD ...]

Default: ``<code:root_dir()>/lib/*/ebin/*.beam``. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import glob
import importlib
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _reader():
    """``read_beam_file``, imported the way the tests do (tests/conftest.py sets up the FQCN path)."""
    sys.path.insert(0, str(ROOT))
    importlib.import_module("tests.conftest")
    return importlib.import_module("ansible_collections.erlang.otp.plugins.module_utils._beam").read_beam_file


def otp_lib() -> str:
    out = subprocess.run(
        ["erl", "-noshell", "-eval", 'io:format("~s", [code:root_dir()]), halt().'],
        capture_output=True,
        check=True,
    ).stdout.decode()
    return os.path.join(out, "lib")


def python_pass(files: list) -> tuple:
    read_beam_file = _reader()
    exports = imports = behaviours = 0
    for path in files:
        beam = read_beam_file(path)
        _unused = beam.md5
        exports += len(beam.exports)
        imports += len(beam.imports)
        behaviours += len(beam.behaviours)
    return exports, imports, behaviours


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="passes on each side (best and median reported)")
    parser.add_argument("--elixir", action="store_true", help="also read /usr/lib/elixir/lib/*/ebin")
    parser.add_argument("wildcards", nargs="*")
    args = parser.parse_args()
    wildcards = args.wildcards or [os.path.join(otp_lib(), "*", "ebin", "*.beam")]
    if args.elixir:
        wildcards.append("/usr/lib/elixir/lib/*/ebin/*.beam")
    files = sorted(f for w in wildcards for f in glob.glob(w))
    size = sum(os.path.getsize(f) for f in files)
    print(f"{len(files)} beam files, {size / 1e6:.1f} MB; Python {platform.python_version()}, {os.cpu_count()} CPUs")

    python_pass(files)  # warm the page cache and the module imports for both sides
    walls, cpus = [], []
    for _unused in range(args.reps):
        w0, c0 = time.perf_counter(), time.process_time()
        totals = python_pass(files)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    tracemalloc.start()
    python_pass(files)
    _unused, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    script = ROOT / "bench" / "beam_lib_facts.escript"
    t0 = time.perf_counter()
    out = subprocess.run(
        ["escript", str(script), str(args.reps), *wildcards], capture_output=True, check=True
    ).stdout.decode()
    escript_wall = time.perf_counter() - t0
    passes = [dict(kv.split("=") for kv in line.split()) for line in out.splitlines()]
    erl_walls = [float(p["wall_ms"]) / 1000 for p in passes]
    erl_cpus = [int(p["cpu_ms"]) / 1000 for p in passes]
    erl_totals = tuple(int(passes[0][k]) for k in ("exports", "imports", "behaviours"))
    assert int(passes[0]["files"]) == len(files)
    assert totals == erl_totals, f"Python {totals} != beam_lib {erl_totals} (exports, imports, behaviours)"

    def show(name: str, wall: list, cpu: list) -> None:
        print(
            f"{name:<28} wall best {min(wall):.3f} s  median {statistics.median(wall):.3f} s   "
            f"CPU best {min(cpu):.3f} s  median {statistics.median(cpu):.3f} s"
        )

    print(f"same results: {totals[0]} exports, {totals[1]} imports, {totals[2]} behaviours")
    show("Python read_beam_file", walls, cpus)
    show("beam_lib (inside escript)", erl_walls, erl_cpus)
    per_pass_start = escript_wall - sum(erl_walls)
    print(
        f"beam_lib escript wall total {escript_wall:.3f} s for {args.reps} passes; "
        f"VM start + exit {per_pass_start:.3f} s, so one pass as a command: {per_pass_start + min(erl_walls):.3f} s"
    )
    print(
        f"ratio Python / beam_lib (best wall): {min(walls) / min(erl_walls):.2f}  "
        f"(median wall {statistics.median(walls) / statistics.median(erl_walls):.2f}, "
        f"best CPU {min(cpus) / max(min(erl_cpus), 1e-9):.2f})"
    )
    print(f"Python peak traced memory during a pass {peak / 1e6:.1f} MB; process max RSS {maxrss_mb:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
