# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build and cache the real release tarballs that the tests upgrade between.

The sources live in ``tests/releases/<project>/``: a ``base`` directory and one overlay directory
per version. A version's project is ``base`` + every overlay up to and including its own, copied
in order; an overlay's ``REMOVE`` file lists paths (one per line, ``#`` comments) that it deletes
from what came before. ``tests/releases/README.md`` says what each version pair exercises.

Builds run in a scratch copy under ``.cache/releases/`` with a private HOME, rebar3/mix/hex
directories and offline settings, so nothing from the user's home leaks in and nothing is written
into ``tests/releases``. A finished tarball is kept at
``.cache/releases/<name>-<vsn>-<key>/<name>-<vsn>.tar.gz``, where ``key`` hashes the source files,
the build recipe, this file and the tool versions; an ``fcntl`` lock per release makes concurrent
pytest workers wait for one build instead of racing.

Python API: :data:`RELEASES`, :func:`release`, :func:`tarball`, :func:`app_versions`.
CLI: ``python -m tests.support.releases build [--all | NAME VSN ...]`` and ``... list``.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import fcntl
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "tests" / "releases"
CACHE = ROOT / ".cache" / "releases"

BUILD_TIMEOUT = 600


class ReleaseBuildError(RuntimeError):
    """A release could not be built; the message carries the tool's output."""


@dataclass(frozen=True)
class Release:
    """One buildable release tarball.

    ``kind`` is ``"rebar3"`` (relx) or ``"mix"``; ``project`` names the source folder under
    ``tests/releases``; ``layers`` are the folders of that project copied in order.
    ``include_erts``/``system_libs`` say whether ERTS and the OTP applications are bundled.
    """

    name: str
    vsn: str
    kind: str
    project: str
    layers: Tuple[str, ...]
    include_erts: bool = True
    system_libs: bool = True

    @property
    def tarball_name(self) -> str:
        return f"{self.name}-{self.vsn}.tar.gz"


def _chain(project: str, kind: str, name: str, versions: List[str], **flags: bool) -> List[Release]:
    return [
        Release(name, vsn, kind, project, ("base", *versions[: i + 1]), **flags) for i, vsn in enumerate(versions)
    ]


RELEASES: Tuple[Release, ...] = (
    *_chain("shop", "rebar3", "shop", ["1.0.0", "1.1.0", "2.0.0"]),
    *_chain("shop", "rebar3", "shop_noerts", ["1.0.0", "1.1.0"], include_erts=False, system_libs=False),
    *_chain("exshop", "mix", "exshop", ["0.1.0", "0.2.0"]),
)


def release(name: str, vsn: str) -> Release:
    """The :class:`Release` called ``name`` at ``vsn``; ``KeyError`` lists the known ones."""
    for rel in RELEASES:
        if rel.name == name and rel.vsn == vsn:
            return rel
    known = ", ".join(f"{r.name} {r.vsn}" for r in RELEASES)
    raise KeyError(f"no release {name!r} version {vsn!r} in tests/releases (known: {known})")


# ---------------------------------------------------------------------------------------------
# Tools


def tool_missing(kind: str) -> Optional[str]:
    """Why releases of ``kind`` cannot be built here, or None when they can."""
    needed = {"rebar3": ["erl", "rebar3"], "mix": ["erl", "elixir", "mix"]}[kind]
    missing = [tool for tool in needed if shutil.which(tool) is None]
    return f"{', '.join(missing)} not on PATH" if missing else None


