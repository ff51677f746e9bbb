# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generated appups and relups proven on live nodes.

Each test generates appups with the real ``erlang.otp.appup`` action (``ansible localhost``),
builds the upgrade package with the real ``erlang.otp.relup`` action with no Erlang on ``PATH``
(its relup must equal what OTP's ``systools:make_relup`` makes of the same appups), installs the
package on a running release node with ``release_handler``, and checks that the gen_server
processes survive with their state converted, then downgrades and checks again.
"""
from __future__ import annotations

import shutil
import tarfile
from pathlib import Path
from typing import Dict, List

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import canonical

from tests.support.ansible import BIN, adhoc
from tests.support.relup_package import systools_relup

pytestmark = pytest.mark.fleet


def generate(previous: List[Path], current: Path, dest: Path, **options) -> dict:
    args = {"previous": [str(p) for p in previous], "current": str(current), "dest": str(dest), **options}
    result = adhoc("erlang.otp.appup", args)
    assert not result.get("failed"), result
    return result


def build_package(previous: List[Path], current: Path, dest: Path, appups: Path) -> Path:
    """The upgrade package, built by erlang.otp.relup with no Erlang on PATH, checked against systools."""
    dest.mkdir(parents=True, exist_ok=True)
    args = {"previous": [str(p) for p in previous], "current": str(current), "dest": str(dest)}
    result = adhoc("erlang.otp.relup", args, env={"PATH": str(BIN)})
    assert not result.get("failed"), result
    assert sorted(result["hot_from"]) == sorted(result["upgrades"]), result["upgrades"]
    package = Path(result["dest"])
    with tarfile.open(package) as tar:
        for path in sorted(appups.glob("*.appup")):
            member = next(m for m in tar.getnames() if m.endswith(f"/ebin/{path.name}"))
            assert tar.extractfile(member).read().split(b"\n", 2)[2] == path.read_bytes().split(b"\n", 2)[2], (
                "the package holds the appup erlang.otp.appup generates"
            )
        ours = parse_one(tar.extractfile(result["relup"]).read(), "relup")
    reference, _warnings = systools_relup(package, previous)
    assert canonical(ours) == canonical(reference)
    return package


def stage(fleet, host: str, package: Path, name: str, vsn: str) -> None:
    """Put the package where ``unpack_release("<vsn>/<name>")`` looks for it."""
    target = fleet.nodes[host].root / "releases" / vsn
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(package, target / f"{name}.tar.gz")


# -- shop (rebar3/relx) ---------------------------------------------------------------------------


# The version the node runs: release_handler's current release, else its permanent one.
RUNNING_VERSION = (
    "element(2, hd([R || R <- release_handler:which_releases(),"
    " element(4, R) =:= current orelse element(4, R) =:= permanent]))"
)


def erl(fleet, host: str, expr: str) -> str:
    """An Erlang expression's result on ``host``, as erl_call prints it, without spaces."""
    return fleet.eval(host, expr).replace(" ", "")


def shop_probe(fleet, host: str) -> Dict[str, str]:
    """What the tests compare across an upgrade: the cart's pid, code, state shape and items."""
    return {
        "pid": erl(fleet, host, "pid_to_list(shop_cart:pid())"),
        "code": erl(fleet, host, "shop_cart:code_version()"),
        "shape": erl(fleet, host, "tuple_size(shop_cart:state())"),
        "items": erl(fleet, host, "shop_cart:items()"),
        "stats_child": erl(fleet, host, "lists:keymember(shop_stats, 1, supervisor:which_children(shop_sup))"),
        "release": erl(fleet, host, RUNNING_VERSION),
    }


def install(fleet, host: str, vsn: str, *, unpack: str = "") -> None:
    if unpack:
        assert erl(fleet, host, f'release_handler:unpack_release("{unpack}")') == f'{{ok,"{vsn}"}}'
    out = erl(fleet, host, f'release_handler:install_release("{vsn}")')
    assert out.startswith("{ok,"), out
    assert erl(fleet, host, f'release_handler:make_permanent("{vsn}")') == "ok"


def test_shop_up_and_down_with_generated_appups(fleet_factory, release_tarball, tmp_path):
    v1, v2 = release_tarball("shop", "1.0.0"), release_tarball("shop", "1.1.0")
    dest = tmp_path / "appups"
    result = generate([v1], v2, dest)
    assert result["changed"] is True
    assert set(result["applications"]) == {"shop"}
    assert result["added_applications"] == ["shop_audit"]
    again = generate([v1], v2, dest)
    assert again["changed"] is False, "a second run must not rewrite identical appups"

    package = build_package([v1], v2, tmp_path / "package", dest)
    fleet = fleet_factory("shop", "1.0.0", nodes=1)
    host = fleet.hosts[0]
    erl(fleet, host, "shop_cart:add(apple, 2)")
    erl(fleet, host, "shop_cart:add(pear, 1)")
    before = shop_probe(fleet, host)
    assert (before["code"], before["shape"], before["stats_child"]) == ("1", "2", "false")

    stage(fleet, host, package, "shop", "1.1.0")
    install(fleet, host, "1.1.0", unpack="1.1.0/shop")
    up = shop_probe(fleet, host)
    assert up["pid"] == before["pid"], "the cart process must survive the hot upgrade"
    assert (up["code"], up["shape"], up["items"]) == ("2", "3", before["items"])
    assert up["stats_child"] == "true", "the supervisor's new child must be started"
    assert erl(fleet, host, "shop_cart:total() > 0") == "true", "code_change computed the total with the new library"
    assert up["release"] == '"1.1.0"'

    install(fleet, host, "1.0.0")
    down = shop_probe(fleet, host)
    assert down["pid"] == before["pid"], "the cart process must survive the downgrade"
    assert (down["code"], down["shape"], down["items"]) == ("1", "2", before["items"])
    assert down["stats_child"] == "false", "the child added by the upgrade must be gone"
    assert down["release"] == '"1.0.0"'


def test_shop_two_previous_versions_in_one_appup(fleet_factory, release_tarball, tmp_path):
    """2.0.0's appup serves nodes on 1.0.0 and on 1.1.0 alike; both go up and come back down."""
    v1, v2, v3 = (release_tarball("shop", v) for v in ("1.0.0", "1.1.0", "2.0.0"))
    dest = tmp_path / "appups"
    result = generate([v1, v2], v3, dest)
    shop = result["applications"]["shop"]
    assert shop["from"] == ["0.1.0", "0.2.0"] and shop["to"] == "0.3.0"
    assert result["removed_applications"] == ["shop_legacy"]
    package = build_package([v1, v2], v3, tmp_path / "package", dest)

    for start in ("1.0.0", "1.1.0"):
        fleet = fleet_factory("shop", start, nodes=1)
        host = fleet.hosts[0]
        erl(fleet, host, "shop_cart:add(apple, 3)")
        before = shop_probe(fleet, host)
        stage(fleet, host, package, "shop", "2.0.0")
        install(fleet, host, "2.0.0", unpack="2.0.0/shop")
        up = shop_probe(fleet, host)
        assert up["pid"] == before["pid"], f"from {start}"
        assert (up["code"], up["shape"], up["release"]) == ("3", "4", '"2.0.0"'), f"from {start}"
        assert up["stats_child"] == "true"
        assert erl(fleet, host, "lists:keymember(shop_legacy, 1, application:which_applications())") == "false"
        assert erl(fleet, host, "lists:keymember(shop_audit, 1, application:which_applications())") == "true"
        install(fleet, host, start)
        down = shop_probe(fleet, host)
        assert down["pid"] == before["pid"], f"back to {start}"
        assert (down["code"], down["shape"], down["items"]) == (before["code"], before["shape"], before["items"])
        fleet.stop()


# -- exshop (mix release) -------------------------------------------------------------------------


def ex(fleet, host: str, expr: str) -> str:
    return fleet.eval(host, f"IO.inspect({expr}, limit: :infinity)")


def test_exshop_consolidated_protocols_and_state(fleet_factory, release_tarball, tmp_path):
    v1, v2 = release_tarball("exshop", "0.1.0"), release_tarball("exshop", "0.2.0")
    dest = tmp_path / "appups"
    result = generate([v1], v2, dest)
    exshop = result["applications"]["exshop"]
    assert exshop["from"] == ["0.1.0"] and exshop["to"] == "0.2.0"
    package = build_package([v1], v2, tmp_path / "package", dest)

    fleet = fleet_factory("exshop", "0.1.0", nodes=1)
    host = fleet.hosts[0]
    root = fleet.nodes[host].root
    # A mix release ships no RELEASES: create it, then restart release_handler so it reloads it.
    ex(fleet, host, (
        f':release_handler.create_RELEASES(~c"{root}", ~c"{root}/releases", ~c"{root}/releases/0.1.0/exshop.rel", [])'
    ))
    ex(fleet, host, "Supervisor.terminate_child(:sasl_sup, :release_handler)")
    ex(fleet, host, "Supervisor.restart_child(:sasl_sup, :release_handler)")
    for _unused in range(3):
        ex(fleet, host, "Exshop.Counter.bump()")
    pid = ex(fleet, host, "Exshop.Counter.pid()")
    assert ex(fleet, host, "Exshop.Counter.state()") == "3"

    stage(fleet, host, package, "exshop", "0.2.0")
    cookie = (root / "releases" / "COOKIE").read_bytes()
    assert ex(fleet, host, ':release_handler.unpack_release(~c"0.2.0/exshop")') == "{:ok, '0.2.0'}"
    # mix traps (issue 5 automates them): the tarball's random COOKIE replaced the node's, and the
    # node's name lives in each version's env.sh, which bin/exshop reads for the permanent version.
    (root / "releases" / "COOKIE").write_bytes(cookie)
    shutil.copy(root / "releases" / "0.1.0" / "env.sh", root / "releases" / "0.2.0" / "env.sh")
    assert ex(fleet, host, ':release_handler.install_release(~c"0.2.0")').startswith("{:ok,")
    assert ex(fleet, host, "Exshop.Counter.pid()") == pid
    assert ex(fleet, host, "Exshop.Counter.state()") == "%{count: 3, recent: []}"
    assert ex(fleet, host, "Exshop.Counter.code_version()") == "2"
    # The consolidated protocols of 0.2.0 are loaded: both the app's own and Elixir's String.Chars.
    assert ex(fleet, host, "Exshop.Describe.describe(struct(Exshop.Visit, at: 7))") == '"visit at 7"'
    assert ex(fleet, host, "to_string(struct(Exshop.Visit, at: 7))") == '"visit@7"'
    assert ex(fleet, host, ':release_handler.make_permanent(~c"0.2.0")') == ":ok"

    assert ex(fleet, host, ':release_handler.install_release(~c"0.1.0")').startswith("{:ok,")
    assert ex(fleet, host, "Exshop.Counter.pid()") == pid
    assert ex(fleet, host, "Exshop.Counter.state()") == "3"
    assert ex(fleet, host, "Exshop.Describe.describe(3)") == '"3 visits"'
    assert ex(fleet, host, "Code.ensure_loaded?(Exshop.Visit)") == "false"
