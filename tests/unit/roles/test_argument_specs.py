# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role's argument specs, defaults and the plan action agree on the inventory contract."""
from __future__ import annotations

from pathlib import Path

import yaml
from ansible_collections.erlang.otp.plugins.action.upgrade_plan import DEFAULTS

ROLE = Path(__file__).resolve().parents[3] / "roles" / "upgrade"
SPECS = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
ROLE_DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))

#: the inventory contract of the issue: these names are public and must not change
CONTRACT = {
    "otp_release_name", "otp_release_root", "otp_release_version", "otp_release_packages", "otp_release_node",
    "otp_release_cookie", "otp_release_strategy", "otp_release_serial", "otp_release_max_fail_percentage",
    "otp_release_health_check", "otp_release_keep", "otp_release_service", "otp_release_before_restart_tasks",
    "otp_release_after_restart_tasks",
}


def test_every_entry_point_takes_the_same_options():
    options = [spec["options"] for spec in SPECS.values()]
    assert set(SPECS) == {"main", "plan", "hot", "rolling", "summary"}
    assert all(o == options[0] for o in options)


def test_the_contract_is_documented():
    assert CONTRACT <= set(SPECS["main"]["options"])
    for name, option in SPECS["main"]["options"].items():
        assert name.startswith("otp_release_")
        assert option.get("description"), name


def test_defaults_are_the_optional_options_with_their_documented_values():
    options = SPECS["main"]["options"]
    optional = {name for name, option in options.items() if not option.get("required")}
    assert set(ROLE_DEFAULTS) == optional
    for name in optional:
        assert ROLE_DEFAULTS[name] == options[name]["default"], name


def test_the_plan_action_applies_the_same_defaults():
    for name, value in DEFAULTS.items():
        assert ROLE_DEFAULTS[name] == value, name


def test_the_cookie_is_secret():
    assert SPECS["main"]["options"]["otp_release_cookie"]["no_log"] is True
