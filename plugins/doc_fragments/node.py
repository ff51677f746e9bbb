# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations


class ModuleDocFragment:
    """The options every node module shares (mirrors plugins/module_utils/_node_options.py)."""

    DOCUMENTATION = r"""
options:
  root:
    description:
      - The release root on the node, the directory that holds C(bin/), C(lib/) and C(releases/).
    type: path
    required: true
  name:
    description:
      - The release name.
      - When omitted, it is read from C(releases/RELEASES), from the C(.rel) file of the version in
        C(releases/start_erl.data), or from the only C(releases/<vsn>/<name>.rel).
    type: str
  node:
    description:
      - The node name, C(name@host) or C(name). Without C(@host), the host part is the one the node
        itself would use.
      - When omitted, it is found from the command line of the VM running from O(root), then from the
        release files (relx C(vm.args) with C(-args_file) chains and C(.src) templates, mix
        C(releases/<vsn>/env.sh)).
    type: str
  cookie:
    description:
      - The distribution cookie of the node.
      - When omitted, it is found from the running VM's command line, then the release files (relx
        C(vm.args), mix C(releases/COOKIE) and C(env.sh)), then the service user's
        C(~/.erlang.cookie).
      - It reaches the control node on its standard input. It is never on a command line, in a log or
        in a result.
    type: str
  name_type:
    description:
      - Whether the node uses long names (C(-name)) or short names (C(-sname)).
      - When omitted, it is found with the node name. If nothing says otherwise, the default is
        V(sname).
    type: str
    choices: [name, sname]
notes:
  - Module defaults for the node modules can be set once with C(module_defaults) and the action group
    C(group/erlang.otp.node).
"""
