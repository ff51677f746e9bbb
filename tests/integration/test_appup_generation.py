# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Appup generation (_appup.generate) on the real sample releases (tests/releases/README.md).

What each pair must produce follows from the fixture sources: which modules changed, were added
or removed, what calls what, which supervisor gains which child. The appups are checked
semantically (instructions, DepMods, the order systools will use, supervisor child calls,
consolidated protocols); ``tests/erlang/test_appup_systools.py`` compiles them with systools, and
the lead's live tests install them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._appup import DOWN, UP, generate, systools_order
from ansible_collections.erlang.otp.plugins.module_utils._release import Release, open_release, release_from_manifest
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support import releases
from tests.support.otp import have_erlang

pytestmark = [pytest.mark.erlang, pytest.mark.skipif(not have_erlang(), reason="Erlang/OTP is not installed")]

A = Atom
SAME = (A("brutal_purge"), A("brutal_purge"))


def _tarball(name: str, vsn: str) -> Path:
    why = releases.tool_missing(releases.release(name, vsn).kind)
    if why:
        pytest.skip(f"cannot build {name} {vsn}: {why}")
    return releases.tarball(name, vsn)


@pytest.fixture(scope="module")
def opened():
    cache: Dict[str, Release] = {}

    def get(name: str, vsn: str) -> Release:
        key = f"{name}-{vsn}"
        if key not in cache:
            cache[key] = open_release(_tarball(name, vsn))
        return cache[key]

    return get


def by_module(instrs: list) -> dict:
    return {str(i[1]): i for i in instrs if isinstance(i, tuple) and str(i[0]) != "apply"}


def applies(instrs: list) -> list:
    return [i for i in instrs if isinstance(i, tuple) and str(i[0]) == "apply"]


def deps(instr: tuple) -> set:
    return {str(d) for d in instr[-1]}


def assert_inverse(up: list, down: list) -> None:
    """Down = up reversed with add/delete swapped (code instructions; child calls checked apart)."""
    swap = {"add_module": "delete_module", "delete_module": "add_module"}
    code_up = [(swap.get(str(i[0]), str(i[0])), str(i[1])) for i in up if str(i[0]) != "apply"]
    code_down = [(str(i[0]), str(i[1])) for i in down if str(i[0]) != "apply"]
    assert code_down == code_up[::-1]


def test_shop_1_0_0_to_1_1_0(opened):
    result = generate([opened("shop", "1.0.0")], opened("shop", "1.1.0"))
    assert result.errors == []
    assert [a.name for a in result.apps] == ["shop"]
    assert result.added_apps == ["shop_audit"]
    assert result.removed_apps == []
    assert "shop_legacy" in result.unchanged_apps
    shop = result.app("shop")
    assert (shop.from_vsns, shop.to_vsn) == (["0.1.0"], "0.2.0")
    up, down = shop.up["0.1.0"], shop.down["0.1.0"]
    code = by_module(up)
    assert set(code) == {"shop_discount", "shop_stats", "shop_price", "shop_cart", "shop_format", "shop_sup"}
    assert "shop_app" not in code  # unchanged module of a changed application
    assert code["shop_discount"][:2] == (A("add_module"), A("shop_discount"))
    assert code["shop_stats"][:2] == (A("add_module"), A("shop_stats"))
    assert code["shop_format"][:2] == (A("delete_module"), A("shop_format"))
    assert code["shop_price"][:4] == (A("load_module"), A("shop_price"), *SAME)
    assert code["shop_cart"][:5] == (A("update"), A("shop_cart"), (A("advanced"), []), *SAME)
    assert {"shop_price", "shop_stats"} <= deps(code["shop_cart"])  # code_change calls shop_price:total/1
    assert "shop_discount" in deps(code["shop_price"])
    assert "shop_cart" in deps(code["shop_format"])  # the old cart calls shop_format: load the new one first
    assert code["shop_sup"] == (A("update"), A("shop_sup"), A("supervisor"))
    order = shop.order["0.1.0"][UP]
    assert order == systools_order(up, UP)
    assert order.index("shop_discount") < order.index("shop_price") < order.index("shop_cart")
    assert order.index("shop_stats") < order.index("shop_cart") < order.index("shop_format")
    # the new worker is started under its supervisor after all the code, by its child id
    restart = (A("apply"), (A("supervisor"), A("restart_child"), [A("shop_sup"), A("shop_stats")]))
    assert applies(up) == [restart]
    assert up[-1] == restart
    assert down[:2] == [
        (A("apply"), (A("supervisor"), A("terminate_child"), [A("shop_sup"), A("shop_stats")])),
        (A("apply"), (A("supervisor"), A("delete_child"), [A("shop_sup"), A("shop_stats")])),
    ]
    assert_inverse(up, down)
    down_code = by_module(down)
    assert down_code["shop_format"][:2] == (A("add_module"), A("shop_format"))
    assert down_code["shop_stats"][:2] == (A("delete_module"), A("shop_stats"))
    assert "shop_cart" in deps(down_code["shop_format"])  # old cart calls shop_format: re-add it first
    down_order = shop.order["0.1.0"][DOWN]
    assert down_order == systools_order(down, DOWN)
    assert down_order.index("shop_format") < down_order.index("shop_cart")
    assert down_order.index("shop_cart") < down_order.index("shop_stats")  # old cart first, then drop stats
    assert shop.warnings == []
    assert parse_one(shop.text(), "shop.appup") == shop.term


