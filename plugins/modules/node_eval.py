#!/usr/bin/python
# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: node_eval
short_description: Evaluate an Erlang expression on a release node and check its value
version_added: 0.1.0
description:
  - Evaluates O(expression) on the running node of the release under O(root), through the same
    hidden control node as M(erlang.otp.release_info), and compares the value with O(expect).
    It is meant for health checks before a new version is made permanent.
  - The expression is Erlang, also on an Elixir node, where the module C(Exshop.Counter) is the atom
    C('Elixir.Exshop.Counter'). It is parsed on the node's host first. Text that is not valid Erlang, for
    example a syntax error or an unbound variable, fails the task with the line and the parser's
    message, and nothing runs on the node.
  - The expression runs in a process of its own on the node, with C(erl_eval). An exception raised
    there (error, exit or throw) fails the task with its class, its reason and the function that
    raised it. The node itself is not affected.
  - The task fails when the value is not one of O(expect). The message names the value. The task
    never reports C(changed), even though the expression may change the node. Use
    O(expect=[]) to accept any value.
  - The cookie is sent to the control node on its standard input. It never appears on a command
    line, in a log or in the result. Where it occurs in the value or in a message it is replaced by
    C(********).
options:
  expression:
    description:
      - One or more Erlang expressions separated by commas. The value of the last one is the result.
      - The final C(.) may be left out.
      - The variable names C(ErlangOtpC__), C(ErlangOtpR__) and C(ErlangOtpS__) are reserved.
    type: str
    required: true
  expect:
    description:
      - The values that count as healthy, each written as an Erlang term, for example V(ok),
        V({ok, true}) or V("text").
      - They are compared with the value as C(=:=) does. A string is the same term as its list of
        characters, and V(1) is not V(1.0).
      - YAML booleans and numbers are taken as the atoms V(true), V(false) and as numbers.
      - An empty list accepts any value.
    type: list
    elements: raw
    default: ["true", "ok"]
  timeout:
    description:
      - Seconds the expression may take. Connecting is allowed at most 10 seconds of it.
      - After a timeout the task fails, but the evaluation may go on on the node until it ends.
    type: float
    default: 10
extends_documentation_fragment:
  - erlang.otp.node
  - erlang.otp.attributes
attributes:
  check_mode:
    support: none
    details:
      - The expression may change the node, so the module does not run in check mode. Ansible
        reports the task as skipped.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Runs on the node, with the release's own C(erts-<vsn>/bin/escript), or the system C(escript)
    when the release bundles no ERTS, as M(erlang.otp.release_info) does.
  - Pids, ports, references and funs other than C(fun M:F/A) in the value come back as tuples such
    as C({'$pid',"<12345.321.0>"}), so that the value can always be read as a term.
  - Output the expression prints goes to the control node, not to the node's console, and is not
    returned.
  - Ansible templates O(expression) and O(expect) like any module option, and in Erlang text
    C({{), C({#) and C({%) start Jinja. Put a blank after the C({), as in C({ {ok, 1}}), or mark
    the text C(!unsafe).
  - With C(until) and C(retries) the task becomes a health check that waits, for example until
    an application has started.
seealso:
  - module: erlang.otp.release_info
  - module: erlang.otp.release
author:
  - erlang.otp contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The supervision tree of the shop is up
  erlang.otp.node_eval:
    root: /opt/shop
    expression: is_pid(whereis(shop_sup))

- name: The cart answers, waiting up to 20 seconds
  erlang.otp.node_eval:
    root: /opt/shop
    expression: shop_cart:ping()
    expect: [pong]
    timeout: 5
  register: cart
  until: cart is succeeded
  retries: 10
  delay: 2

- name: The database pool reports enough connections
  erlang.otp.node_eval:
    root: /opt/shop
    expression: |
      {ok, Size} = shop_db:pool_size(),
      Size >= 4
    expect: [true]

- name: An Elixir node, any value accepted
  erlang.otp.node_eval:
    root: /opt/exshop
    expression: "'Elixir.Exshop.Counter':value()"
    expect: []
  register: counter

- name: Show it
  ansible.builtin.debug:
    msg: "the counter is at {{ counter.value }}"
"""

RETURN = r"""
value:
  description:
    - The value of the expression, written as an Erlang term on one line. Pids, ports, references
      and local funs are written as C({'$pid', "<...>"})-style tuples.
    - V(null) when the expression did not parse, raised an exception or timed out.
  returned: always
  type: str
  sample: "{ok,[shop,sasl]}"
matched:
  description: Whether the value is one of O(expect). It is V(true) for O(expect=[]).
  returned: always
  type: bool
  sample: true
node:
  description: The node the expression ran on, the full name when the node answered.
  returned: always
  type: str
  sample: shop@web1
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.erlang.otp.plugins.module_utils._node_channel import (
    DiscoveryError,
    EvalError,
    NodeCallError,
    NodeChannel,
    NodeDown,
    discover,
    expected_terms,
    flat_text,
    module_runner,
    same_term,
)
from ansible_collections.erlang.otp.plugins.module_utils._node_options import node_argument_spec

MASK = "********"


def _expect_texts(values):
    """The ``expect`` entries as text; YAML booleans and numbers as Erlang atoms and numbers."""
    out = []
    for i, value in enumerate(values):
        if isinstance(value, bool):
            out.append("true" if value else "false")
        elif isinstance(value, (int, float, str)):
            out.append(str(value))
        else:
            raise ValueError(f"expect[{i}]: {value!r} is not text: write the term as a string, for example '{{ok, 1}}'")
    return out


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            expression={"type": "str", "required": True},
            expect={"type": "list", "elements": "raw", "default": ["true", "ok"]},
            timeout={"type": "float", "default": 10},
        ),
        supports_check_mode=False,
    )
    params = module.params
    result = {"changed": False, "value": None, "matched": False, "node": params["node"]}
    if params["timeout"] <= 0:
        module.fail_json(msg=f"timeout={params['timeout']}: must be positive", **result)
    if not params["expression"].strip():
        module.fail_json(msg="expression is empty: give an Erlang expression such as is_pid(whereis(my_sup))", **result)
    try:
        texts = _expect_texts(params["expect"])
        expected = expected_terms(texts)
    except ValueError as exc:
        module.fail_json(msg=str(exc), **result)
    root = params["root"]
    if not os.path.isdir(root):
        module.fail_json(msg=f"{root}: no such directory (root must be the release root on the node)", **result)

    cookie = None

    def scrub(text):
        return text.replace(cookie, MASK) if cookie else text

    try:
        target = discover(root, params["name"], params["node"], params["cookie"], params["name_type"])
        cookie = target.cookie
        result["node"] = target.node
        channel = NodeChannel(target, module_runner(module), connect_timeout=min(10.0, params["timeout"]))
        value = channel.eval(params["expression"], timeout=params["timeout"])
        result["node"] = target.node
    except (EvalError, NodeDown, NodeCallError, DiscoveryError) as exc:
        module.fail_json(msg=scrub(str(exc)), **result)
    except Exception as exc:  # a bug: report it without leaking anything discovered
        module.fail_json(
            msg=scrub(f"node_eval failed: {type(exc).__name__}: {exc}"),
            exception=scrub(traceback.format_exc()),
            **result,
        )
    result["value"] = scrub(flat_text(value))
    result["matched"] = not expected or any(same_term(value, want) for want in expected)
    if not result["matched"]:
        shown = result["value"] if len(result["value"]) <= 2000 else result["value"][:2000] + "..."
        module.fail_json(
            msg=f"node {result['node']}: the expression returned {shown}, expected {' or '.join(texts)}", **result
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
