# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for _appup_overrides: which override applies, and how it merges per version."""
from __future__ import annotations

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._appup_overrides import OverrideError, applies_to, merge
from ansible_collections.erlang.otp.plugins.module_utils._term_text import parse_one

GENERATED = parse_one(
    '{"2", [{"1", [{load_module, a}]}, {"1.5", [{load_module, b}]}],'
    ' [{"1", [{load_module, a}]}, {"1.5", [{load_module, b}]}]}.'
)


def term(text: str) -> tuple:
    return parse_one(text, "<override>")


@pytest.mark.parametrize(
    ("top", "vsn", "expected"),
    [('"2"', "2", True), ('"2"', "2.0", False), ('<<"2(\\\\..*)?">>', "2.0.1", True), ('<<"3.*">>', "2", False)],
)
def test_applies_to_the_version_or_a_matching_regex(top, vsn, expected):
    assert applies_to(term(f"{{{top}, [], []}}."), vsn, "x.appup") is expected


@pytest.mark.parametrize(
    "text", ['{"2", []}.', '{"2", [{"1"}], []}.', '{"2", [], [{"1", nope}]}.', "{two, [], []}."]
)
def test_a_malformed_override_names_its_file(text):
    with pytest.raises(OverrideError, match=r"shop\.appup"):
        applies_to(term(text), "2", "overrides/shop.appup")


def test_no_override_keeps_everything_generated():
    merged = merge(GENERATED, None)
    assert merged.term == GENERATED
    everything = {"up": "generated", "down": "generated"}
    assert merged.sources == {"1": everything, "1.5": everything}


def test_an_exact_entry_replaces_one_version_and_one_direction():
    override = term('{"2", [{"1", [{apply, {m, f, []}}]}], []}.')
    merged = merge(GENERATED, override)
    assert merged.term[1][0] == ("1", override[1][0][1])
    assert merged.term[1][1] == GENERATED[1][1]
    assert merged.term[2] == GENERATED[2]
    assert merged.sources["1"] == {"up": "override", "down": "generated"}
    assert merged.sources["1.5"] == {"up": "generated", "down": "generated"}


def test_a_regex_entry_serves_every_version_it_matches_and_stays_as_a_fallback():
    override = term('{"2", [{<<"1.*">>, [restart_new_emulator]}], [{<<"1.*">>, [restart_new_emulator]}]}.')
    merged = merge(GENERATED, override)
    up = merged.term[1]
    assert [key for key, _unused in up] == ["1", "1.5", b"1.*"]
    assert all(instrs == override[1][0][1] for _unused, instrs in up)
    assert merged.sources["1.5"] == {"up": "override", "down": "override"}


def test_override_entries_for_other_versions_are_kept_after_the_generated_ones():
    override = term('{"2", [{"0.9", [{load_module, old}]}], []}.')
    merged = merge(GENERATED, override)
    assert [key for key, _unused in merged.term[1]] == ["1", "1.5", "0.9"]
