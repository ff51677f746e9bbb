# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of ``_relup_script`` (the port of ``systools_rc:translate_scripts/4``).

Every expected script and error reason below was obtained by running the same input through
``systools_rc:translate_scripts/4`` of OTP 25.2.3 (``tests/erlang/rc_translate.escript``);
``tests/erlang/test_relup_script_vs_systools.py`` re-checks them against the installed OTP, with
many more cases. The error messages are our own (not systools' ``format_error`` text): the tests
check that they name the module, application, instruction or version at fault and say what to
do. The scenarios follow the behaviours OTP's own ``systools_rc_SUITE`` checks (syntax,
translation and dependency order, application instructions, emulator restarts, module additions
and deletions), stated here with our own applications and modules.
"""

from __future__ import annotations

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._relup_script import (
    Appl,
    RelupScriptError,
    format_error,
    translate_scripts,
    translate_scripts_ordered,
)
from ansible_collections.erlang.otp.plugins.module_utils._term_text import format_term, parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, ImproperList, canonical

A = Atom

SHOP = [Appl("shop", "2.0", "permanent", ["cart", "till", "stock", "p", "q", "r"])]
OLD_SHOP = Appl("shop", "1.0", "permanent", ["cart", "till", "stock"])
PAY = Appl("pay", "1.0", "permanent", ["pay_api", "pay_srv"])


def _t(text: str) -> object:
    return parse_one(text + ".", "test")


def _run(mode: str, appls: list, pre: list, scripts: str) -> list:
    return translate_scripts(mode, _t(scripts), appls, pre)


def _error(mode: str, appls: list, pre: list, scripts: str) -> RelupScriptError:
    with pytest.raises(RelupScriptError) as info:
        _run(mode, appls, pre, scripts)
    return info.value


def _same(got: object, expected: str) -> None:
    assert canonical(got) == canonical(_t(expected)), got


# ------------------------------------------------------------------------------------------------
# Translation of updates: suspend, load, code_change, resume; static and dynamic modules
# ------------------------------------------------------------------------------------------------

UPDATES = [
    (
        "a soft update suspends, loads with its purge methods and resumes",
        "up",
        "[[{update, cart, soft, soft_purge, soft_purge, []}]]",
        '[{load_object_code,{shop,"2.0",[cart]}}, point_of_no_return, {suspend,[cart]},'
        " {load,{cart,soft_purge,soft_purge}}, {resume,[cart]}]",
    ),
    (
        "an advanced update changes code after loading going up",
        "up",
        "[[{update, cart, {advanced, state_v2}, soft_purge, brutal_purge, []}]]",
        '[{load_object_code,{shop,"2.0",[cart]}}, point_of_no_return, {suspend,[cart]},'
        " {load,{cart,soft_purge,brutal_purge}}, {code_change,up,[{cart,state_v2}]}, {resume,[cart]}]",
    ),
    (
        "a dynamic advanced update changes code before loading going down",
        "dn",
        "[[{update, cart, {advanced, state_v2}, soft_purge, brutal_purge, []}]]",
        '[{load_object_code,{shop,"2.0",[cart]}}, point_of_no_return, {suspend,[cart]},'
        " {code_change,down,[{cart,state_v2}]}, {load,{cart,soft_purge,brutal_purge}}, {resume,[cart]}]",
    ),
    (
        "a static advanced update changes code after loading going up",
        "up",
        "[[{update, cart, static, default, {advanced, state_v2}, soft_purge, soft_purge, []}]]",
        '[{load_object_code,{shop,"2.0",[cart]}}, point_of_no_return, {suspend,[cart]},'
        " {load,{cart,soft_purge,soft_purge}}, {code_change,up,[{cart,state_v2}]}, {resume,[cart]}]",
    ),
    (
        "a static advanced update changes code after loading going down too",
        "dn",
        "[[{update, cart, static, default, {advanced, state_v2}, soft_purge, soft_purge, []}]]",
        '[{load_object_code,{shop,"2.0",[cart]}}, point_of_no_return, {suspend,[cart]},'
        " {load,{cart,soft_purge,soft_purge}}, {code_change,down,[{cart,state_v2}]}, {resume,[cart]}]",
    ),
    (
        "going up, a dependency is loaded before its dependent; resume is the reverse of suspend",
        "up",
        "[[{update, till, soft, soft_purge, soft_purge, [cart]}, {update, cart, soft, soft_purge, soft_purge, []}]]",
        '[{load_object_code,{shop,"2.0",[till,cart]}}, point_of_no_return, {suspend,[till,cart]},'
        " {load,{cart,soft_purge,soft_purge}}, {load,{till,soft_purge,soft_purge}}, {resume,[cart,till]}]",
    ),
    (
        "going down, the dependent is loaded first",
        "dn",
        "[[{update, till, soft, soft_purge, soft_purge, [cart]}, {update, cart, soft, soft_purge, soft_purge, []}]]",
        '[{load_object_code,{shop,"2.0",[till,cart]}}, point_of_no_return, {suspend,[till,cart]},'
        " {load,{till,soft_purge,soft_purge}}, {load,{cart,soft_purge,soft_purge}}, {resume,[cart,till]}]",
    ),
    (
        "timeouts other than default go into suspend; code_change lists follow dependency order",
        "up",
        "[[{update, till, dynamic, infinity, soft, soft_purge, soft_purge, [cart, stock]},"
        "  {update, cart, static, 7000, {advanced, []}, soft_purge, soft_purge, []},"
        "  {update, stock, dynamic, default, {advanced, st}, soft_purge, soft_purge, [cart]}]]",
        '[{load_object_code,{shop,"2.0",[till,stock,cart]}}, point_of_no_return,'
        " {suspend,[{till,infinity},stock,{cart,7000}]}, {load,{cart,soft_purge,soft_purge}},"
        " {load,{stock,soft_purge,soft_purge}}, {load,{till,soft_purge,soft_purge}},"
        " {code_change,up,[{stock,st},{cart,[]}]}, {resume,[cart,stock,till]}]",
    ),
    (
        "going down, dynamic modules change code before the loads and static ones after",
        "dn",
        "[[{update, till, dynamic, infinity, soft, soft_purge, soft_purge, [cart, stock]},"
        "  {update, cart, static, 7000, {advanced, []}, soft_purge, soft_purge, []},"
        "  {update, stock, dynamic, default, {advanced, st}, soft_purge, soft_purge, [cart]}]]",
        '[{load_object_code,{shop,"2.0",[till,stock,cart]}}, point_of_no_return,'
        " {suspend,[{till,infinity},stock,{cart,7000}]}, {code_change,down,[{stock,st}]},"
        " {load,{till,soft_purge,soft_purge}}, {load,{stock,soft_purge,soft_purge}},"
        " {load,{cart,soft_purge,soft_purge}}, {code_change,down,[{cart,[]}]}, {resume,[cart,stock,till]}]",
    ),
    (
        "a two-module cycle is ordered by position: the first is the dependent",
        "up",
        "[[{update, till, soft, soft_purge, soft_purge, [cart]},"
        "  {update, cart, soft, soft_purge, soft_purge, [till]}]]",
        '[{load_object_code,{shop,"2.0",[till,cart]}}, point_of_no_return, {suspend,[till,cart]},'
        " {load,{cart,soft_purge,soft_purge}}, {load,{till,soft_purge,soft_purge}}, {resume,[cart,till]}]",
    ),
    (
        "a three-module cycle, going down",
        "dn",
        "[[{update, till, soft, soft_purge, soft_purge, [cart, stock]},"
        "  {update, cart, soft, soft_purge, soft_purge, [till]},"
        "  {update, stock, soft, soft_purge, soft_purge, [cart]}]]",
        '[{load_object_code,{shop,"2.0",[till,cart,stock]}}, point_of_no_return, {suspend,[till,cart,stock]},'
        " {load,{till,soft_purge,soft_purge}}, {load,{cart,soft_purge,soft_purge}},"
        " {load,{stock,soft_purge,soft_purge}}, {resume,[stock,cart,till]}]",
    ),
    (
        "a dependency component is emitted at its first instruction, before unrelated ones between",
        "up",
        "[[{load_module, p}, {apply, {audit, note, [1]}}, {load_module, q, [p]}, {apply, {audit, note, [2]}},"
        "  {load_module, r}]]",
        '[{load_object_code,{shop,"2.0",[q,p,r]}}, point_of_no_return, {load,{p,brutal_purge,brutal_purge}},'
        " {load,{q,brutal_purge,brutal_purge}}, {apply,{audit,note,[1]}}, {apply,{audit,note,[2]}},"
        " {load,{r,brutal_purge,brutal_purge}}]",
    ),
]


@pytest.mark.parametrize(("mode", "scripts", "expected"), [u[1:] for u in UPDATES], ids=[u[0] for u in UPDATES])
def test_updates(mode: str, scripts: str, expected: str) -> None:
    _same(_run(mode, SHOP, [], scripts), expected)


# ------------------------------------------------------------------------------------------------
# Modules added and deleted, applications added, removed and restarted
# ------------------------------------------------------------------------------------------------

MODULES_AND_APPS = [
    (
        "added modules are loaded brutally, in script order",
        "up",
        SHOP,
        [],
        "[[{add_module, p}, {add_module, q}]]",
        '[{load_object_code,{shop,"2.0",[p,q]}}, point_of_no_return, {load,{p,brutal_purge,brutal_purge}},'
        " {load,{q,brutal_purge,brutal_purge}}]",
    ),
    (
        "a deleted module is removed and purged",
        "up",
        SHOP,
        [],
        "[[{delete_module, stock}]]",
        "[point_of_no_return, {remove,{stock,brutal_purge,brutal_purge}}, {purge,[stock]}]",
    ),
    (
        "add_module and delete_module take part in the dependency order (up)",
        "up",
        SHOP,
        [OLD_SHOP],
        "[[{add_module, p, [q]}, {add_module, q}, {delete_module, stock, [till]}, {load_module, till, [p]}]]",
        '[{load_object_code,{shop,"2.0",[till,p,q]}}, point_of_no_return, {load,{q,brutal_purge,brutal_purge}},'
        " {load,{p,brutal_purge,brutal_purge}}, {load,{till,brutal_purge,brutal_purge}},"
        " {remove,{stock,brutal_purge,brutal_purge}}, {purge,[stock]}]",
    ),
    (
        "add_module and delete_module take part in the dependency order (dn)",
        "dn",
        SHOP,
        [OLD_SHOP],
        "[[{add_module, p, [q]}, {add_module, q}, {delete_module, stock, [till]}, {load_module, till, [p]}]]",
        '[{load_object_code,{shop,"2.0",[till,p,q]}}, point_of_no_return,'
        " {remove,{stock,brutal_purge,brutal_purge}}, {purge,[stock]}, {load,{till,brutal_purge,brutal_purge}},"
        " {load,{p,brutal_purge,brutal_purge}}, {load,{q,brutal_purge,brutal_purge}}]",
    ),
    (
        "add_application without a type loads every module and starts it permanent",
        "up",
        [OLD_SHOP, PAY],
        [OLD_SHOP],
        "[[{add_application, pay}]]",
        '[{load_object_code,{pay,"1.0",[pay_api,pay_srv]}}, point_of_no_return,'
        " {load,{pay_api,brutal_purge,brutal_purge}}, {load,{pay_srv,brutal_purge,brutal_purge}},"
        " {apply,{application,start,[pay,permanent]}}]",
    ),
    (
        "add_application with a type starts with it; type load only loads the application",
        "up",
        [OLD_SHOP, PAY],
        [OLD_SHOP],
        "[[{add_application, pay, transient}], [{add_application, shop, load}]]",
        '[{load_object_code,{pay,"1.0",[pay_api,pay_srv]}}, {load_object_code,{shop,"1.0",[cart,till,stock]}},'
        " point_of_no_return, {load,{pay_api,brutal_purge,brutal_purge}},"
        " {load,{pay_srv,brutal_purge,brutal_purge}}, {apply,{application,start,[pay,transient]}},"
        " {load,{cart,brutal_purge,brutal_purge}}, {load,{till,brutal_purge,brutal_purge}},"
        " {load,{stock,brutal_purge,brutal_purge}}, {apply,{application,load,[shop]}}]",
    ),
    (
        "add_application of type none only loads the code",
        "up",
        [PAY],
        [],
        "[[{add_application, pay, none}]]",
        '[{load_object_code,{pay,"1.0",[pay_api,pay_srv]}}, point_of_no_return,'
        " {load,{pay_api,brutal_purge,brutal_purge}}, {load,{pay_srv,brutal_purge,brutal_purge}}]",
    ),
    (
        "remove_application stops, removes, purges and unloads (low-level, not dependency-sorted)",
        "up",
        [OLD_SHOP],
        [OLD_SHOP, PAY],
        "[[{remove_application, pay}]]",
        "[point_of_no_return, {apply,{application,stop,[pay]}}, {remove,{pay_api,brutal_purge,brutal_purge}},"
        " {remove,{pay_srv,brutal_purge,brutal_purge}}, {purge,[pay_api,pay_srv]},"
        " {apply,{application,unload,[pay]}}]",
    ),
    (
        "restart_application removes the old modules and loads the new ones",
        "up",
        SHOP,
        [OLD_SHOP],
        "[[{restart_application, shop}]]",
        '[{load_object_code,{shop,"2.0",[cart,till,stock,p,q,r]}}, point_of_no_return,'
        " {apply,{application,stop,[shop]}}, {remove,{cart,brutal_purge,brutal_purge}},"
        " {remove,{till,brutal_purge,brutal_purge}}, {remove,{stock,brutal_purge,brutal_purge}},"
        " {purge,[cart,till,stock]}, {load,{cart,brutal_purge,brutal_purge}}, {load,{till,brutal_purge,brutal_purge}},"
        " {load,{stock,brutal_purge,brutal_purge}}, {load,{p,brutal_purge,brutal_purge}},"
        " {load,{q,brutal_purge,brutal_purge}}, {load,{r,brutal_purge,brutal_purge}},"
        " {apply,{application,start,[shop,permanent]}}]",
    ),
    (
        "restart_application of a load application only loads it again",
        "up",
        [Appl("shop", "2.0", "load", ["cart", "p"])],
        [OLD_SHOP],
        "[[{restart_application, shop}]]",
        '[{load_object_code,{shop,"2.0",[cart,p]}}, point_of_no_return, {apply,{application,stop,[shop]}},'
        " {remove,{cart,brutal_purge,brutal_purge}}, {remove,{till,brutal_purge,brutal_purge}},"
        " {remove,{stock,brutal_purge,brutal_purge}}, {purge,[cart,till,stock]},"
        " {load,{cart,brutal_purge,brutal_purge}}, {load,{p,brutal_purge,brutal_purge}},"
        " {apply,{application,load,[shop]}}]",
    ),
    (
        "restart_application of a none application does not start it",
        "up",
        [Appl("shop", "2.0", "none", ["cart", "p"])],
        [OLD_SHOP],
        "[[{restart_application, shop}]]",
        '[{load_object_code,{shop,"2.0",[cart,p]}}, point_of_no_return, {apply,{application,stop,[shop]}},'
        " {remove,{cart,brutal_purge,brutal_purge}}, {remove,{till,brutal_purge,brutal_purge}},"
        " {remove,{stock,brutal_purge,brutal_purge}}, {purge,[cart,till,stock]},"
        " {load,{cart,brutal_purge,brutal_purge}}, {load,{p,brutal_purge,brutal_purge}}]",
    ),
    (
        "restart_application starts the application with its new start type",
        "up",
        [Appl("shop", "2.0", "transient", ["cart"])],
        [OLD_SHOP],
        "[[{restart_application, shop}]]",
        '[{load_object_code,{shop,"2.0",[cart]}}, point_of_no_return, {apply,{application,stop,[shop]}},'
        " {remove,{cart,brutal_purge,brutal_purge}}, {remove,{till,brutal_purge,brutal_purge}},"
        " {remove,{stock,brutal_purge,brutal_purge}}, {purge,[cart,till,stock]},"
        " {load,{cart,brutal_purge,brutal_purge}}, {apply,{application,start,[shop,transient]}}]",
    ),
    (
        "two records of one application and version share one load_object_code",
        "up",
        [Appl("shop", "2.0", "permanent", ["cart", "till"]), Appl("shop", "2.0", "permanent", ["p", "q"])],
        [],
        "[[{update, cart, soft, soft_purge, soft_purge, []}], [{update, q, soft, soft_purge, soft_purge, []}]]",
        '[{load_object_code,{shop,"2.0",[cart,q]}}, point_of_no_return, {suspend,[cart]},'
        " {load,{cart,soft_purge,soft_purge}}, {resume,[cart]}, {suspend,[q]}, {load,{q,soft_purge,soft_purge}},"
        " {resume,[q]}]",
    ),
]


@pytest.mark.parametrize(
    ("mode", "appls", "pre", "scripts", "expected"),
    [m[1:] for m in MODULES_AND_APPS],
    ids=[m[0] for m in MODULES_AND_APPS],
)
def test_modules_and_applications(mode: str, appls: list, pre: list, scripts: str, expected: str) -> None:
    _same(_run(mode, appls, pre, scripts), expected)


# ------------------------------------------------------------------------------------------------
# Emulator restarts
# ------------------------------------------------------------------------------------------------

RESTARTS = [
    (
        "restart_new_emulator goes first going up",
        "up",
        "[[{update, cart, soft, soft_purge, soft_purge, []}, restart_new_emulator]]",
        '[restart_new_emulator, {load_object_code,{shop,"2.0",[cart]}}, point_of_no_return, {suspend,[cart]},'
        " {load,{cart,soft_purge,soft_purge}}, {resume,[cart]}]",
    ),
    (
        "restart_new_emulator becomes a final restart_emulator going down",
        "dn",
        "[[{update, cart, soft, soft_purge, soft_purge, []}, restart_new_emulator]]",
        '[{load_object_code,{shop,"2.0",[cart]}}, point_of_no_return, {suspend,[cart]},'
        " {load,{cart,soft_purge,soft_purge}}, {resume,[cart]}, restart_emulator]",
    ),
    (
        "restart_emulator goes last",
        "up",
        "[[restart_emulator, {update, cart, soft, soft_purge, soft_purge, []}]]",
        '[{load_object_code,{shop,"2.0",[cart]}}, point_of_no_return, {suspend,[cart]},'
        " {load,{cart,soft_purge,soft_purge}}, {resume,[cart]}, restart_emulator]",
    ),
    (
        "both restarts",
        "up",
        "[[{update, cart, soft, soft_purge, soft_purge, []}, restart_emulator, restart_new_emulator]]",
        '[restart_new_emulator, {load_object_code,{shop,"2.0",[cart]}}, point_of_no_return, {suspend,[cart]},'
        " {load,{cart,soft_purge,soft_purge}}, {resume,[cart]}, restart_emulator]",
    ),
    (
        "restarts of several scripts collapse into one of each",
        "up",
        "[[{update, cart, soft, soft_purge, soft_purge, []}, restart_emulator, restart_new_emulator],"
        " [restart_new_emulator, {update, pay_srv, soft, soft_purge, soft_purge, []}, restart_emulator,"
        "  restart_emulator]]",
        '[restart_new_emulator, {load_object_code,{shop,"2.0",[cart]}}, {load_object_code,{pay,"1.0",[pay_srv]}},'
        " point_of_no_return, {suspend,[cart]}, {load,{cart,soft_purge,soft_purge}}, {resume,[cart]},"
        " {suspend,[pay_srv]}, {load,{pay_srv,soft_purge,soft_purge}}, {resume,[pay_srv]}, restart_emulator]",
    ),
    ("only restart_new_emulator, up", "up", "[[restart_new_emulator]]", "[restart_new_emulator, point_of_no_return]"),
    ("only restart_new_emulator, dn", "dn", "[[restart_new_emulator]]", "[point_of_no_return, restart_emulator]"),
    ("only restart_emulator", "up", "[[restart_emulator]]", "[point_of_no_return, restart_emulator]"),
    ("no scripts at all", "up", "[]", "[point_of_no_return]"),
]


@pytest.mark.parametrize(("mode", "scripts", "expected"), [r[1:] for r in RESTARTS], ids=[r[0] for r in RESTARTS])
def test_emulator_restarts(mode: str, scripts: str, expected: str) -> None:
    _same(_run(mode, [*SHOP, PAY], [], scripts), expected)


# ------------------------------------------------------------------------------------------------
# Low-level instructions and load_object_code merging
# ------------------------------------------------------------------------------------------------


FULL_SCRIPT = (
    '[[{apply, {audit, note, [start]}}, {load_object_code, {extra_lib, "1.0", [p]}}, point_of_no_return,'
    "  {update, cart, {advanced, x}, brutal_purge, brutal_purge, []},"
    "  {update, till, soft, soft_purge, soft_purge, [cart]}, {load, {p, soft_purge, soft_purge}},"
    "  {remove, {gone_mod, soft_purge, soft_purge}}, {purge, [gone_mod]}, {suspend, [worker]},"
    "  {code_change, [{worker, x}]}, {resume, [worker]}, {stop, [w1, w2]}, {start, [w1, w2]},"
    "  {sync_nodes, here, {audit, nodes, []}}, {sync_nodes, there, [n1@h, n2@h]},"
    "  {apply, {audit, note, [stop]}}, restart, reboot, restart_new_emulator, restart_emulator]]"
)
FULL_EXPECTED = (
    '[restart_new_emulator, {load_object_code,{extra_lib,"1.0",[p]}}, {load_object_code,{shop,"2.0",[till,cart]}},'
    " {apply,{audit,note,[start]}}, point_of_no_return, {suspend,[till,cart]},"
    " {load,{cart,brutal_purge,brutal_purge}}, {load,{till,soft_purge,soft_purge}},"
    " {code_change,up,[{cart,x}]}, {resume,[cart,till]}, {load,{p,soft_purge,soft_purge}},"
    " {remove,{gone_mod,soft_purge,soft_purge}}, {purge,[gone_mod]}, {suspend,[worker]},"
    " {code_change,[{worker,x}]}, {resume,[worker]}, {stop,[w1,w2]}, {start,[w1,w2]},"
    " {sync_nodes,here,{audit,nodes,[]}}, {sync_nodes,there,[n1@h,n2@h]}, {apply,{audit,note,[stop]}},"
    " restart, reboot, restart_emulator]"
)
MERGE_SCRIPT = (
    '[[{load_object_code, {lib, "1", [a]}}, {load_object_code, {lib, "1", [b]}},'
    '  {load_object_code, {lib, "1", [a, c]}}, {load_object_code, {other, "3", [o]}}]]'
)
MERGE_EXPECTED = '[{load_object_code,{lib,"1",[b,a,c]}}, {load_object_code,{other,"3",[o]}}, point_of_no_return]'
CONFLICT_SCRIPT = (
    '[[{load_object_code, {lib, "1", [a]}}, {load_object_code, {lib, "2", [b]}},  {load_object_code, {lib, "3", [c]}}]]'
)
CONFLICT_REASON = '{conflicting_versions, lib, "1", "3"}'
SPLICED_SCRIPT = '[[[{load_module, cart}, restart_emulator], "", []]]'
SPLICED_REASON = "{bad_instruction, {load_module, cart}}"
STRING_SCRIPT = '[["ab"]]'
STRING_REASON = "{bad_instruction, 97}"


def test_every_low_level_instruction_passes_through_in_place() -> None:
    _same(_run("up", SHOP, [], FULL_SCRIPT), FULL_EXPECTED)


def test_load_object_code_of_one_library_is_merged_with_systools_union_order() -> None:
    # Not first-seen order: the later instructions' modules are united from the end.
    _same(_run("up", SHOP, [], MERGE_SCRIPT), MERGE_EXPECTED)


def test_conflicting_versions_names_the_first_and_the_last_version() -> None:
    exc = _error("up", SHOP, [], CONFLICT_SCRIPT)
    _same(exc.reason, CONFLICT_REASON)
    assert str(exc).startswith("conflicting_versions lib: ")
    assert 'version "1" and at version "3"' in str(exc)
    assert 'version "1" and at version "3"' in format_error(exc.reason)


def test_nested_lists_are_spliced_without_expansion() -> None:
    _same(_error("up", SHOP, [], SPLICED_SCRIPT).reason, SPLICED_REASON)
    _same(_error("up", SHOP, [], STRING_SCRIPT).reason, STRING_REASON)


# ------------------------------------------------------------------------------------------------
# Errors: systools' reason, and our own message naming what is at fault
# ------------------------------------------------------------------------------------------------

# (scripts, appls, pre_appls, systools' reason, what our message must name besides the reason's value)
ERRORS = [
    ("[[{load_module, cart, [nowhere]}]]", SHOP, [], "{undef_module,nowhere}", ("DepMods", "for cart", "upgrade")),
    ("[[{load_module, cart}], [{update, cart}]]", SHOP, [], "{muldef_module,cart}", ("more than one", "single")),
    (
        "[[{restart_application, shop}, {load_module, cart}]]",
        SHOP,
        [OLD_SHOP],
        "{muldef_module,cart}",
        ("restart_application", "single"),
    ),
    (
        "[[{load_module, cart, [pay_api]}, {remove_application, pay}]]",
        [OLD_SHOP],
        [OLD_SHOP, PAY],
        "{undef_module,pay_api}",
        ("DepMods", "for cart"),
    ),
    (
        "[[{load_module, unknown_mod}]]",
        SHOP,
        [],
        "{no_such_module,unknown_mod}",
        ("release being installed", ".app"),
    ),
    (
        "[[{add_application, pay}]]",
        SHOP,
        [],
        "{no_such_application,pay}",
        ("{add_application,pay,permanent}", "release being installed"),
    ),
    (
        "[[{remove_application, pay}]]",
        SHOP,
        [],
        "{no_such_application,pay}",
        ("{remove_application,pay}", "release being replaced"),
    ),
    (
        "[[{remove_application, shop}]]",
        SHOP,
        [OLD_SHOP],
        "{removed_application_present,shop}",
        ("{remove_application,shop}", "release being installed still has"),
    ),
    (
        "[[{restart_application, shop}]]",
        SHOP,
        [],
        "{no_such_application,shop}",
        ("{restart_application,shop}", "release being replaced"),
    ),
    (
        "[[{restart_application, shop}]]",
        [],
        [OLD_SHOP],
        "{no_such_application,shop}",
        ("{restart_application,shop}", "release being installed"),
    ),
    (
        "[[{load, {cart, brutal_purge, brutal_purge}}]]",
        SHOP,
        [],
        "{no_object_code,cart}",
        ("{load,{cart,brutal_purge,brutal_purge}}", "load_object_code"),
    ),
    (
        "[[{suspend, [w, w, v]}, {resume, [v]}]]",
        SHOP,
        [],
        "{suspended_not_resumed,[w,w]}",
        ("suspend", "resume"),
    ),
    ("[[{resume, [w]}]]", SHOP, [], "{resumed_not_suspended,[w]}", ("resume", "suspend")),
    ("[[{start, [w]}]]", SHOP, [], "{start_not_stop,[w]}", ("start", "stop")),
    ("[[{stop, [w]}]]", SHOP, [], "{stop_not_start,[w]}", ("stop", "start")),
    (
        "[[{load_module, cart}, point_of_no_return]]",
        SHOP,
        [],
        "{bad_op_before_point_of_no_return,{load_module,cart,brutal_purge,brutal_purge,[]}}",
        ("apply and load_object_code", "move"),
    ),
    (
        '[[{update, cart, static, default, {advanced, [a_rather_long_atom, another_rather_long_atom, "and a string"]},'
        "   brutal_purge, brutal_purge, [till, stock, p, q, r]}, point_of_no_return]]",
        SHOP,
        [],
        "{bad_op_before_point_of_no_return, {update,cart,static,default,"
        ' {advanced,[a_rather_long_atom,another_rather_long_atom,"and a string"]},'
        " brutal_purge,brutal_purge,[till,stock,p,q,r]}}",
        ("point_of_no_return",),
    ),
    (
        "[[point_of_no_return, {load_module, cart}, point_of_no_return]]",
        SHOP,
        [],
        "too_many_point_of_no_return",
        ("more than once", "single"),
    ),
    ("[[{load_module}]]", SHOP, [], "{bad_instruction,{load_module}}", ("not an appup instruction",)),
    ('[[{load_module, "cart"}]]', SHOP, [], '{bad_module,"cart"}', ('{load_module,"cart"', "must be an atom")),
    (
        "[[{update, cart, advanced, brutal_purge, brutal_purge, []}]]",
        SHOP,
        [],
        "{bad_change,advanced}",
        ("{update,cart,advanced,", "soft or {advanced, Extra}"),
    ),
    (
        "[[{update, cart, sticky, default, soft, brutal_purge, brutal_purge, []}]]",
        SHOP,
        [],
        "{bad_mod_type,sticky}",
        ("{update,cart,sticky,", "static or dynamic"),
    ),
    (
        "[[{update, cart, soft, gentle_purge, brutal_purge, []}]]",
        SHOP,
        [],
        "{bad_purge_method,gentle_purge}",
        ("{update,cart,soft,gentle_purge,", "soft_purge or brutal_purge"),
    ),
    (
        "[[{update, cart, soft, brutal_purge, brutal_purge, till}]]",
        SHOP,
        [],
        "{bad_list,till}",
        ("{update,cart,", "must be a list"),
    ),
    (
        "[[{apply, {audit, note, oops}}]]",
        SHOP,
        [],
        "{bad_args_list,oops}",
        ("{apply,{audit,note,oops}}", "must be a list"),
    ),
    (
        '[[{sync_nodes, id, [n1@h, "n2"]}]]',
        SHOP,
        [],
        '{bad_node,"n2"}',
        ('{sync_nodes,id,[n1@h,"n2"]}', "must be an atom"),
    ),
    (
        '[[{restart_application, "shop"}]]',
        SHOP,
        [],
        '{bad_application,"shop"}',
        ('{restart_application,"shop"}', "must be an atom"),
    ),
    ("[[{apply, {audit, 3, []}}]]", SHOP, [], "{bad_func,3}", ("{apply,{audit,3,[]}}", "must be an atom")),
    (
        '[[{load_object_code, {342, "1.0", [cart]}}]]',
        SHOP,
        [],
        "{bad_lib,342}",
        ('{load_object_code,{342,"1.0",[cart]}}', "must be an atom"),
    ),
    (
        "[[{load_object_code, {shop, '1.0', [cart]}}]]",
        SHOP,
        [],
        "{bad_lib_vsn,'1.0'}",
        ("{load_object_code,{shop,'1.0',[cart]}}", "must be a string"),
    ),
    (
        "[[{update, cart, 0, soft, brutal_purge, brutal_purge, []}]]",
        SHOP,
        [],
        "{bad_timeout,0}",
        ("{update,cart,0,", "infinity or an integer > 0"),
    ),
    (
        "[[{code_change, [cart]}]]",
        SHOP,
        [],
        "{bad_code_change,cart}",
        ("{code_change,[cart]}", "{Module, Extra}"),
    ),
    (
        "[[{code_change, sideways, [{cart, x}]}]]",
        SHOP,
        [],
        "{bad_mode,sideways}",
        ("{code_change,sideways,[{cart,x}]}", "up or down"),
    ),
    (
        "[[{add_application, pay, forever}]]",
        SHOP,
        [],
        "{bad_start_type,forever}",
        ("{add_application,pay,forever}", "permanent"),
    ),
    (
        "[[mnesia_backup]]",
        SHOP,
        [],
        "{not_yet_implemented,mnesia_backup}",
        ("does not implement", "remove it"),
    ),
]


def _head(reason: object) -> str:
    """How our messages start: the reason's tag, then the value it names."""
    if isinstance(reason, Atom):
        return f"{reason}:"
    return f"{reason[0]} {format_term(reason[1], width=1 << 30)}:"


