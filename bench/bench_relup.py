# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: relup generation (``_relup.make_relup``) and the whole upgrade package against OTP.

The release pair is bench/bench_appup.py's (``build_pair``: 2,000 modules in 20 applications,
cached in ``.cache/bench/appup-<key>/``), packed as two release tarballs the way ``rebar3 tar``
packs a release without ERTS: ``lib/<app>-<vsn>/`` of the 20 applications plus OTP's kernel,
stdlib and sasl (their ``ebin``, copied from the installed OTP: a relup needs every ``.app`` of
the ``.rel``) and ``releases/``. The tarballs are cached next to the pair
(``.cache/bench/appup-<key>/relup-<layout>/``).

In the same run:

(a) the relup alone. Ours: ``_relup.make_relup(new, [old], appups=...)`` on releases already
    read (``_release.open_release`` of both tarballs) with the appups of
    ``_appup.generate([old], new)``, timed in this process (median of ``--reps``). OTP:
    ``systools:make_relup/4`` with ``noexec`` and ``{path, ...}`` on both releases unpacked, the
    same appups written next to the new release's ``.app`` files, timed inside the VM by
    ``bench/relup_systools.escript`` (median of ``--reps`` runs in one VM); the VM start is
    measured on its own (the escript with zero runs).

(b) end to end, from the two tarballs to the upgrade package written (the new tarball plus the
    relup and the appups). Ours: one fresh ``python`` command (``--end-to-end``) doing
    ``open_release`` of both tarballs, ``_appup.generate``, ``make_relup`` and
    ``_package.write_package``; it times its steps after its imports, and the command is timed
    as a whole. The same pass is also timed in this process (median). OTP: a pipeline of
    commands, each timed: ``tar -xzf`` of both tarballs, ``bench/appup_beam_lib.escript ...
    write`` (the appup generator of bench_appup.py: beam_lib and xref, writing the appups into
    the new release), ``bench/relup_systools.escript write`` (``systools:make_relup`` writing
    ``releases/<vsn>/relup``) and ``tar -czf`` of the package.

Before any figure is printed, the relups are checked: ours must equal systools' on the same
appups (terms compared with ``_terms.canonical`` after parsing systools' relup file with
``_term_text``), the relup inside each package must be the one computed, and the Erlang
pipeline's relup (from the escript's appups) must do the same work as ours: the same instructions
as multisets, lists of modules split per module (the two appup generators order the modules
differently, so the order and grouping differ), but for ``code_change`` of the gen_servers that
export no ``code_change/3`` (ours updates them with ``soft``, the escript with ``{advanced, []}``).

