# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check mode on the real shop releases: a correct hand-written appup passes, each planted mistake
is found, and the appups the generator writes pass.

For every case OTP's own ``systools:make_relup`` is run on the same releases too: it accepts the
correct appup -- and many of the mistakes, which is why check mode exists.
"""

from __future__ import annotations

import re

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._appup import generate
from ansible_collections.erlang.otp.plugins.module_utils._appup_check import check_appup
from ansible_collections.erlang.otp.plugins.module_utils._archive import extract
from ansible_collections.erlang.otp.plugins.module_utils._release import open_release
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one

from tests.support.otp import requires_erlang, run_escript
from tests.support.releases import tarball

pytestmark = [pytest.mark.erlang, requires_erlang]

# shop 0.1.0 (release 1.0.0) -> 0.2.0 (release 1.1.0); see tests/releases/README.md.
SHOP_020 = """{"0.2.0",
 [{"0.1.0",
   [{add_module, shop_discount},
    {load_module, shop_price, [shop_discount]},
    {add_module, shop_stats},
    {update, shop_cart, {advanced, []}, [shop_price, shop_stats]},
    {delete_module, shop_format, [shop_cart]},
    {update, shop_sup, supervisor},
    {apply, {supervisor, restart_child, [shop_sup, shop_stats]}}]}],
 [{"0.1.0",
   [{apply, {supervisor, terminate_child, [shop_sup, shop_stats]}},
    {apply, {supervisor, delete_child, [shop_sup, shop_stats]}},
    {update, shop_sup, supervisor},
    {update, shop_cart, {advanced, []}, [shop_price, shop_stats]},
    {add_module, shop_format, [shop_cart]},
    {load_module, shop_price, [shop_discount]},
    {delete_module, shop_stats},
    {delete_module, shop_discount}]}]}.
"""

# shop 0.2.0 (release 1.1.0) -> 0.3.0 (release 2.0.0), written for 0.2.0 only.
SHOP_030_FROM_020 = """{"0.3.0",
 [{"0.2.0",
   [{add_module, shop_tax},
    {load_module, shop_price, [shop_tax]},
    {update, shop_cart, {advanced, []}, [shop_price]},
    {delete_module, shop_discount, [shop_cart, shop_price]}]}],
 [{"0.2.0",
   [{update, shop_cart, {advanced, []}, [shop_price]},
    {load_module, shop_price, [shop_tax]},
    {add_module, shop_discount, [shop_cart, shop_price]},
    {delete_module, shop_tax}]}]}.