@pytest.mark.parametrize(("scripts", "appls", "pre", "reason", "names"), ERRORS, ids=[e[3][:40] for e in ERRORS])
def test_errors(scripts: str, appls: list, pre: list, reason: str, names: tuple) -> None:
    exc = _error("up", appls, pre, scripts)
    _same(exc.reason, reason)
    assert exc.crash is None
    message = str(exc)
    assert "\n" not in message
    assert message.startswith(_head(exc.reason)), message
    for name in names:
        assert name in message, (name, message)
    # From the reason alone, format_error names the same culprit, with no context to add.
    alone = format_error(exc.reason)
    assert "\n" not in alone
    assert alone.startswith(_head(exc.reason)), alone
    assert "; " in alone, alone  # what is wrong; what to do


CRASHES = [
    ("[[{load_module, cart, [till | stock]}]]", ("EXIT", "function_clause")),
    ("[[{load_module, cart} | oops]]", ("error", "function_clause")),
    ("[[[{load_module, cart} | oops]]]", ("error", "badarg")),
    ("not_a_list", ("error", "function_clause")),
    ("[[[a | b]], [x | y]]", ("error", "badarg")),  # the first script's crash wins
    ("[[x | y], [[a | b]]]", ("error", "function_clause")),
    ("[[[a | b], x | y]]", ("error", "function_clause")),  # the script's tail fails before the splice
]


