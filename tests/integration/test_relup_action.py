# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The erlang.otp.relup action as a user runs it: real ``ansible``, real release tarballs.

Every package is built with no Erlang on ``PATH``, and its relup is compared with what OTP's
``systools:make_relup`` makes of the appups inside it. Also: check mode, diff mode, idempotence,
determinism (a manifest instead of the old tarball gives the same bytes), the verdicts, and clear
errors that write nothing.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._archive import extract
from ansible_collections.erlang.otp.plugins.module_utils._release import open_release
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse, parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import canonical

from tests.support.ansible import BIN, adhoc
from tests.support.otp import requires_erlang
from tests.support.releases import tarball
from tests.support.relup_package import systools_relup

pytestmark = [pytest.mark.erlang, requires_erlang]

#: A PATH with the test venv only: no erl, escript or erlc.
NO_ERLANG = {"PATH": str(BIN)}


def build(args: dict, *, check: bool = False, diff: bool = False) -> dict:
    assert shutil.which("erl", path=NO_ERLANG["PATH"]) is None
    return adhoc("erlang.otp.relup", args, check=check, diff=diff, env=NO_ERLANG)


@pytest.fixture(scope="module")
def shop():
    return {vsn: tarball("shop", vsn) for vsn in ("1.0.0", "1.1.0", "2.0.0")}


def members(path: Path) -> dict:
    with tarfile.open(path) as tar:
        return {
            m.name: (m.mode, m.mtime, m.type, tar.extractfile(m).read() if m.isreg() else m.linkname)
            for m in tar.getmembers()
        }


def relup_of(package: Path, vsn: str) -> object:
    with tarfile.open(package) as tar:
        return parse_one(tar.extractfile(f"releases/{vsn}/relup").read(), "relup")