"""


@pytest.fixture(scope="module")
def shop():
    return {vsn: open_release(tarball("shop", vsn)) for vsn in ("1.0.0", "1.1.0", "2.0.0")}


class Systools:
    """The shop releases unpacked once; :meth:`accepts` runs ``systools:make_relup`` on an appup."""

    def __init__(self, root) -> None:
        self.root = root
        self.dirs = {}
        for vsn in ("1.0.0", "1.1.0", "2.0.0"):
            self.dirs[vsn] = root / vsn
            extract(tarball("shop", vsn), self.dirs[vsn])

    def accepts(self, appup_text: str, top: str, bases: list, shop_vsn: str) -> bool:
        top_dir = self.dirs[top]
        (top_dir / "lib" / f"shop-{shop_vsn}" / "ebin" / "shop.appup").write_text(appup_text, encoding="utf-8")
        out = self.root / "out"
        out.mkdir(exist_ok=True)
        paths = ",".join(str(self.dirs[v] / "lib" / "*" / "ebin") for v in [top, *bases])
        rels = ",".join(str(self.dirs[v] / "releases" / v / "shop") for v in bases)
        try:
            run_escript("make_relup.escript", str(out), str(top_dir / "releases" / top / "shop"), rels, paths)
        except RuntimeError:
            return False
        return True


@pytest.fixture(scope="module")
def systools(tmp_path_factory):
    return Systools(tmp_path_factory.mktemp("shop-releases"))


def check(text: str, shop: dict, top: str = "1.1.0", bases: tuple = ("1.0.0",)) -> list:
    current = shop[top]
    previous = [shop[v].app("shop") for v in bases]
    source = f"lib/shop-{current.app_versions['shop']}/ebin/shop.appup"
    return check_appup(parse_one(text, source), previous, current.app("shop"), source, release_apps=current.apps)


def summary(findings: list) -> set:
    return {(f.severity, f.code, f.direction) for f in findings}


def test_a_correct_hand_written_appup_passes(shop, systools):
    assert check(SHOP_020, shop) == []
    assert systools.accepts(SHOP_020, "1.1.0", ["1.0.0"], "0.2.0")


def _drop(text: str, instr: str) -> str:
    """``text`` without the list element ``instr`` (and the comma that separated it)."""
    m = re.search(re.escape(instr) + r"\s*,\s*", text) or re.search(r",\s*" + re.escape(instr), text)
    assert m is not None, instr
    return text[: m.start()] + text[m.end() :]


def _sub(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count)


PLANTED = {
    # A changed library the upgrade forgets (and the DepMods naming it).
    "missing module": (
        lambda t: _sub(
            _drop(t, "{load_module, shop_price, [shop_discount]}"), "[shop_price, shop_stats]", "[shop_stats]"
        ),
        {("error", "missing_module", "up")},
        True,
    ),
    "unknown module": (
        lambda t: _sub(t, "{add_module, shop_stats},", "{add_module, shop_stats},\n    {load_module, shop_basket},"),
        {("error", "unknown_module", "up")},
        False,  # systools: no_such_module
    ),
    # The cart first and no DepMods: its new code runs before the price module it calls exists.
    "wrong order": (
        lambda t: _sub(
            _sub(
                t,
                "{add_module, shop_discount},",
                "{update, shop_cart, {advanced, []}},\n    {add_module, shop_discount},",
            ),
            "\n    {update, shop_cart, {advanced, []}, [shop_price, shop_stats]},",
            "",
        ),
        {("error", "wrong_order", "up")},
        True,
    ),
    "missing down": (
        lambda t: t[: t.index(' [{"0.1.0",\n   [{apply, {supervisor, terminate_child')] + " []}.\n",
        {("error", "no_relup", "down")},
        False,  # systools: no_relup
    ),
    # Down loads the old cart without converting its state back.
    "down not inverse": (
        lambda t: _sub(
            t,
            "{update, shop_cart, {advanced, []}, [shop_price, shop_stats]},\n    {add_module",
            "{load_module, shop_cart, [shop_price, shop_stats]},\n    {add_module",
        ),
        {("error", "not_inverse", "down"), ("warning", "state_not_converted", "down")},
        True,
    ),
    "down keeps the new child": (
        lambda t: _drop(
            _drop(t, "{apply, {supervisor, terminate_child, [shop_sup, shop_stats]}}"),
            "{apply, {supervisor, delete_child, [shop_sup, shop_stats]}}",
        ),
        {("error", "not_inverse", "down"), ("warning", "child_not_stopped", "down")},
        True,
    ),
    "syntax error": (
        lambda t: _sub(
            t,
            "{update, shop_cart, {advanced, []}, [shop_price, shop_stats]}",
            "{update, shop_cart, {advanced, []}, brutal, brutal_purge, [shop_price, shop_stats]}",
        ),
        {("error", "bad_purge_method", "up")},
        False,
    ),
    "supervisor loaded with load_module": (
        lambda t: _sub(t, "{update, shop_sup, supervisor}", "{load_module, shop_sup}", count=2),
        {("warning", "supervisor_loaded", "up"), ("warning", "supervisor_loaded", "down")},
        True,
    ),
    "new child never started": (
        lambda t: _drop(t, "{apply, {supervisor, restart_child, [shop_sup, shop_stats]}}"),
        {("warning", "child_not_started", "up")},
        True,
    ),
    "stale appup version": (
        lambda t: _sub(t, '{"0.2.0",', '{"0.1.9",'),
        {("error", "bad_vsn", None)},
        True,  # systools only warns (bad_vsn)
    ),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_each_planted_mistake_is_found(name, shop, systools):
    plant, expected, systools_accepts = PLANTED[name]
    text = plant(SHOP_020)
    findings = check(text, shop)
    assert summary(findings) == expected, "\n".join(str(f) for f in findings)
    for finding in findings:
        assert finding.app == "shop" and finding.source == "lib/shop-0.2.0/ebin/shop.appup"
        assert finding.message
        if finding.direction is not None:
            assert {finding.from_vsn, finding.to_vsn} == {"0.1.0", "0.2.0"}
    assert systools.accepts(text, "1.1.0", ["1.0.0"], "0.2.0") is systools_accepts


def test_an_entry_for_every_previous_version(shop, systools):
    assert check(SHOP_030_FROM_020, shop, "2.0.0", ("1.1.0",)) == []
    findings = check(SHOP_030_FROM_020, shop, "2.0.0", ("1.0.0", "1.1.0"))
    assert summary(findings) == {("error", "no_relup", "up"), ("error", "no_relup", "down")}
    assert {f.from_vsn if f.direction == "up" else f.to_vsn for f in findings} == {"0.1.0"}
    assert systools.accepts(SHOP_030_FROM_020, "2.0.0", ["1.1.0"], "0.3.0")
    assert not systools.accepts(SHOP_030_FROM_020, "2.0.0", ["1.0.0", "1.1.0"], "0.3.0")


@pytest.mark.parametrize(
    ("name", "top", "bases"),
    [
        ("shop", "1.1.0", ["1.0.0"]),
        ("shop", "2.0.0", ["1.1.0"]),
        ("shop", "2.0.0", ["1.0.0", "1.1.0"]),
        ("exshop", "0.2.0", ["0.1.0"]),
    ],
)
def test_generated_appups_pass(name, top, bases):
    current = open_release(tarball(name, top))
    previous = [open_release(tarball(name, v)) for v in bases]
    result = generate(previous, current)
    apps = result.apps if isinstance(result.apps, list) else list(result.apps.values())
    assert apps
    for app in apps:
        old = [p.app(app.name) for p in previous if app.name in p.app_versions]
        findings = check_appup(app.term, old, current.app(app.name), f"generated {app.name}", release_apps=current.apps)
        assert findings == [], "\n".join(str(f) for f in findings)