@pytest.mark.parametrize(("scripts", "reason"), CRASHES)
def test_crashes(scripts: str, reason: tuple) -> None:
    exc = _error("up", SHOP, [], scripts)
    assert exc.reason == (A(reason[0]), A(reason[1]))
    assert exc.crash == reason[1]
    assert "crashes" in str(exc)
    assert reason[1] in str(exc)
    assert "\n" not in str(exc)


def test_improper_lists_built_in_python_crash_like_their_erlang_text() -> None:
    scripts = [[(A("load_module"), A("cart"), ImproperList([A("till")], A("stock")))]]
    with pytest.raises(RelupScriptError) as exc:
        translate_scripts("up", scripts, SHOP, [])
    assert exc.value.reason == (A("EXIT"), A("function_clause"))


# ------------------------------------------------------------------------------------------------
# The undetermined tie-break
# ------------------------------------------------------------------------------------------------

FAN_OUT = (
    "[[{update, root, {advanced, []}, [dep_1, dep_2, dep_3, dep_4, dep_5, dep_6, dep_7, dep_8]},"
    " {load_module, dep_1}, {load_module, dep_2}, {load_module, dep_3}, {load_module, dep_4},"
    " {load_module, dep_5}, {load_module, dep_6}, {load_module, dep_7}, {load_module, dep_8}]]"
)
FAN_APPS = [Appl("t", "1", "permanent", ["root"] + [f"dep_{i}" for i in range(1, 9)])]