def test_package_equals_systools_and_keeps_every_other_member(shop, tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    result = build({"current": str(shop["1.1.0"]), "previous": [str(shop["1.0.0"])], "dest": str(dest)})
    assert not result.get("failed"), result
    package = Path(result["dest"])
    assert package == dest / "shop-1.1.0.tar.gz"
    data = package.read_bytes()
    assert result["sha256"] == hashlib.sha256(data).hexdigest() and result["checksum"] == "sha256:" + result["sha256"]
    assert result["relup"] == "releases/1.1.0/relup"
    assert sorted(result["members_added"]) == ["lib/shop-0.2.0/ebin/shop.appup", "releases/1.1.0/relup"]
    assert result["hot_from"] == ["1.0.0"] and result["upgrades"]["1.0.0"]["reasons"] == []

    ours = relup_of(package, "1.1.0")
    reference, warnings = systools_relup(package, [shop["1.0.0"]])
    assert canonical(ours) == canonical(reference)
    assert warnings == []
    assert [canonical(parse_one(i + ".", "i")) for i in result["upgrades"]["1.0.0"]["up"]] == [
        canonical(i) for i in reference[1][0][2]
    ]

    original, packed = members(shop["1.1.0"]), members(package)
    for name, header in original.items():
        assert packed[name] == header, name
    assert set(packed) - set(original) == set(result["members_added"])


def test_check_mode_diff_and_idempotence(shop, tmp_path):
    args = {"current": str(shop["1.1.0"]), "previous": [str(shop["1.0.0"])], "dest": str(tmp_path / "p.tar.gz")}
    checked = build(args, check=True, diff=True)
    assert checked["changed"] is True
    assert not (tmp_path / "p.tar.gz").exists()
    assert list(tmp_path.iterdir()) == [], "check mode leaves no temporary file behind"
    headers = [d["after_header"] for d in checked["diff"]]
    assert headers == ["lib/shop-0.2.0/ebin/shop.appup", "releases/1.1.0/relup"]
    relup_diff = checked["diff"][1]
    assert relup_diff["before"] == "" and relup_diff["after"].startswith("%% coding: utf-8\n")

    written = build(args, diff=True)
    assert written["changed"] is True and written["sha256"] == checked["sha256"]
    assert relup_of(tmp_path / "p.tar.gz", "1.1.0") == parse_one(relup_diff["after"], "diff")
    again = build(args, diff=True)
    assert again["changed"] is False and "diff" not in again
    assert again["sha256"] == written["sha256"]


def test_a_manifest_gives_the_same_bytes_as_the_old_tarball(shop, tmp_path):
    manifests = [json.loads(json.dumps(open_release(shop[v]).manifest())) for v in ("1.0.0", "1.1.0")]
    by_tarball = build({"current": str(shop["2.0.0"]), "previous": [str(shop["1.0.0"]), str(shop["1.1.0"])],
                        "dest": str(tmp_path / "a.tar.gz")})
    by_manifest = build({"current": str(shop["2.0.0"]), "previous": manifests, "dest": str(tmp_path / "b.tar.gz")})
    assert by_tarball["sha256"] == by_manifest["sha256"]
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    assert by_manifest["hot_from"] == ["1.0.0", "1.1.0"]
    ours = relup_of(tmp_path / "b.tar.gz", "2.0.0")
    reference, _warnings = systools_relup(tmp_path / "b.tar.gz", [shop["1.0.0"], shop["1.1.0"]])
    assert canonical(ours) == canonical(reference)
    assert [str(entry[0]) for entry in ours[1]] == ["1.1.0", "1.0.0"], "systools lists the bases in reverse"
    assert any("shop_legacy" in i for i in by_manifest["upgrades"]["1.0.0"]["up"])


def test_a_release_directory_as_current(shop, tmp_path):
    root = tmp_path / "shop"
    extract(shop["1.1.0"], root)
    (root / "log").mkdir()
    (root / "log" / "erlang.log.1").write_text("not part of a release")
    result = build({"current": str(root), "previous": [str(shop["1.0.0"])], "dest": str(tmp_path / "p.tar.gz")})
    assert result["hot_from"] == ["1.0.0"]
    packed = members(tmp_path / "p.tar.gz")
    assert not any(n.startswith("log") for n in packed)
    assert canonical(relup_of(tmp_path / "p.tar.gz", "1.1.0")) == canonical(
        systools_relup(tmp_path / "p.tar.gz", [shop["1.0.0"]])[0]
    )


def test_a_release_without_bundled_libraries_is_not_hot_and_has_no_relup(tmp_path):
    old, new = tarball("shop_noerts", "1.0.0"), tarball("shop_noerts", "1.1.0")
    result = build({"current": str(new), "previous": [str(old)], "dest": str(tmp_path / "p.tar.gz")})
    assert not result.get("failed"), result
    assert result["hot_from"] == [] and result["relup"] is None
    reasons = " ".join(result["upgrades"]["1.0.0"]["reasons"])
    assert "does not bundle kernel" in reasons
    assert result["members_added"] == ["lib/shop-0.2.0/ebin/shop.appup"]


def test_exshop_package_equals_systools(tmp_path):
    old, new = tarball("exshop", "0.1.0"), tarball("exshop", "0.2.0")
    result = build({"current": str(new), "previous": [str(old)], "dest": str(tmp_path / "p.tar.gz")})
    assert result["hot_from"] == ["0.1.0"], result["upgrades"]
    ours = relup_of(tmp_path / "p.tar.gz", "0.2.0")
    assert canonical(ours) == canonical(systools_relup(tmp_path / "p.tar.gz", [old])[0])


@pytest.mark.parametrize(
    ("appup", "message"),
    [
        ('{"0.2.0", [{"0.1.0", [point_of_no_return, point_of_no_return]}], [{"0.1.0", []}]}.\n',
         r"point_of_no_return"),
        ('{"0.2.0", [{"0.1.0", [{load_module, shop_price, [no_such_mod]}]}], [{"0.1.0", []}]}.\n', "no_such_mod"),
        ('{"0.2.0", [{"0.1.0", [{load_module, shop_price}, {load_module, shop_price}]}], [{"0.1.0", []}]}.\n',
         "shop_price"),
    ],
    ids=["two points of no return", "undefined module in DepMods", "module twice"],
)
def test_bad_overrides_fail_clearly_and_write_nothing(shop, tmp_path, appup, message):
    overrides = tmp_path / "overrides"
    overrides.mkdir()
    (overrides / "shop.appup").write_text(appup, encoding="utf-8")
    dest = tmp_path / "p.tar.gz"
    result = build({"current": str(shop["1.1.0"]), "previous": [str(shop["1.0.0"])], "dest": str(dest),
                    "overrides": str(overrides)})
    assert result.get("failed"), result
    assert re.search(message, result["msg"]), result["msg"]
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overrides"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"previous": ["/nonexistent/shop-1.0.0.tar.gz"]},
         "previous[0]: /nonexistent/shop-1.0.0.tar.gz does not exist"),
        ({"previous": ["@1.1.0"]}, "previous[0]: version 1.1.0 is the version of current"),
        ({"dest": "/nonexistent/dir/p.tar.gz"}, "dest: the directory /nonexistent/dir does not exist"),
    ],
)
def test_bad_arguments_name_the_value(shop, tmp_path, args, message):
    full = {"current": str(shop["1.1.0"]), "previous": [str(shop["1.0.0"])], "dest": str(tmp_path / "p.tar.gz")}
    full.update(args)
    full["previous"] = [str(shop[p[1:]]) if p.startswith("@") else p for p in full["previous"]]
    result = build(full)
    assert result.get("failed") and message in result["msg"], result
    assert not (tmp_path / "p.tar.gz").exists()


def test_the_written_relup_is_what_erlang_reads(shop, tmp_path):
    """The relup file parses as one term, with systools' coding header (release_handler consults it)."""
    build({"current": str(shop["1.1.0"]), "previous": [str(shop["1.0.0"])], "dest": str(tmp_path / "p.tar.gz")})
    with tarfile.open(tmp_path / "p.tar.gz") as tar:
        text = tar.extractfile("releases/1.1.0/relup").read().decode("utf-8")
    assert text.startswith("%% coding: utf-8\n")
    assert len(parse(text, "relup")) == 1