def test_shop_1_1_0_to_2_0_0(opened):
    result = generate([opened("shop", "1.1.0")], opened("shop", "2.0.0"))
    assert result.errors == []
    assert result.removed_apps == ["shop_legacy"]
    assert result.added_apps == []
    assert "shop_audit" in result.unchanged_apps
    shop = result.app("shop")
    assert (shop.from_vsns, shop.to_vsn) == (["0.2.0"], "0.3.0")
    up, down = shop.up["0.2.0"], shop.down["0.2.0"]
    code = by_module(up)
    assert set(code) == {"shop_tax", "shop_price", "shop_cart", "shop_discount"}  # sup, stats, app unchanged
    assert code["shop_tax"][:2] == (A("add_module"), A("shop_tax"))
    assert code["shop_discount"][:2] == (A("delete_module"), A("shop_discount"))
    assert "shop_tax" in deps(code["shop_price"])
    assert "shop_price" in deps(code["shop_cart"])
    assert "shop_audit" not in deps(code["shop_cart"])  # another application: never a DepMod
    assert "shop_price" in deps(code["shop_discount"])  # the old price calls discount
    order = shop.order["0.2.0"][UP]
    assert order.index("shop_tax") < order.index("shop_price") < order.index("shop_cart")
    assert order.index("shop_price") < order.index("shop_discount")
    assert applies(up) == applies(down) == []
    assert_inverse(up, down)


def test_shop_two_previous_versions(opened):
    result = generate([opened("shop", "1.0.0"), opened("shop", "1.1.0")], opened("shop", "2.0.0"))
    assert result.errors == []
    assert result.added_apps == ["shop_audit"]  # missing from 1.0.0
    assert result.removed_apps == ["shop_legacy"]
    shop = result.app("shop")
    assert shop.from_vsns == ["0.1.0", "0.2.0"]
    assert [k for k, _v in shop.term[1]] == [k for k, _v in shop.term[2]] == ["0.1.0", "0.2.0"]
    assert set(by_module(shop.up["0.1.0"])) == {"shop_stats", "shop_tax", "shop_price", "shop_cart", "shop_format",
                                                "shop_sup"}
    assert applies(shop.up["0.1.0"]) == [
        (A("apply"), (A("supervisor"), A("restart_child"), [A("shop_sup"), A("shop_stats")]))]
    alone = generate([opened("shop", "1.1.0")], opened("shop", "2.0.0")).app("shop")
    assert shop.up["0.2.0"] == alone.up["0.2.0"]
    assert shop.down["0.2.0"] == alone.down["0.2.0"]


def test_generation_from_manifests_equals_generation_from_tarballs(opened):
    manifests = [release_from_manifest(json.loads(json.dumps(opened("shop", v).manifest())), f"shop {v}")
                 for v in ("1.0.0", "1.1.0")]
    via = generate(manifests, opened("shop", "2.0.0")).to_dict()
    direct = generate([opened("shop", "1.0.0"), opened("shop", "1.1.0")], opened("shop", "2.0.0")).to_dict()
    assert via == direct


def test_exshop_0_1_0_to_0_2_0(opened):
    old, new = opened("exshop", "0.1.0"), opened("exshop", "0.2.0")
    result = generate([old], new)
    assert result.errors == []
    assert [a.name for a in result.apps] == ["exshop"]
    exshop = result.app("exshop")
    up, down = exshop.up["0.1.0"], exshop.down["0.1.0"]
    code = by_module(up)
    counter = code["Elixir.Exshop.Counter"]
    assert counter[:5] == (A("update"), A("Elixir.Exshop.Counter"), (A("advanced"), []), *SAME)  # use GenServer
    assert "Elixir.Exshop.Greeting" in deps(counter)
    assert code["Elixir.Exshop.Greeting"][:2] == (A("load_module"), A("Elixir.Exshop.Greeting"))
    assert code["Elixir.Exshop.Visit"][:2] == (A("add_module"), A("Elixir.Exshop.Visit"))
    assert "Elixir.Exshop.Supervisor" not in code  # unchanged: its child list is the same
    # consolidated protocols: loaded after the code, the new beams going up and the old ones going down
    for instrs, rel in ((up, new), (down, old)):
        loads = [i[1][2] for i in applies(instrs) if i[1][1] == A("load_binary")]
        loaded = {str(m): (path, data) for m, path, data in loads}
        assert set(loaded) == {"Elixir.Exshop.Describe", "Elixir.String.Chars"}
        for module, (path, data) in loaded.items():
            assert path == f"releases/{rel.vsn}/consolidated/{module}.beam"
            assert data == rel.source.read(path)
        last_code = max(i for i, instr in enumerate(instrs) if str(instr[0]) != "apply")
        first_apply = min(i for i, instr in enumerate(instrs) if str(instr[0]) == "apply")
        assert first_apply > last_code
    assert_inverse(up, down)


def test_release_manifest(opened):
    release = opened("shop", "1.1.0")
    manifest = release.manifest()
    text = json.dumps(manifest)
    assert len(text) < 100_000  # every OTP module included, still small
    facts = release_from_manifest(text, "shop 1.1.0 manifest")
    assert (facts.name, facts.vsn, facts.erts_vsn) == (release.name, release.vsn, release.erts_vsn)
    assert facts.app_versions == release.app_versions
    for app in release.apps:
        assert {m: f.md5 for m, f in facts.app(app.name).modules.items()} == {m: f.md5 for m, f in app.modules.items()}
    shop = facts.app("shop").modules
    cart = shop["shop_cart"]
    assert cart.behaviours == ["gen_server"]
    assert cart.exports_code_change and cart.is_special_process and not cart.is_supervisor
    assert {"shop_price", "shop_stats"} <= set(cart.imports)
    assert "gen_server" not in cart.imports  # only modules of the same application are kept
    children = shop["shop_sup"].supervisor_children
    assert children.complete
    assert [str(c) for c in children.ids] == ["shop_cart", "shop_stats"]
    assert str(children.registered_name) == "shop_sup"