def test_ties_go_to_the_earliest_instruction() -> None:
    # systools picks one of 8! orders for the deps, following its VM's atom table (in one run:
    # root, dep_8, dep_3, dep_6, dep_1, dep_2, dep_4, dep_7, dep_5); the port always picks this one.
    got = _run("up", FAN_APPS, [], FAN_OUT)
    loads = [str(i[1][0]) for i in got if isinstance(i, tuple) and i[0] == A("load")]
    assert loads == [f"dep_{i}" for i in range(8, 0, -1)] + ["root"]
    assert got[0] == (A("load_object_code"), (A("t"), "1", [A("root")] + [A(f"dep_{i}") for i in range(1, 9)]))


def test_an_imposed_order_is_used_as_given() -> None:
    systools_choice = ["root", "dep_8", "dep_3", "dep_6", "dep_1", "dep_2", "dep_4", "dep_7", "dep_5"]
    seen = []

    def impose(modules: list) -> list:
        seen.append([str(m) for m in modules])
        return [A(m) for m in systools_choice]

    got = translate_scripts_ordered("up", _t(FAN_OUT), FAN_APPS, [], impose)
    assert seen == [["root"] + [f"dep_{i}" for i in range(1, 9)]]
    # Confirmed with systools_rc in a VM that chose this order.
    _same(
        got,
        '[{load_object_code,{t,"1",[root,dep_8,dep_3,dep_6,dep_1,dep_2,dep_4,dep_7,dep_5]}}, point_of_no_return,'
        " {suspend,[root]}, {load,{dep_5,brutal_purge,brutal_purge}}, {load,{dep_7,brutal_purge,brutal_purge}},"
        " {load,{dep_4,brutal_purge,brutal_purge}}, {load,{dep_2,brutal_purge,brutal_purge}},"
        " {load,{dep_1,brutal_purge,brutal_purge}}, {load,{dep_6,brutal_purge,brutal_purge}},"
        " {load,{dep_3,brutal_purge,brutal_purge}}, {load,{dep_8,brutal_purge,brutal_purge}},"
        " {load,{root,brutal_purge,brutal_purge}}, {code_change,up,[{root,[]}]}, {resume,[root]}]",
    )


