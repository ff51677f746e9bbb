#!/usr/bin/python
# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin erlang.otp.upgrade_plan (plugins/action/upgrade_plan.py).
from __future__ import annotations

DOCUMENTATION = r"""
module: upgrade_plan
short_description: Plan the upgrade of a fleet of Erlang/Elixir release nodes, batch by batch
version_added: 0.1.0
description:
  - The decisions of the C(erlang.otp.upgrade) role and of the playbook C(erlang.otp.upgrade). It runs
    on the controller, once per play (C(run_once=true)), and reads the inventory variables and the
    facts of every host from C(hostvars). It changes nothing, anywhere.
  - O(phase=packages) lists the upgrade packages to build with M(erlang.otp.relup), one per version.
    A version that hosts go up to gets a relup from every older version running in the fleet, read
    from the manifests that M(erlang.otp.release_info) returned (or from the old tarball when a host
    has no manifest). The running version of a host pinned down to an older version that is still on
    the node gets the old tarball as a previous release, when the node's own relup has no down script
    to it and both tarballs are in C(otp_release_packages). Old tarballs are used when present, never
    required.
  - O(phase=plan) decides, per host, one action and says why. V(noop) when the node runs the target
    version permanently. V(commit) when it runs the target but not permanently (what an interrupted
    rollout leaves), which means health check and make permanent. V(hot_up) when the node has no
    blocker and the package's verdict for the running version is hot. V(hot_down) when the older
    target is still on the node and a down script without emulator restart exists, in the running
    relup or in the rebuilt package of the running version. V(rolling_up) and V(rolling_down)
    otherwise (a restart into the target).
  - Node blockers come from the facts. They are C(release_handler) not running, the release's ERTS
    not bundled under the root, the OTP libraries not bundled, no C(sasl) in the release, the node
    running another ERTS than the release names, and drift (loaded code that differs from the files).
    A missing C(releases/RELEASES) is not a blocker, because M(erlang.otp.release) writes one.
  - Versions are ordered by SemVer precedence when both are C(X.Y.Z[-pre][+build]), else in natural
    order of their dot- and dash-separated parts. Two different versions that compare equal (V(1.0)
    and V(1.0.0), or builds that differ only after C(+)) are an error.
  - Every problem found is reported at once, naming the host, the variable and its value, before
    anything changes. Problems are, for example, a host without facts, a node that does not answer,
    a release name that is not the one installed, a missing target tarball, a missing hook file,
    fleet-wide variables that differ between hosts, and a host with C(otp_release_strategy=hot) that
    cannot go hot.
  - O(phase=gate) runs at the end of a batch and says whether the rollout stops. A host of the batch
    failed when its outcome is not V(ok) or missing (it became unreachable). The rollout stops when
    more than C(otp_release_max_fail_percentage) percent of the batch failed, the rule of Ansible's
    C(max_fail_percentage) keyword. With V(0) any failure stops it, with V(100) nothing does.
  - O(phase=summary) makes the table printed at the end, one row per host of the plan. It gives
    from and to, the method, the seconds and the result, then the hosts that failed and the total time.
options:
  phase:
    description:
      - V(packages) - the packages to build, in RV(requests), and RV(build_dir).
      - V(plan) - the fleet plan, in RV(plan).
      - V(gate) - whether the rollout stops after the current batch, in RV(gate). It reads the batch from
        C(hostvars['localhost']._otp_release_batch), the plan from C(hostvars['localhost']._otp_release_plan)
        and each host's C(_otp_release_outcome).
      - V(summary) - RV(rows), RV(lines), RV(failed_hosts) and RV(seconds). It reads the plan, each host's
        C(_otp_release_outcome) and C(hostvars['localhost']._otp_release_stopped).
    type: str
    choices: [packages, plan, gate, summary]
    required: true
  hosts:
    description:
      - The hosts of the fleet, in rollout order. Default C(ansible_play_hosts_all).
      - Used by O(phase=packages) and O(phase=plan).
    type: list
    elements: str
  facts_var:
    description:
      - The variable of each host that holds its registered M(erlang.otp.release_info) result, run
        with O(erlang.otp.release_info#module:manifest=true).
    type: str
    default: _otp_release_facts
  built:
    description:
      - O(phase=plan) only. The C(results) of the M(erlang.otp.relup) task looped over RV(requests). Each
        gives C(vsn), C(dest), C(checksum) and C(upgrades). Skipped items are ignored.
    type: list
    elements: raw
    default: []
extends_documentation_fragment:
  - erlang.otp.attributes
  - erlang.otp.attributes.ACTION
attributes:
  action:
    support: full
  check_mode:
    support: full
    details:
      - Changes nothing in any mode. In check mode the plan is computed and printed, and its rollout
        lists RV(plan.hot) and RV(plan.rolling) are empty.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The variables are read from C(hostvars) of every host, so they must come from the inventory
    (C(group_vars), C(host_vars)) or from C(-e). Play variables and role parameters of another host
    are not visible there, and role defaults are applied by this action itself.
  - C(otp_release_serial), C(otp_release_rolling_serial), C(otp_release_max_fail_percentage),
    C(otp_release_packages), C(otp_release_build_dir) and C(otp_release_appup_overrides) must be the
    same on every host, because play keywords such as C(serial) are templated without a host. Set them
    in C(group_vars/all) or with C(-e).
  - Relative paths (C(otp_release_packages), C(otp_release_build_dir), C(otp_release_appup_overrides),
    the hook task files) are relative to the directory of the inventory that defines the host, like
    C(group_vars) themselves; without one, to the playbook's directory.
  - C(otp_release_cookie) is never read. No cookie appears in a result.
seealso:
  - module: erlang.otp.release_info
  - module: erlang.otp.relup
  - module: erlang.otp.release
author:
  - erlang.otp contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read what every node runs, with its manifest
  erlang.otp.release_info:
    root: "{{ otp_release_root }}"
    manifest: true
  register: _otp_release_facts

- name: List the upgrade packages to build
  erlang.otp.upgrade_plan:
    phase: packages
  run_once: true
  register: fleet_packages

- name: Build each package once, on the controller
  erlang.otp.relup:
    current: "{{ item.current }}"
    previous: "{{ item.previous }}"
    dest: "{{ item.dest }}"
    overrides: "{{ item.overrides | default(omit, true) }}"
  loop: "{{ fleet_packages.requests }}"
  loop_control:
    label: "{{ item.name }} {{ item.vsn }} from {{ item.bases | join(', ') }}"
  delegate_to: localhost
  run_once: true
  register: fleet_built

- name: Plan the fleet
  erlang.otp.upgrade_plan:
    phase: plan
    built: "{{ fleet_built.results | default([]) }}"
  run_once: true
  register: fleet_plan

- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ fleet_plan.plan.lines }}"
  run_once: true
"""

