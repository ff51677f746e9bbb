# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hot-upgrade packages of the test releases, with hand-written appups and OTP's own relups.

Test machinery, not part of the collection. The test releases ship no appups or relups
(``tests/releases/README.md``); the ``erlang.otp.release`` tests need real upgrade packages that do
not depend on the collection's own appup generator, plus packages that fail on purpose:

* :func:`shop_110` — ``shop`` 1.0.0 -> 1.1.0 (and back). ``variant="crash_after_ponr"`` updates
  ``shop_cart`` *before* the new ``shop_price`` is loaded, so its ``code_change/3`` calls a
  function the old library lacks: a realistic crash after the point of no return.
  ``variant="fail_before_ponr"`` adds ``{apply, {ets, new, [...]}}`` before the point of no
  return: ``check_install_release`` creates the named table inside ``release_handler`` and passes,
  the ``install_release`` that follows fails on the existing table, before the point of no return.
* :func:`shop_200` — ``shop`` 1.1.0 -> 2.0.0 (``shop_legacy`` removed, ``shop_tax`` added).
* :func:`exshop_020` — ``exshop`` 0.1.0 -> 0.2.0 (mix release).
* :func:`tar_slip` — a copy of a tarball with one extra member ``../<name>``.

The relup is made by ``systools:make_relup`` (``tests/support/relup_package``) and the results are
cached in ``.cache/upgrade-packages/`` by a hash of their inputs.
"""
from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Dict, Optional

from ansible_collections.erlang.otp.plugins.module_utils._release import open_release
from ansible_collections.erlang.otp.plugins.module_utils._term_text import dumps, parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support import releases, relup_package

CACHE = releases.ROOT / ".cache" / "upgrade-packages"

SHOP_APPUP_010_020 = """{"0.2.0",
 [{"0.1.0",
   [{add_module, shop_discount},
    {add_module, shop_stats},
    {load_module, shop_price, [shop_discount]},
    {update, shop_cart, {advanced, []}, [shop_price, shop_stats]},
    {delete_module, shop_format},
    {update, shop_sup, supervisor},
    {apply, {supervisor, restart_child, [shop_sup, shop_stats]}}]}],
 [{"0.1.0",
   [{apply, {supervisor, terminate_child, [shop_sup, shop_stats]}},
    {apply, {supervisor, delete_child, [shop_sup, shop_stats]}},
    {update, shop_sup, supervisor},
    {add_module, shop_format},
    {update, shop_cart, {advanced, []}, [shop_format]},
    {load_module, shop_price},
    {delete_module, shop_stats},
    {delete_module, shop_discount}]}]}.
"""

# shop_cart is updated first and shop_price loaded only afterwards: the new code_change/3 calls
# shop_price:total/1, which the still-loaded 0.1.0 library does not export.
SHOP_APPUP_010_020_CRASH = """{"0.2.0",
 [{"0.1.0",
   [{add_module, shop_discount},
    {add_module, shop_stats},
    {update, shop_cart, {advanced, []}},
    {load_module, shop_price},
    {delete_module, shop_format}]}],
 [{"0.1.0", []}]}.
"""

SHOP_APPUP_020_030 = """{"0.3.0",
 [{"0.2.0",
   [{add_module, shop_tax},
    {load_module, shop_price, [shop_tax]},
    {update, shop_cart, {advanced, []}, [shop_price]},
    {delete_module, shop_discount}]}],
 [{"0.2.0",
   [{add_module, shop_discount},
    {update, shop_cart, {advanced, []}, [shop_price]},
    {load_module, shop_price, [shop_discount]},
    {delete_module, shop_tax}]}]}.
"""

EXSHOP_APPUP_010_020 = """{"0.2.0",
 [{"0.1.0",
   [{add_module, 'Elixir.Exshop.Visit'},
    {add_module, 'Elixir.Exshop.Describe.Exshop.Visit'},
    {add_module, 'Elixir.String.Chars.Exshop.Visit'},
    {load_module, 'Elixir.Exshop.Greeting'},
    {update, 'Elixir.Exshop.Counter', {advanced, []}, ['Elixir.Exshop.Greeting']}]}],
 [{"0.1.0",
   [{update, 'Elixir.Exshop.Counter', {advanced, []}, ['Elixir.Exshop.Greeting']},
    {load_module, 'Elixir.Exshop.Greeting'},
    {delete_module, 'Elixir.String.Chars.Exshop.Visit'},
    {delete_module, 'Elixir.Exshop.Describe.Exshop.Visit'},
    {delete_module, 'Elixir.Exshop.Visit'}]}]}.