def test_an_imposed_order_must_be_a_permutation() -> None:
    with pytest.raises(ValueError, match="permutation"):
        translate_scripts_ordered("up", _t(FAN_OUT), FAN_APPS, [], lambda modules: modules[1:])


def test_complex_cycles_keep_each_cycle_together_in_position_order() -> None:
    # foo -> baz <-> bar, y -> bar, x <-> z, x -> y: several orders are valid.
    got = _run(
        "up",
        [Appl("test", "1.0", "permanent", ["foo", "bar", "baz", "x", "y", "z"])],
        [],
        "[[{update, foo, soft, soft_purge, soft_purge, [baz]}, {update, y, soft, soft_purge, soft_purge, [bar]},"
        "  {update, x, soft, soft_purge, soft_purge, [y, z]}, {update, z, soft, soft_purge, soft_purge, [x]},"
        "  {update, bar, soft, soft_purge, soft_purge, [baz]}, {update, baz, soft, soft_purge, soft_purge, [bar]}]]",
    )
    suspend = next(i[1] for i in got if isinstance(i, tuple) and i[0] == A("suspend"))
    assert [str(m) for m in suspend] == ["foo", "x", "z", "y", "bar", "baz"]


# ------------------------------------------------------------------------------------------------
# API details
# ------------------------------------------------------------------------------------------------