RETURN = r"""
requests:
  description:
    - O(phase=packages). The packages to build, one per version, in version order. Each item gives the
      options of an M(erlang.otp.relup) task.
  returned: when O(phase=packages)
  type: list
  elements: dict
  contains:
    name:
      description: The release name.
      type: str
    vsn:
      description: The version the package installs.
      type: str
    current:
      description: The tarball of that version in C(otp_release_packages).
      type: str
    previous:
      description: The releases to relup from and back to. Each is a manifest (dict) or a tarball path.
      type: list
      elements: raw
    bases:
      description: The versions of RV(requests.previous), oldest first.
      type: list
      elements: str
    dest:
      description: The package to write, C(<build_dir>/<name>-<vsn>.tar.gz).
      type: str
    overrides:
      description: The appup overrides directory (C(otp_release_appup_overrides)), or null.
      type: str
  sample:
    - name: shop
      vsn: 1.1.0
      current: /srv/packages/shop-1.1.0.tar.gz
      previous: [{format: 1, name: shop, vsn: 1.0.0}]
      bases: [1.0.0]
      dest: /srv/packages/.erlang-otp/shop-1.1.0.tar.gz
      overrides: null
build_dir:
  description:
    - O(phase=packages). The absolute directory the packages are built in. It is C(otp_release_build_dir),
      by default C(<otp_release_packages>/.erlang-otp).
  returned: when O(phase=packages)
  type: str
  sample: /srv/packages/.erlang-otp
plan:
  description: O(phase=plan). The fleet plan. The role keeps it as C(hostvars['localhost']._otp_release_plan).
  returned: when O(phase=plan)
  type: dict
  contains:
    name:
      description: The release name.
      type: str
    started:
      description: When the plan was made, in seconds since the epoch.
      type: float
    check_mode:
      description: Whether the plan was made in check mode.
      type: bool
    serial:
      description: The hot batches (C(otp_release_serial)), for the play keyword C(serial).
      type: raw
    rolling_serial:
      description: The rolling batches (C(otp_release_rolling_serial)).
      type: raw
    max_fail_percentage:
      description: C(otp_release_max_fail_percentage).
      type: int
    hot:
      description:
        - The hosts of the hot play in rollout order (actions V(commit), V(hot_up) and V(hot_down)).
        - Empty in check mode.
      type: list
      elements: str
    rolling:
      description:
        - The hosts of the rolling play in rollout order (actions V(rolling_up) and V(rolling_down)).
        - Empty in check mode.
      type: list
      elements: str
    hosts:
      description:
        - Per host, C(action) (V(noop), V(commit), V(hot_up), V(hot_down), V(rolling_up) or
          V(rolling_down)), C(method) (V(hot), V(rolling) or null), C(from), C(to), C(reasons),
          C(package) and C(checksum) (for M(erlang.otp.release), or null), C(remove) (versions to remove
          after success, per C(otp_release_keep)), C(health) (the normalised health check, or null),
          C(service), C(before_hook) and C(after_hook) (absolute paths, or null).
      type: dict
    lines:
      description: The plan as text, a header and one line per host.
      type: list
      elements: str
  sample:
    name: shop
    started: 1767000000.0
    check_mode: false
    serial: [1, "100%"]
    rolling_serial: 1
    max_fail_percentage: 0
    hot: [node1, node2]
    rolling: [node3]
    hosts:
      node1:
        action: hot_up
        method: hot
        from: 1.0.0
        to: 1.1.0
        reasons: []
        package: /srv/packages/.erlang-otp/shop-1.1.0.tar.gz
        checksum: sha256:3f2a9c7d1e55b4c2a8d6f0e1b7c3a5d9e2f4b6c8a0d1e3f5a7b9c1d3e5f7a9b1
        remove: [0.9.0]
        health: {erlang: "is_pid(whereis(shop_sup))", url: null, status_code: 200, retries: 5, delay: 2, timeout: 10}
        service: null
        before_hook: null
        after_hook: null
    lines:
      - "Fleet plan for shop: 3 hosts (2 hot, 1 rolling, 0 unchanged); hot batches [1, '100%'], rolling batches 1;
        stop when more than 0% of a batch fails"
      - "node1  hot up       1.0.0 -> 1.1.0  relup from 1.0.0, package sha256:3f2a9c7d1e55…"
      - "node3  rolling up   1.0.0 -> 1.1.0  ERTS 13.1.5 is not bundled under the root (bundled: none)"
gate:
  description: O(phase=gate). Whether the rollout stops after this batch.
  returned: when O(phase=gate)
  type: dict
  contains:
    stop:
      description: Whether more than C(otp_release_max_fail_percentage) percent of the batch failed.
      type: bool
    failed:
      description: The hosts of the batch whose outcome is not V(ok) or missing.
      type: list
      elements: str
    hosts:
      description: The hosts of the batch.
      type: list
      elements: str
    size:
      description: The number of hosts in the batch.
      type: int
    batch:
      description: The number of the batch in its play, from 1.
      type: int
    kind:
      description: V(hot) or V(rolling), the play the batch belongs to.
      type: str
    reason:
      description: The verdict as a sentence.
      type: str
  sample:
    stop: true
    failed: [node1]
    hosts: [node1]
    size: 1
    batch: 1
    kind: hot
    reason: 1 of 1 host of batch 1 failed (more than 0%)
rows:
  description: O(phase=summary). One row per host of the plan.
  returned: when O(phase=summary)
  type: list
  elements: dict
  contains:
    host:
      description: The host.
      type: str
    action:
      description: The planned action.
      type: str
    from:
      description: The version before.
      type: str
    to:
      description: The target version.
      type: str
    method:
      description: V(hot), V(rolling) or null.
      type: str
    seconds:
      description: How long the host took, or null.
      type: float
    status:
      description: V(ok), V(failed), V(not run), V(unchanged) or V(planned) (check mode).
      type: str
    result:
      description: What happened, as a sentence.
      type: str
    message:
      description: The error of a failed host, or null.
      type: str
    line:
      description: The row's line in RV(lines).
      type: str
  sample:
    - host: node1
      action: hot_up
      from: 1.0.0
      to: 1.1.0
      method: hot
      seconds: 4.2
      status: failed
      result: "failed after the point of no return: node restarted on 1.0.0"
      message: null
      line: "node1  hot up       1.0.0 -> 1.1.0  hot        4.2 s  failed after the point of no return:
        node restarted on 1.0.0"
lines:
  description:
    - O(phase=summary). The summary as text, a header, one line per host, and the total time.
    - When the plan fails, the plan lines of the hosts that could be planned.
  returned: when O(phase=summary), and on a plan error
  type: list
  elements: str
  sample:
    - "Upgrade summary for shop: 3 ok, 0 failed"
    - "node1  hot up       1.0.0 -> 1.1.0  hot          4.2 s  ok, removed 0.9.0"
    - "Total time 26.9 s"
failed_hosts:
  description:
    - O(phase=summary). The hosts that failed, not the hosts a stopped rollout left untouched.
    - Fail them at the end of the run, so that the recap shows them and the exit code is 2.
  returned: when O(phase=summary)
  type: list
  elements: str
  sample: [node1]
seconds:
  description: O(phase=summary). Seconds since the plan was made.
  returned: when O(phase=summary)
  type: float
  sample: 26.9
errors:
  description: Every problem that stopped the plan, one sentence each, naming the host, the variable and the value.
  returned: when the task fails
  type: list
  elements: str
  sample: ["node2: otp_release_version is 1.1.0, but otp_release_packages has no shop-1.1.0.tar.gz"]
"""