"""

#: The named table the "fail_before_ponr" relup creates inside release_handler.
ONCE_TABLE = "erlang_otp_test_once"


def _key(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode())
        digest.update(b"\0")
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def _rewrite_member(tarball: Path, member: str, edit: Callable[[bytes], bytes], dest: Path) -> Path:
    """Copy ``tarball`` to ``dest`` with the content of ``member`` replaced by ``edit(content)``."""
    with tarfile.open(tarball, "r:gz") as src, tarfile.open(dest, "w:gz") as out:
        for info in src:
            data = src.extractfile(info).read() if info.isreg() else None
            if info.name.lstrip("./") == member:
                data = edit(data)
                info.size = len(data)
            out.addfile(info, io.BytesIO(data) if data is not None else None)
    return dest


def _cached(key: str, filename: str, make: Callable[[Path], Path]) -> Path:
    final = CACHE / key / filename
    if final.is_file():
        return final
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="upgrade-package-", dir=CACHE) as tmp:
        built = make(Path(tmp))
        staging = Path(tmp) / "result"
        staging.mkdir()
        shutil.copy2(built, staging / filename)
        if final.parent.exists() and not final.is_file():
            shutil.rmtree(final.parent, ignore_errors=True)  # a leftover without the package
        try:
            staging.rename(final.parent)
        except OSError:
            if not final.is_file():  # another pytest worker may have finished the same package first
                raise
    return final


def _insert_before_ponr(relup: bytes, instruction: object) -> bytes:
    vsn, ups, downs = parse_one(relup, "relup")
    ups = [(frm, descr, _before_ponr(script, instruction)) for frm, descr, script in ups]
    return dumps([(vsn, ups, downs)]).encode()


def _before_ponr(script: list, instruction: object) -> list:
    at = script.index(Atom("point_of_no_return"))
    return [*script[:at], instruction, *script[at:]]


def build(new: Path, previous: list, appups: Dict[str, str], *, relup_edit: Optional[Callable] = None,
          label: str = "") -> Path:
    """An upgrade package of ``new`` from ``previous`` with ``appups``, optionally with its relup edited."""
    rel = open_release(new)
    key = _key(str(new), [str(p) for p in previous], sorted(appups.items()), label)

    def make(tmp: Path) -> Path:
        package = relup_package.build(new, previous, appups, tmp / "built")
        if relup_edit is None:
            return package
        return _rewrite_member(package, f"releases/{rel.vsn}/relup", relup_edit, tmp / package.name)

    return _cached(key, f"{rel.name}-{rel.vsn}.tar.gz", make)


def shop_110(variant: str = "good") -> Path:
    v1, v2 = releases.tarball("shop", "1.0.0"), releases.tarball("shop", "1.1.0")
    if variant == "good":
        return build(v2, [v1], {"shop": SHOP_APPUP_010_020})
    if variant == "crash_after_ponr":
        return build(v2, [v1], {"shop": SHOP_APPUP_010_020_CRASH}, label=variant)
    if variant == "fail_before_ponr":
        options = [Atom("named_table"), Atom("public")]
        once = (Atom("apply"), (Atom("ets"), Atom("new"), [Atom(ONCE_TABLE), options]))
        return build(v2, [v1], {"shop": SHOP_APPUP_010_020}, label=variant,
                     relup_edit=lambda data: _insert_before_ponr(data, once))
    raise ValueError(f"unknown variant {variant!r}")


def shop_200() -> Path:
    v2, v3 = releases.tarball("shop", "1.1.0"), releases.tarball("shop", "2.0.0")
    return build(v3, [v2], {"shop": SHOP_APPUP_020_030})


def exshop_020() -> Path:
    v1, v2 = releases.tarball("exshop", "0.1.0"), releases.tarball("exshop", "0.2.0")
    return build(v2, [v1], {"exshop": EXSHOP_APPUP_010_020})


def tar_slip(tarball: Path, dest: Path, name: str = "erlang-otp-tar-slip") -> Path:
    """``tarball`` plus a member ``../<name>`` (written last, so a naive extractor writes the rest first)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as src, tarfile.open(dest, "w:gz") as out:
        for info in src:
            out.addfile(info, src.extractfile(info) if info.isreg() else None)
        evil = tarfile.TarInfo(f"../{name}")
        payload = b"written outside the release root\n"
        evil.size = len(payload)
        out.addfile(evil, io.BytesIO(payload))
    return dest