def test_mode_must_be_up_or_dn() -> None:
    with pytest.raises(ValueError, match="mode"):
        translate_scripts("down", [], SHOP, [])


def test_applications_need_the_four_fields() -> None:
    with pytest.raises(TypeError, match="name, vsn, type and modules"):
        translate_scripts("up", [], [object()], [])


def test_appl_equality_and_repr() -> None:
    assert Appl("a", "1", "load", ["m"]) == Appl("a", "1", "load", ["m"])
    assert Appl("a", "1", "load", ["m"]) != Appl("a", "1", "load", ["n"])
    assert hash(Appl("a", "1", "load", ["m"])) == hash(Appl("a", "1", "load", ["m"]))
    assert repr(Appl("a", "1", "load", ["m"])) == "Appl('a', '1', 'load', ['m'])"


def test_python_booleans_are_the_atoms_true_and_false() -> None:
    apps = [Appl("t", "1", "permanent", ["true", "m"])]
    got = translate_scripts("up", [[(A("load_module"), A("m"), [True]), (A("load_module"), True)]], apps, [])
    assert [str(i[1][0]) for i in got if isinstance(i, tuple) and i[0] == A("load")] == ["true", "m"]


def test_strings_and_lists_of_codes_are_the_same_version() -> None:
    # "1" and [49] are one library version for merging (Erlang ==).
    got = translate_scripts(
        "up",
        [[(A("load_object_code"), (A("lib"), "1", [A("a")])), (A("load_object_code"), (A("lib"), [49], [A("b")]))]],
        SHOP,
        [],
    )
    assert canonical(got) == canonical(
        [(A("load_object_code"), (A("lib"), "1", [A("a"), A("b")])), A("point_of_no_return")]
    )