def _output(argv: List[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=_clean_env())
    if proc.returncode != 0:
        raise ReleaseBuildError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout.strip()


@functools.cache
def _toolchain(kind: str) -> str:
    """Versions that end up in the tarball (ERTS, OTP, Elixir) or shape it (relx, mix)."""
    why = tool_missing(kind)
    if why:
        raise ReleaseBuildError(f"cannot build {kind} releases: {why}")
    otp = _output(
        [
            "erl", "-noshell", "-boot", "no_dot_erlang", "-eval",
            'io:format("~s ~s ~s", [erlang:system_info(otp_release), erlang:system_info(version),'
            ' code:root_dir()]), halt().',
        ]
    )
    if kind == "rebar3":
        rebar3 = Path(shutil.which("rebar3") or "rebar3").resolve()
        return f"otp {otp}; rebar3 {hashlib.sha256(rebar3.read_bytes()).hexdigest()}"
    return f"otp {otp}; elixir {_output(['elixir', '-e', 'IO.write(System.version())'])}"


def _clean_env(**extra: str) -> Dict[str, str]:
    """The caller's environment minus settings that would change what the tools build."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ERL_", "REBAR", "MIX_", "HEX_", "RELX_", "ELIXIR_"))
    }
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------
# Sources


def _layer_files(layer: Path) -> Iterator[Tuple[str, Path]]:
    for path in sorted(layer.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path.relative_to(layer).as_posix(), path


def _removals(layer: Path) -> List[str]:
    spec = layer / "REMOVE"
    if not spec.is_file():
        return []
    lines = (line.strip() for line in spec.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def compose(rel: Release, dest: Path) -> Path:
    """Write the project of ``rel`` into ``dest`` (created; must not exist) and return it."""
    project = SOURCES / rel.project
    dest.mkdir(parents=True)
    for name in rel.layers:
        layer = project / name
        if not layer.is_dir():
            raise ReleaseBuildError(f"{rel.name} {rel.vsn}: source layer {layer} is missing")
        for gone in _removals(layer):
            target = dest / gone
            if not target.exists():
                raise ReleaseBuildError(f"{layer / 'REMOVE'}: {gone!r} is not in the layers before {name}")
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink()
        for rel_path, path in _layer_files(layer):
            if rel_path == "REMOVE":
                continue
            out = dest / rel_path
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)
    if rel.kind == "rebar3":
        _render_rebar_config(rel, dest)
    return dest


_APP_VSN = re.compile(r"\{\s*vsn\s*,\s*\"([^\"]+)\"\s*\}")
_MIX_APP = re.compile(r"\bapp:\s*:([a-z_][a-z0-9_]*)")


def _source_apps(rel: Release, tree: Path) -> Dict[str, str]:
    if rel.kind == "mix":
        match = _MIX_APP.search((tree / "mix.exs").read_text(encoding="utf-8"))
        if not match:
            raise ReleaseBuildError(f"{rel.project}: no `app: :name` in mix.exs")
        return {match.group(1): (tree / "VERSION").read_text(encoding="utf-8").strip()}
    apps = {}
    for app_src in sorted(tree.glob("apps/*/src/*.app.src")):
        match = _APP_VSN.search(app_src.read_text(encoding="utf-8"))
        if not match:
            raise ReleaseBuildError(f"{app_src}: no {{vsn, \"...\"}} entry")
        apps[app_src.name[: -len(".app.src")]] = match.group(1)
    return apps


def app_versions(name: str, vsn: str) -> Dict[str, str]:
    """Our own applications in release ``name`` ``vsn`` and their versions, read from the sources."""
    rel = release(name, vsn)
    with tempfile.TemporaryDirectory(prefix="compose-") as tmp:
        return _source_apps(rel, compose(rel, Path(tmp) / "src"))


def _render_rebar_config(rel: Release, tree: Path) -> None:
    template = tree / "rebar.config.src"
    apps = ["sasl", *_source_apps(rel, tree)]
    text = template.read_text(encoding="utf-8")
    for word, value in {
        "@REL_NAME@": rel.name,
        "@REL_VSN@": rel.vsn,
        "@REL_APPS@": ", ".join(apps),
        "@INCLUDE_ERTS@": str(rel.include_erts).lower(),
        "@SYSTEM_LIBS@": str(rel.system_libs).lower(),
    }.items():
        text = text.replace(word, value)
    (tree / "rebar.config").write_text(text, encoding="utf-8")
    template.unlink()


def cache_key(rel: Release) -> str:
    """Hash of everything the tarball is built from; a change to any of it means a rebuild."""
    digest = hashlib.sha256()
    digest.update(repr(rel).encode())
    digest.update(_toolchain(rel.kind).encode())
    digest.update(Path(__file__).read_bytes())
    project = SOURCES / rel.project
    for name in rel.layers:
        for rel_path, path in _layer_files(project / name):
            digest.update(f"\0{name}/{rel_path}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Building


def _run(argv: List[str], cwd: Path, env: Dict[str, str], log: List[str]) -> None:
    log.append(f"$ {' '.join(argv)}")
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ReleaseBuildError(f"{' '.join(argv)} timed out after {BUILD_TIMEOUT}s in {cwd}") from exc
    log.append(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise ReleaseBuildError(
            f"{' '.join(argv)} exited {proc.returncode} in {cwd}:\n{proc.stdout}{proc.stderr}"
        )


def _build(rel: Release, scratch: Path) -> Tuple[Path, str]:
    """Build ``rel`` inside ``scratch``; return the tarball and the tools' output."""
    src = compose(rel, scratch / "src")
    home = scratch / "home"
    home.mkdir()
    log: List[str] = []
    if rel.kind == "rebar3":
        env = _clean_env(
            HOME=str(home),
            REBAR_CACHE_DIR=str(home / "rebar3-cache"),
            REBAR_GLOBAL_CONFIG_DIR=str(home / "rebar3-config"),
            REBAR_OFFLINE="1",
            REBAR_COLOR="none",
        )
        _run(["rebar3", "tar"], src, env, log)
        out = src / "_build" / "default" / "rel" / rel.name / rel.tarball_name
    else:
        env = _clean_env(
            HOME=str(home),
            MIX_ENV="prod",
            MIX_HOME=str(home / "mix"),
            HEX_HOME=str(home / "hex"),
            HEX_OFFLINE="1",
        )
        _run(["mix", "release", "--overwrite"], src, env, log)
        out = src / "_build" / "prod" / rel.tarball_name
    if not out.is_file():
        raise ReleaseBuildError(f"{rel.name} {rel.vsn}: the build did not produce {out}:\n" + "\n".join(log))
    return out, "\n".join(log)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_path(rel: Release) -> Path:
    """Where the tarball of ``rel`` is (or will be) cached."""
    return CACHE / f"{rel.name}-{rel.vsn}-{cache_key(rel)}" / rel.tarball_name


def tarball(name: str, vsn: str) -> Path:
    """The path of the built ``<name>-<vsn>.tar.gz``, building it first if it is not cached."""
    rel = release(name, vsn)
    final = cached_path(rel)
    if final.is_file():
        return final
    with _locked(CACHE / f"{rel.name}-{rel.vsn}.lock"):
        if final.is_file():  # another worker built it while we waited
            return final
        with tempfile.TemporaryDirectory(prefix=f"build-{rel.name}-{rel.vsn}-", dir=CACHE) as tmp:
            scratch = Path(tmp)
            built, log = _build(rel, scratch)
            staging = scratch / "result"
            staging.mkdir()
            shutil.copy2(built, staging / rel.tarball_name)
            (staging / "build.log").write_text(log, encoding="utf-8")
            os.rename(staging, final.parent)
        for stale in CACHE.glob(f"{rel.name}-{rel.vsn}-*"):
            if stale.is_dir() and stale != final.parent:
                shutil.rmtree(stale, ignore_errors=True)
    return final


def build_all(releases: Optional[List[Release]] = None, jobs: int = 2) -> List[Path]:
    """Build (or find in the cache) several releases, ``jobs`` at a time; paths in input order."""
    todo = list(RELEASES if releases is None else releases)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda rel: tarball(rel.name, rel.vsn), todo))


# ---------------------------------------------------------------------------------------------
# CLI


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.releases", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build releases (or find them cached) and print the tarball paths")
    build.add_argument("--all", action="store_true", help="every release in the list")
    build.add_argument("--jobs", type=int, default=2, help="parallel builds (default 2)")
    build.add_argument("pairs", nargs="*", metavar="NAME VSN", help="release name and version, repeated")
    sub.add_parser("list", help="print name, version, kind and bundling of every release")
    args = parser.parse_args(argv)

    if args.command == "list":
        for rel in RELEASES:
            erts = "erts" if rel.include_erts else "no-erts"
            libs = "system_libs" if rel.system_libs else "no-system_libs"
            print(f"{rel.name}\t{rel.vsn}\t{rel.kind}\t{erts}\t{libs}")
        return 0

    if args.all == bool(args.pairs) or len(args.pairs) % 2:
        parser.error("give either --all or NAME VSN pairs")
    try:
        wanted = None if args.all else [release(n, v) for n, v in zip(args.pairs[::2], args.pairs[1::2])]
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    started = time.monotonic()
    try:
        paths = build_all(wanted, args.jobs)
    except ReleaseBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path, flush=True)
    print(f"done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
