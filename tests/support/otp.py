# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run OTP itself from tests: the escripts under tests/erlang/ are the reference implementation."""
from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import pytest

ESCRIPT_DIR = Path(__file__).resolve().parents[1] / "erlang"


def have_erlang() -> bool:
    return shutil.which("erl") is not None and shutil.which("escript") is not None


requires_erlang = pytest.mark.skipif(not have_erlang(), reason="Erlang/OTP is not installed")


def run_escript(name: str, *args: str, stdin: bytes | None = None, timeout: float = 600) -> bytes:
    """Run ``tests/erlang/<name>`` with ``escript`` and return its standard output.

    A non-zero exit raises with the script's standard error, so a failing reference run is never
    mistaken for an empty result.
    """
    script = ESCRIPT_DIR / name
    proc = subprocess.run(
        ["escript", str(script), *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"escript {name} {' '.join(args)} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout


@functools.cache
def otp_root() -> Path:
    """``code:root_dir()`` of the installed OTP."""
    out = subprocess.run(
        ["erl", "-noshell", "-eval", 'io:format("~s", [code:root_dir()]), halt().'],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return Path(out.decode())


@functools.cache
def elixir_root() -> Path | None:
    """The lib directory of the installed Elixir, if any (its apps sit beside OTP's)."""
    if shutil.which("elixir") is None:
        return None
    out = subprocess.run(
        ["elixir", "-e", 'IO.write(:code.lib_dir(:elixir) |> Path.dirname())'],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    return Path(out.decode())