def test_messages_name_the_culprit_and_explain() -> None:
    up = str(_error("up", SHOP, [], "[[{load_module, cart, [nowhere]}]]"))
    assert up == (
        "undef_module nowhere: nowhere is named in the DepMods of the instruction for cart, but no update, "
        "load_module, add_module or delete_module instruction of this upgrade is about nowhere; add such an "
        "instruction for nowhere (in the appup of its application) or take nowhere out of those DepMods"
    )
    down = str(_error("dn", SHOP, [], "[[{load_module, cart, [nowhere]}]]"))
    assert "of this downgrade is about nowhere" in down
    assert "of this upgrade or downgrade" in format_error((A("undef_module"), A("nowhere")))


def test_messages_quote_atoms_and_strings_as_erlang_does() -> None:
    assert format_error((A("no_such_module"), A("Weird Mod"))).startswith("no_such_module 'Weird Mod': ")
    assert format_error((A("bad_module"), "cart")).startswith('bad_module "cart": "cart" must be an atom')


def test_format_error_of_unknown_reasons_prints_them() -> None:
    assert format_error((A("something"), [1, 2])).startswith("{something,[1,2]}: ")
    assert format_error(A("surprise")).startswith("surprise: ")
    assert format_error(A("dup_mnesia_backup")).startswith("dup_mnesia_backup: ")
    assert format_error((A("no_such_module"), object())).startswith("no_such_module <object object")


