# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The erlang.otp.appup action as a user runs it: real ``ansible``, real release tarballs.

Check mode, diff mode, idempotence, overrides (plain and Jinja2 templates), manifests as the
previous release, check mode of hand-written appups, and clear errors for bad input.
"""
from __future__ import annotations

import json
import shutil
import tarfile

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._archive import extract
from ansible_collections.erlang.otp.plugins.module_utils._release import open_release
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one

from tests.support.ansible import adhoc
from tests.support.otp import requires_erlang
from tests.support.releases import tarball

pytestmark = [pytest.mark.erlang, requires_erlang]


@pytest.fixture(scope="module")
def shop():
    return {vsn: tarball("shop", vsn) for vsn in ("1.0.0", "1.1.0", "2.0.0")}


def run(shop, tmp_path, *, previous=("1.0.0",), current="1.1.0", check=False, diff=False, **options) -> dict:
    args = {
        "previous": [str(shop.get(v, v)) if isinstance(v, str) else v for v in previous],
        "current": str(shop[current]),
    }
    if options.get("mode") != "check":
        args["dest"] = str(tmp_path / "appups")
    args.update(options)
    return adhoc("erlang.otp.appup", args, check=check, diff=diff)


def test_check_mode_writes_nothing_and_diff_shows_the_text(shop, tmp_path):
    result = run(shop, tmp_path, check=True, diff=True)
    assert result["changed"] is True
    assert not (tmp_path / "appups").exists()
    (diff,) = result["diff"]
    assert diff["before"] == ""
    assert diff["after"].startswith("%% coding: utf-8\n")
    assert parse_one(diff["after"], "diff")[0] == "0.2.0"

    written = run(shop, tmp_path, diff=True)
    assert written["changed"] is True
    assert (tmp_path / "appups" / "shop.appup").read_text(encoding="utf-8") == diff["after"]
    assert written["applications"]["shop"]["path"] == str(tmp_path / "appups" / "shop.appup")
    again = run(shop, tmp_path, diff=True)
    assert again["changed"] is False and "diff" not in again


def test_a_manifest_gives_the_same_appup_as_the_tarball(shop, tmp_path):
    manifest = json.loads(json.dumps(open_release(shop["1.0.0"]).manifest()))
    from_tarball = run(shop, tmp_path / "a")
    from_manifest = run(shop, tmp_path / "b", previous=[manifest])
    assert from_manifest["applications"]["shop"]["up"] == from_tarball["applications"]["shop"]["up"]
    written = [(tmp_path / d / "appups" / "shop.appup").read_bytes() for d in ("a", "b")]
    assert written[0] == written[1]


def test_plain_and_template_overrides(shop, tmp_path):
    overrides = tmp_path / "overrides"
    overrides.mkdir()
    # A template: the 0.1.0 entry is replaced, going up only, with an apply naming the versions.
    (overrides / "shop.appup.j2").write_text(
        '{"{{ vsn }}",\n'
        ' [{% for v in from_versions %}'
        '{"{{ v }}", [{apply, {io, format, ["{{ app }} {{ greeting }} ~s~n", ["{{ v }}"]]}}]}'
        "{% if not loop.last %},{% endif %}{% endfor %}],\n"
        " []}.\n",
        encoding="utf-8",
    )
    undefined = run(shop, tmp_path, overrides=str(overrides))
    assert undefined["failed"] is True and "greeting" in undefined["msg"]
    assert not (tmp_path / "appups").exists()
    templated = adhoc(
        "erlang.otp.appup",
        {"previous": [str(shop["1.0.0"])], "current": str(shop["1.1.0"]), "dest": str(tmp_path / "t"),
         "overrides": str(overrides)},
        extra_vars={"greeting": "hello"},
    )
    assert not templated.get("failed"), templated
    shop_app = templated["applications"]["shop"]
    assert shop_app["sources"]["0.1.0"] == {"up": "override", "down": "generated"}
    assert shop_app["up"]["0.1.0"] == ['{apply,{io,format,["shop hello ~s~n",["0.1.0"]]}}']
    assert shop_app["override"].endswith("shop.appup.j2")

    # A plain override for another application version does not apply.
    (overrides / "shop.appup.j2").unlink()
    (overrides / "shop.appup").write_text('{"9.9.9", [], []}.\n', encoding="utf-8")
    other = run(shop, tmp_path / "o", overrides=str(overrides))
    assert other["applications"]["shop"]["sources"]["0.1.0"] == {"up": "generated", "down": "generated"}


def test_check_mode_accepts_generated_appups_and_finds_a_planted_mistake(shop, tmp_path):
    generated = run(shop, tmp_path)
    assert generated["changed"] is True
    overrides = tmp_path / "appups"
    good = run(shop, tmp_path, mode="check", overrides=str(overrides))
    assert not good.get("failed"), good
    assert good["applications"]["shop"]["findings"] == []
    assert not (tmp_path / "appups" / "shop.appup.bak").exists()

    text = (overrides / "shop.appup").read_text(encoding="utf-8")
    broken = text.replace("{delete_module,shop_format,", "{delete_module,shop_formatt,", 1)
    assert broken != text
    (overrides / "shop.appup").write_text(broken, encoding="utf-8")
    bad = run(shop, tmp_path, mode="check", overrides=str(overrides))
    assert bad["failed"] is True
    assert "shop_formatt" in bad["msg"] and "shop_format" in bad["msg"]
    codes = {f["code"] for f in bad["applications"]["shop"]["findings"]}
    assert {"unknown_module", "missing_module"} <= codes


def test_check_mode_without_any_appup_fails_clearly(shop, tmp_path):
    result = run(shop, tmp_path, mode="check")
    assert result["failed"] is True
    assert "shop 0.2.0: no appup" in result["msg"]


def test_bad_input_is_named_and_nothing_is_written(shop, tmp_path):
    missing = run(shop, tmp_path, previous=[str(tmp_path / "nope.tar.gz")])
    assert missing["failed"] is True and "nope.tar.gz" in missing["msg"]

    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        payload = tmp_path / "payload"
        payload.write_text("x")
        tar.add(payload, arcname="../../etc/evil")
    slip = run(shop, tmp_path, previous=[str(evil)])
    assert slip["failed"] is True and "evil.tar.gz" in slip["msg"] and "../../etc/evil" in slip["msg"]
    assert not (tmp_path / "appups").exists()


def test_changed_code_without_a_version_bump_is_refused(shop, tmp_path):
    """shop 1.1.0's code relabelled as release 1.0.1 with the 1.0.0 application versions."""
    root = tmp_path / "shop-1.0.1"
    extract(shop["1.0.0"], root)
    old = open_release(root)
    new_ebin = tmp_path / "new"
    extract(shop["1.1.0"], new_ebin)
    shutil.copy(new_ebin / "lib" / "shop-0.2.0" / "ebin" / "shop_price.beam",
                root / "lib" / f"shop-{old.app_versions['shop']}" / "ebin" / "shop_price.beam")
    reldir = root / "releases" / "1.0.0"
    rel = (reldir / "shop.rel").read_text(encoding="utf-8").replace('"1.0.0"', '"1.0.1"', 1)
    shutil.move(str(reldir), str(root / "releases" / "1.0.1"))
    (root / "releases" / "1.0.1" / "shop.rel").write_text(rel, encoding="utf-8")
    (root / "releases" / "start_erl.data").unlink(missing_ok=True)
    (root / "releases" / "RELEASES").unlink(missing_ok=True)
    result = adhoc(
        "erlang.otp.appup",
        {"previous": [str(shop["1.0.0"])], "current": str(root), "dest": str(tmp_path / "appups")},
    )
    assert result["failed"] is True
    assert "shop_price" in result["msg"] and "0.1.0" in result["msg"]
    assert not (tmp_path / "appups").exists()


def test_purge_options_reach_the_instructions(shop, tmp_path):
    result = run(shop, tmp_path, purge={"post": "soft_purge", "modules": {"shop_cart": {"pre": "soft_purge"}}})
    up = result["applications"]["shop"]["up"]["0.1.0"]
    (cart,) = [i for i in up if i.startswith("{update,shop_cart,")]
    assert ",soft_purge,soft_purge," in cart  # its own pre, the default post
    (price,) = [i for i in up if i.startswith("{load_module,shop_price,")]
    assert ",brutal_purge,soft_purge," in price
    bad = run(shop, tmp_path / "bad", purge={"modules": {"shop_cart": {"pre": "gentle"}}})
    assert bad["failed"] is True and "purge.modules.shop_cart.pre" in bad["msg"] and "gentle" in bad["msg"]