The releases are unpacked and the packages written under ``--scratch`` (default ``/dev/shm``).

    python bench/bench_relup.py [--reps 7] [--profile] [bench_appup.py's generator options]

Figures: docs/benchmarks.md. Not part of ``make test`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gzip
import importlib
import io
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from bench_appup import (  # noqa: E402  (bench/ is not a package)
    DEFAULTS,
    NEW_VSN,
    OLD_VSN,
    REL_NAME,
    ROOT,
    build_pair,
    fields,
    peak_rss_mb,
    run_measured,
)

APPUP_ESCRIPT = BENCH / "appup_beam_lib.escript"
RELUP_ESCRIPT = BENCH / "relup_systools.escript"
#: Bump when the tarball layout changes (part of the cache directory name).
LAYOUT_VERSION = 2
OTP_LIBS = ("kernel", "stdlib", "sasl")
#: What is packed of each OTP library (a release without sources).
OTP_LIB_DIRS = ("ebin", "priv")
RELUP_HEADER = "coding: utf-8"
TARGET_A_RATIO = 10.0
TARGET_B_SECONDS, TARGET_B_RATIO = 0.5, 4.0


# ---------------------------------------------------------------------------------------------
# The release tarballs
# ---------------------------------------------------------------------------------------------


def otp_lib_dirs() -> dict:
    """``{app: directory}`` of the installed kernel, stdlib and sasl."""
    out = subprocess.run(
        ["erl", "-noshell", "-eval",
         "[io:format(\"~s ~s~n\", [A, code:lib_dir(A)]) || A <- [" + ",".join(OTP_LIBS) + "]], halt()."],
        capture_output=True, check=True,
    ).stdout.decode()
    return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())


def _ustar(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = int(info.mtime)  # a fractional mtime would need a pax header per member
    return info


def _add(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
    tar.add(str(path), arcname=arcname, recursive=False, filter=_ustar)


def _add_tree(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
    """``path`` as ``arcname``, directories before their entries, entries in name order."""
    _add(tar, path, arcname)
    if path.is_dir() and not path.is_symlink():
        for entry in sorted(path.iterdir()):
            _add_tree(tar, entry, f"{arcname}/{entry.name}")


def _pack_release(root: Path, otp_dirs: dict, dest: Path) -> None:
    """Like ``rebar3 tar`` (``erl_tar``): ustar headers, gzip at zlib's default level."""
    tmp = dest.with_name(dest.name + ".tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=6, format=tarfile.USTAR_FORMAT) as tar:
        _add(tar, root / "lib", "lib")
        otp_libs = {Path(d).name: Path(d) for d in otp_dirs.values()}
        libs = {p.name: p for p in (root / "lib").iterdir()}
        for name, lib in sorted({**libs, **otp_libs}.items()):
            _add(tar, lib, f"lib/{name}")
            for sub in sorted(lib.iterdir()):
                if name in otp_libs and sub.name not in OTP_LIB_DIRS:
                    continue
                _add_tree(tar, sub, f"lib/{name}/{sub.name}")
        _add_tree(tar, root / "releases", "releases")
    tmp.rename(dest)


def release_tarballs(old_root: Path, new_root: Path) -> tuple:
    """``(old tarball, new tarball)``, packed on first use next to the pair."""
    cache = old_root.parent / f"relup-{LAYOUT_VERSION}"
    tarballs = (cache / f"{REL_NAME}-{OLD_VSN}.tar.gz", cache / f"{REL_NAME}-{NEW_VSN}.tar.gz")
    if all(t.exists() for t in tarballs):
        return tarballs
    cache.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    otp_dirs = otp_lib_dirs()
    for root, tarball in zip((old_root, new_root), tarballs):
        if not tarball.exists():
            _pack_release(root, otp_dirs, tarball)
    print(f"packed {cache.relative_to(ROOT)}/*.tar.gz in {time.perf_counter() - t0:.1f} s")
    return tarballs


# ---------------------------------------------------------------------------------------------
# Ours
# ---------------------------------------------------------------------------------------------


class Ours:
    """The collection's modules, imported the way the tests do (tests/conftest.py)."""

    def __init__(self) -> None:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        importlib.import_module("tests.conftest")
        base = "ansible_collections.erlang.otp.plugins.module_utils."
        release = importlib.import_module(base + "_release")
        self.open_release = release.open_release
        self.generate = importlib.import_module(base + "_appup").generate
        relup = importlib.import_module(base + "_relup")
        self.make_relup = relup.make_relup
        package = importlib.import_module(base + "_package")
        self.write_package = package.write_package
        self.gzip_chunks = package.gzip_chunks
        self.deflate_threads = package._workers()  # pylint: disable=protected-access
        term_text = importlib.import_module(base + "_term_text")
        self.dumps, self.parse = term_text.dumps, term_text.parse
        terms = importlib.import_module(base + "_terms")
        self.canonical, self.atom = terms.canonical, terms.Atom

    def appups(self, old: object, new: object) -> dict:
        """``{app: (term, source)}`` of every generated appup (refuses on generation errors)."""
        generation = self.generate([old], new)
        if generation.errors:
            raise SystemExit("ours: appup generation failed: " + "; ".join(map(str, generation.errors)))
        return {
            app.name: (app.term, f"{new.name} {new.vsn}: {appup_member(app.name, app.to_vsn)}")
            for app in generation.apps
        }

    def end_to_end(self, old_tarball: Path, new_tarball: Path, out: Path) -> tuple:
        """``(step seconds, relup term, package result)``: the upgrade package from two tarballs."""
        steps = {}
        t0 = time.perf_counter()
        old = self.open_release(old_tarball)
        new = self.open_release(new_tarball)
        t1 = time.perf_counter()
        steps["read"] = t1 - t0
        appups = self.appups(old, new)
        additions = {appup_member(name, new.app(name).vsn): self.dumps([term]).encode("utf-8")
                     for name, (term, _source) in appups.items()}
        t2 = time.perf_counter()
        steps["appups"] = t2 - t1
        relup = self.make_relup(new, [old], appups=appups)
        additions[f"releases/{new.vsn}/relup"] = self.dumps([relup.term], header=RELUP_HEADER).encode("utf-8")
        t3 = time.perf_counter()
        steps["relup"] = t3 - t2
        with open(out, "wb") as handle:
            package = self.write_package(new_tarball, handle, additions)
        steps["package"] = time.perf_counter() - t3
        steps["total"] = time.perf_counter() - t0
        return steps, relup.term, package


def appup_member(app: str, vsn: str) -> str:
    return f"lib/{app}-{vsn}/ebin/{app}.appup"


STEPS = ("read", "appups", "relup", "package", "total")


def end_to_end_command(old_tarball: str, new_tarball: str, out: str, work: bool) -> int:
    """``--end-to-end``: ours as a fresh command; prints the steps of the first pass after the
    imports. ``--start-only``: the imports alone."""
    t0, c0 = time.perf_counter(), time.process_time()
    ours = Ours()
    imports = time.perf_counter() - t0
    line = f"imports_ms={imports * 1000:.1f}"
    if work:
        t0, c0 = time.perf_counter(), time.process_time()
        steps, _term, _package = ours.end_to_end(Path(old_tarball), Path(new_tarball), Path(out))
        line += "".join(f" {k}_ms={v * 1000:.1f}" for k, v in steps.items())
    print(f"{line} cpu_ms={(time.process_time() - c0) * 1000:.0f} peak_rss_mb={peak_rss_mb():.1f}")
    return 0


def profile_command(old_tarball: str, new_tarball: str, out: str, top: int) -> int:
    """``--profile-pass``: cProfile of the end-to-end pass, first in a fresh process."""
    ours = Ours()
    profiler = cProfile.Profile()
    profiler.enable()
    ours.end_to_end(Path(old_tarball), Path(new_tarball), Path(out))
    profiler.disable()
    for order in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).strip_dirs().sort_stats(order).print_stats(top)
        print(f"\n--- cProfile of one end-to-end pass (first in its process), top {top} by {order} ---")
        print("\n".join(line for line in buf.getvalue().splitlines()[1:] if line.strip()))
    return 0


def zlib_floor(ours: Ours, old_tarball: Path, new_tarball: Path) -> tuple:
    """``(gunzip seconds of both tarballs, deflate level 6 seconds of the new tar, its size,
    seconds of the package writer's chunked deflate of it in its threads)``."""
    t0 = time.perf_counter()
    data = [gzip.decompress(t.read_bytes()) for t in (old_tarball, new_tarball)]
    t1 = time.perf_counter()
    zlib.compress(data[1], 6)
    t2 = time.perf_counter()
    ours.gzip_chunks(data[1])
    return t1 - t0, t2 - t1, len(data[1]), time.perf_counter() - t2


# ---------------------------------------------------------------------------------------------
# OTP
# ---------------------------------------------------------------------------------------------


def rel_stem(root: Path, vsn: str) -> str:
    return str(root / "releases" / vsn / REL_NAME)


def code_paths(new_root: Path, old_root: Path) -> str:
    return f"{new_root}/lib/*/ebin,{old_root}/lib/*/ebin"


def unpack(tarball: Path, dest: Path) -> tuple:
    """``tar -xzf`` into ``dest``: ``(wall, CPU)`` seconds."""
    dest.mkdir(parents=True)
    _out, wall, cpu = run_measured(["tar", "-xzf", str(tarball), "-C", str(dest)])
    return wall, cpu


def systools_time(reps: int, work: Path, old_root: Path, new_root: Path) -> tuple:
    """``(per-run (wall, CPU) seconds in the VM, command wall, relup file path)``."""
    out_file = work / f"systools-{reps}.relup"
    cmd = ["escript", str(RELUP_ESCRIPT), "time", str(reps), str(out_file), rel_stem(new_root, NEW_VSN),
           rel_stem(old_root, OLD_VSN), code_paths(new_root, old_root)]
    out, wall, _cpu = run_measured(cmd)
    runs = [fields(line) for line in out.splitlines() if line.startswith("wall_ms=")]
    return [(float(r["wall_ms"]) / 1000, int(r["cpu_ms"]) / 1000) for r in runs], wall, out_file


def erlang_pipeline(old_tarball: Path, new_tarball: Path, work: Path) -> tuple:
    """The Erlang toolchain from the two tarballs to the package: ``({step: (wall, CPU)}, relup path,
    package path)``, each step a command run from here and timed as a whole."""
    old_root, new_root = work / "old", work / "new"
    steps = {}
    steps["tar -xzf old"] = unpack(old_tarball, old_root)
    steps["tar -xzf new"] = unpack(new_tarball, new_root)
    _out, wall, cpu = run_measured(["escript", str(APPUP_ESCRIPT), "1", str(old_root), str(new_root), "write"])
    steps["appup escript"] = (wall, cpu)
    rel_dir = new_root / "releases" / NEW_VSN
    out, wall, cpu = run_measured(["escript", str(RELUP_ESCRIPT), "write", str(rel_dir), rel_stem(new_root, NEW_VSN),
                                   rel_stem(old_root, OLD_VSN), code_paths(new_root, old_root)])
    if not out.startswith("ok"):
        raise SystemExit(f"relup_systools.escript write: {out}")
    steps["systools:make_relup"] = (wall, cpu)
    package = work / f"{REL_NAME}-{NEW_VSN}.tar.gz"
    tops = sorted(p.name for p in new_root.iterdir())
    _out, wall, cpu = run_measured(["tar", "-czf", str(package), "-C", str(new_root), *tops])
    steps["tar -czf package"] = (wall, cpu)
    steps["total"] = (sum(w for w, _c in steps.values()), sum(c for _w, c in steps.values()))
    return steps, rel_dir / "relup", package


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


def relup_of_file(ours: Ours, path: Path) -> object:
    terms = ours.parse(path.read_bytes(), str(path))
    if len(terms) != 1:
        raise SystemExit(f"{path}: expected one term, found {len(terms)}")
    return terms[0]


def first_difference(ours: Ours, mine: object, theirs: object) -> str:
    """Where two relup terms ``{Vsn, Up, Dn}`` first differ (for the failure message)."""
    if ours.canonical(mine[0]) != ours.canonical(theirs[0]):
        return f"top version {mine[0]!r} != {theirs[0]!r}"
    for side, a_list, b_list in (("up", mine[1], theirs[1]), ("down", mine[2], theirs[2])):
        if len(a_list) != len(b_list):
            return f"{side}: {len(a_list)} entries != {len(b_list)}"
        for a_entry, b_entry in zip(a_list, b_list):
            a_script, b_script = list(a_entry[2]), list(b_entry[2])
            for i, (a, b) in enumerate(zip(a_script, b_script)):
                if ours.canonical(a) != ours.canonical(b):
                    return f"{side} from {a_entry[0]!r}, instruction {i}: ours {a!r}, systools {b!r}"
            if len(a_script) != len(b_script):
                return f"{side} from {a_entry[0]!r}: {len(a_script)} instructions != {len(b_script)}"
            if ours.canonical(a_entry) != ours.canonical(b_entry):
                return f"{side} from {a_entry[0]!r}: the descriptions differ"
    return "no difference"


def _facts(ours: Ours, script: list) -> collections.Counter:
    """The instructions of a low-level script as a multiset, list instructions split per module:
    what is done, whatever the order and grouping (which follow the appups' order and DepMods)."""
    def key(term: object) -> str:
        return repr(ours.canonical(term))

    facts: collections.Counter = collections.Counter()
    for instr in script:
        op = str(instr[0]) if isinstance(instr, tuple) else str(instr)
        if op == "load_object_code":
            app, vsn, mods = instr[1]
            facts.update((op, key(app), key(vsn), key(m)) for m in mods)
        elif op == "code_change":
            facts.update((op, key(instr[1]), key(entry)) for entry in instr[2])
        elif op in ("suspend", "resume", "stop", "start"):
            facts.update((op, key(m)) for m in instr[1])
        else:
            facts[key(instr)] += 1
    return facts


def soft_updates(appups: dict) -> set:
    """Modules that our appups update with ``soft`` (special processes whose new beam exports no
    ``code_change``): the escript's appups update every special process with ``{advanced, []}``."""
    return {
        str(instr[1])
        for term, _source in appups.values()
        for _vsn, script in term[1]
        for instr in script
        if isinstance(instr, tuple) and len(instr) >= 3 and str(instr[0]) == "update" and str(instr[2]) == "soft"
    }


def equivalence(ours: Ours, mine: object, theirs: object, soft: set) -> list:
    """How two relups with one base differ as multisets of instructions, but for ``code_change``
    of the modules in ``soft`` (empty: equivalent)."""
    problems = []
    soft_keys = {repr(ours.canonical((ours.atom(m), []))) for m in soft}
    if ours.canonical(mine[0]) != ours.canonical(theirs[0]):
        problems.append(f"top version {mine[0]!r} != {theirs[0]!r}")
    for side, index in (("up", 1), ("down", 2)):
        for a_entry, b_entry in zip(mine[index], theirs[index]):
            a_facts, b_facts = _facts(ours, a_entry[2]), _facts(ours, b_entry[2])
            only_a, only_b = a_facts - b_facts, b_facts - a_facts
            for fact in list(only_b):
                if fact[0] == "code_change" and fact[2] in soft_keys:
                    del only_b[fact]
            if only_a or only_b:
                problems.append(f"{side} from {a_entry[0]}: only ours {sorted(only_a.elements())[:5]} "
                                f"({sum(only_a.values())}), only the pipeline's {sorted(only_b.elements())[:5]} "
                                f"({sum(only_b.values())})")
        if len(mine[index]) != len(theirs[index]):
            problems.append(f"{side}: {len(mine[index])} entries != {len(theirs[index])}")
    return problems


def relup_shape(term: object) -> str:
    """``up N / down M instructions`` of a relup with one base."""
    return f"up {len(term[1][0][2])} / down {len(term[2][0][2])} instructions"


def package_relup(ours: Ours, package: Path, member: str) -> object:
    with tarfile.open(package, "r:gz") as tar:
        handle = tar.extractfile(member)
        if handle is None:
            raise SystemExit(f"{package}: no {member}")
        terms = ours.parse(handle.read(), f"{package}:{member}")
    return terms[0]


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def default_scratch() -> str | None:
    """tmpfs when there is one: unpacking the 2,300 files of one tarball on this machine's ext4
    costs 0.3-1.3 s of system time (0.15 s on tmpfs), noise that would count against the Erlang
    pipeline."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def scratch_fs(path: Path) -> str:
    """The file system type of ``path`` (from /proc/mounts: the longest mount point above it)."""
    best, kind = "", "unknown file system"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) > 2 and str(path).startswith(parts[1].rstrip("/") + "/") and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def _stats(values: list) -> str:
    return f"median {statistics.median(values):.3f} s (best {min(values):.3f} s)"


def _ms(values: list) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms (best {min(values) * 1000:.1f} ms)"


def _load() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] in ("--end-to-end", "--start-only"):
        return end_to_end_command(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[1] == "--end-to-end")
    if len(sys.argv) == 6 and sys.argv[1] == "--profile-pass":
        return profile_command(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="timed runs of each kind on each side (median reported)")
    parser.add_argument("--jobs", type=int, default=2, help="concurrent erlc commands when generating (default 2)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one end-to-end pass of ours")
    parser.add_argument("--top", type=int, default=30, help="functions shown per cProfile table")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (printed)")
    parser.add_argument("--scratch", default=default_scratch(), help="where the releases are unpacked and the "
                        "packages written (default: /dev/shm when it exists, else the system's temporary directory)")
    for key, value in DEFAULTS.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, action="store_true", help="as in bench_appup.py")
        else:
            parser.add_argument(flag, type=type(value), default=value, help=f"generator parameter (default {value})")
    args = parser.parse_args()
    reps = max(1, args.reps)
    params = {key: getattr(args, key) for key in DEFAULTS}
    old_root, new_root, meta = build_pair(params, args.jobs)
    old_tarball, new_tarball = release_tarballs(old_root, new_root)
    otp = meta["otp"]
    print(
        f"release pair {old_root.parent.relative_to(ROOT)}: {meta['modules_old']} -> {meta['modules_new']} modules "
        f"in {len(meta['apps'])} applications, plus kernel {otp['kernel']}, stdlib {otp['stdlib']}, "
        f"sasl {otp['sasl']}; tarballs {old_tarball.stat().st_size / 1e6:.1f} MB and "
        f"{new_tarball.stat().st_size / 1e6:.1f} MB"
    )
    print(f"{_cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, OTP {otp['otp']} "
          f"(erts {otp['erts']}), {_load()}")

    ours = Ours()
    scratch = Path(tempfile.mkdtemp(prefix="bench-relup-", dir=args.scratch))
    print(f"scratch directory {scratch} ({scratch_fs(scratch)})")
    try:
        return run(args, reps, ours, scratch, old_tarball, new_tarball)
    finally:
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def run(args: argparse.Namespace, reps: int, ours: Ours, scratch: Path, old_tarball: Path, new_tarball: Path) -> int:
    med = statistics.median
    # --- (a) inputs: releases read, appups generated; systools gets the same appups on disk ---
    old = ours.open_release(old_tarball)
    new = ours.open_release(new_tarball)
    appups = ours.appups(old, new)
    a_dir = scratch / "a"
    unpack(old_tarball, a_dir / "old")
    unpack(new_tarball, a_dir / "new")
    for name, (term, _source) in appups.items():
        (a_dir / "new" / appup_member(name, new.app(name).vsn)).write_text(ours.dumps([term]), encoding="utf-8")

    # --- correctness first ---
    t0 = time.perf_counter()
    relup = ours.make_relup(new, [old], appups=appups)
    ours_first = time.perf_counter() - t0
    runs, _wall, systools_file = systools_time(1, a_dir, a_dir / "old", a_dir / "new")
    systools_term = relup_of_file(ours, systools_file)
    if ours.canonical(relup.term) != ours.canonical(systools_term):
        print("FAILED: our relup differs from systools:make_relup's on the same appups: "
              + first_difference(ours, relup.term, systools_term))
        return 1
    _steps, _term, e2e_package = ours.end_to_end(old_tarball, new_tarball, scratch / "ours.tar.gz")
    member = f"releases/{NEW_VSN}/relup"
    if ours.canonical(package_relup(ours, scratch / "ours.tar.gz", member)) != ours.canonical(relup.term):
        print(f"FAILED: the relup in our package ({member}) is not the relup computed")
        return 1
    pipe_dir = scratch / "pipeline-check"
    _steps, pipe_relup, pipe_package = erlang_pipeline(old_tarball, new_tarball, pipe_dir)
    pipe_term = relup_of_file(ours, pipe_relup)
    if ours.canonical(package_relup(ours, pipe_package, member)) != ours.canonical(pipe_term):
        print(f"FAILED: the relup in the Erlang pipeline's package ({member}) is not the one systools wrote")
        return 1
    print(f"checked: our relup ({relup_shape(relup.term)}, {len(appups)} appups) equals systools:make_relup's "
          "on the same appups (terms compared with _terms.canonical); our package holds it and "
          f"{len(e2e_package.added)} added members")
    if ours.canonical(pipe_term) == ours.canonical(relup.term):
        print("checked: the Erlang pipeline (appup_beam_lib.escript's appups, then systools) makes the same relup")
    else:
        soft = soft_updates(appups)
        problems = equivalence(ours, relup.term, pipe_term, soft)
        if problems:
            print("FAILED: the Erlang pipeline's relup (from appup_beam_lib.escript's appups) does other work than "
                  "ours: " + "; ".join(problems))
            return 1
        print(f"checked: the Erlang pipeline's relup ({relup_shape(pipe_term)}; appups from "
              "appup_beam_lib.escript) is equivalent to ours: the same instructions as multisets (lists of "
              "modules split per module) in another order and grouping, but for code_change: the escript's "
              f"appups also call it for the {len(soft)} gen_servers that export no code_change/3 (ours updates "
              "them with soft)")
    shutil.rmtree(pipe_dir)

    # --- (a) the relup alone ---
    ours_a = []
    for _unused in range(reps):
        t0 = time.perf_counter()
        ours.make_relup(new, [old], appups=appups)
        ours_a.append(time.perf_counter() - t0)
    runs, systools_cmd, _file = systools_time(reps, a_dir, a_dir / "old", a_dir / "new")
    sys_a = [w for w, _c in runs]
    sys_a_cpu = [c for _w, c in runs]
    vm_start = [systools_time(0, a_dir, a_dir / "old", a_dir / "new")[1] for _unused in range(reps)]
    print(f"\n(a) relup from releases already read, {reps} runs each (wall clock):")
    print(f"  ours make_relup, in process            {_ms(ours_a)}; first call {ours_first * 1000:.1f} ms")
    print(f"  systools:make_relup noexec, in the VM  {_ms(sys_a)}   CPU {_ms(sys_a_cpu)}; "
          f"first run {sys_a[0] * 1000:.1f} ms")
    print(f"  escript command ({reps} runs)             {systools_cmd:.3f} s")
    print(f"  VM start + stop alone (escript, 0 runs) {_stats(vm_start)}")
    ratio_a = med(sys_a) / med(ours_a)
    print(f"  ratio systools in VM / ours (medians)   {ratio_a:.1f}x   target >= {TARGET_A_RATIO:.0f}x -> "
          f"{'met' if ratio_a >= TARGET_A_RATIO else 'MISSED'}")
    shutil.rmtree(a_dir)

    # --- (b) end to end ---
    out = scratch / "ours.tar.gz"
    cmd_steps: dict = {k: [] for k in STEPS}
    cmd_wall, cmd_cpu, cmd_imports, cmd_rss, start_wall = [], [], [], [], []
    for _unused in range(reps):
        text, wall, cpu = run_measured([sys.executable, str(Path(__file__).resolve()), "--end-to-end",
                                        str(old_tarball), str(new_tarball), str(out)])
        values = fields(text)
        for k in STEPS:
            cmd_steps[k].append(float(values[f"{k}_ms"]) / 1000)
        cmd_imports.append(float(values["imports_ms"]) / 1000)
        cmd_rss.append(float(values["peak_rss_mb"]))
        cmd_wall.append(wall)
        cmd_cpu.append(cpu)
        start_wall.append(run_measured([sys.executable, str(Path(__file__).resolve()), "--start-only",
                                        str(old_tarball), str(new_tarball), str(out)])[1])
    warm_steps: dict = {k: [] for k in STEPS}
    for _unused in range(reps):
        steps, _term, _package = ours.end_to_end(old_tarball, new_tarball, out)
        for k in STEPS:
            warm_steps[k].append(steps[k])
    pipe_steps: dict = {}
    for i in range(reps):
        steps, _relup, _package = erlang_pipeline(old_tarball, new_tarball, scratch / f"pipeline-{i}")
        shutil.rmtree(scratch / f"pipeline-{i}")
        for k, (wall, cpu) in steps.items():
            pipe_steps.setdefault(k, []).append((wall, cpu))

    print(f"\n(b) end to end, two tarballs -> upgrade package ({e2e_package.size / 1e6:.1f} MB), {reps} runs each:")
    print("  ours, first pass in a fresh process (python command, after its imports):")
    for k in STEPS:
        print(f"    {k:<10} {_ms(cmd_steps[k])}")
    print(f"  ours as a command (interpreter start, imports, pass)  {_stats(cmd_wall)}   CPU {_stats(cmd_cpu)}")
    print(f"    imports {_ms(cmd_imports)}; python start + imports alone {_stats(start_wall)}; "
          f"peak RSS {med(cmd_rss):.0f} MB")
    print("  ours in this process (warm page cache and imports):")
    for k in STEPS:
        print(f"    {k:<10} {_ms(warm_steps[k])}")
    print("  Erlang pipeline (each step a command):")
    for k, values in pipe_steps.items():
        walls = [w for w, _c in values]
        cpus = [c for _w, c in values]
        print(f"    {k:<20} {_stats(walls)}   CPU {_stats(cpus)}")
    pipe_total = med([w for w, _c in pipe_steps["total"]])
    first = med(cmd_steps["total"])
    ratios = {
        "pipeline / ours first pass in a fresh process": pipe_total / first,
        "pipeline / ours as a command": pipe_total / med(cmd_wall),
        "pipeline / ours in process (warm)": pipe_total / med(warm_steps["total"]),
    }
    print("  ratios (Erlang time / our time, medians; higher = ours faster):")
    for name, value in ratios.items():
        print(f"    {name:<48} {value:5.2f}x")
    ratio_b = ratios["pipeline / ours first pass in a fresh process"]
    met = first <= TARGET_B_SECONDS and ratio_b >= TARGET_B_RATIO
    print(f"  target (<= {TARGET_B_SECONDS} s and >= {TARGET_B_RATIO:.0f}x faster than the pipeline): ours "
          f"{first:.3f} s (first pass in a fresh process), {ratio_b:.2f}x -> {'met' if met else 'MISSED'}")
    floor = zlib_floor(ours, old_tarball, new_tarball)
    print(f"  zlib alone, in process: gunzip of both tarballs {floor[0]:.3f} s, deflate level 6 of the new "
          f"release's {floor[2] / 1e6:.0f} MB tar {floor[1]:.3f} s in one thread, {floor[3]:.3f} s as the package "
          f"writer deflates it ({ours.deflate_threads} threads); reading both tarballs and writing the package cost "
          "at least the gunzip, the threaded deflate and one more inflate of the new tarball (the package writer's)")
    if args.profile:
        sys.stdout.flush()
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--profile-pass", str(old_tarball),
                        str(new_tarball), str(out), str(args.top)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