# ------------------------------------------------------------------------------------------------
# For the differential tests: every fact stated above, to be confirmed against OTP itself
# ------------------------------------------------------------------------------------------------


def otp_facts() -> list:
    """``(label, mode, appls, pre_appls, scripts, outcome)`` for each expected value above:
    ``outcome`` as ``rc_translate.escript`` reports it (``{ok, Script}``, ``{error, Reason}``,
    ``{'EXIT', Kind}``, ``{raised, error, Kind}``).
    """
    facts = []
    for label, mode, scripts, expected in UPDATES:
        facts.append((label, mode, SHOP, [], scripts, f"{{ok, {expected}}}"))
    for label, mode, appls, pre, scripts, expected in MODULES_AND_APPS:
        facts.append((label, mode, appls, pre, scripts, f"{{ok, {expected}}}"))
    for label, mode, scripts, expected in RESTARTS:
        facts.append((label, mode, [*SHOP, PAY], [], scripts, f"{{ok, {expected}}}"))
    facts.append(("full script", "up", SHOP, [], FULL_SCRIPT, f"{{ok, {FULL_EXPECTED}}}"))
    facts.append(("merge", "up", SHOP, [], MERGE_SCRIPT, f"{{ok, {MERGE_EXPECTED}}}"))
    facts.append(("conflict", "up", SHOP, [], CONFLICT_SCRIPT, f"{{error, {CONFLICT_REASON}}}"))
    facts.append(("spliced", "up", SHOP, [], SPLICED_SCRIPT, f"{{error, {SPLICED_REASON}}}"))
    facts.append(("string", "up", SHOP, [], STRING_SCRIPT, f"{{error, {STRING_REASON}}}"))
    for scripts, appls, pre, reason, _names in ERRORS:
        facts.append((reason, "up", appls, pre, scripts, f"{{error, {reason}}}"))
    for scripts, (where, kind) in CRASHES:
        outcome = f"{{'EXIT', {kind}}}" if where == "EXIT" else f"{{raised, error, {kind}}}"
        facts.append((scripts, "up", SHOP, [], scripts, outcome))
    return facts
