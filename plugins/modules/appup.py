#!/usr/bin/python
# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin erlang.otp.appup (plugins/action/appup.py).
from __future__ import annotations

DOCUMENTATION = r"""
module: appup
short_description: Generate or check the appups of an Erlang/Elixir release upgrade
version_added: 0.1.0
description:
  - Compares a new release (O(current)) with one or more releases it upgrades from (O(previous)) and,
    for every application whose version changed, writes the C(<app>.appup) file that OTP's
    C(release_handler) needs for a hot upgrade and for the downgrade back (O(mode=generate)), or
    validates hand-written appups against the two releases (O(mode=check)).
  - Runs on the controller, in pure Python. No Erlang is needed on the controller or anywhere else.
  - Modules are compared by the MD5 of their code, as C(beam_lib:md5/1) computes it. A module whose
    only difference is debug information or line numbers is reported, not upgraded.
  - Added modules are loaded with C(add_module), deleted ones removed with C(delete_module). A changed
    supervisor (behaviour C(supervisor) or Elixir C(Supervisor), in the old or the new beam) gets
    C({update, M, supervisor}). A changed special process (a C(gen_server), C(gen_statem),
    C(gen_event) or Elixir C(GenServer), or a module exporting C(code_change/3,4) or
    C(system_code_change/4)) gets C({update, M, {advanced, []}}) so its state goes through
    C(code_change). Every other changed module gets C(load_module).
  - Dependencies between the changed and added modules of an application (from the imports of the new
    beams going up and of the old beams going down) are written as DepMods, and completed so that
    every group of dependent modules has exactly one load order. Callees are loaded before their
    callers. The downgrade is the exact inverse of the upgrade.
  - Supervisor children are read from the supervisor's debug information without running any code. A
    child added to a supervisor is started after the supervisor's update, a removed child is
    terminated and deleted first, each by its real child id.
  - Elixir releases built by C(mix release) keep consolidated protocols in
    C(releases/<vsn>/consolidated), which C(release_handler) never loads. Changed consolidated
    protocols are loaded by the appup of a changed application, so protocol changes take effect.
  - Refusals. Beams that changed while the application version did not is an error, since
    C(systools) would skip that application silently. So is a module that moved from one application
    to another. A module that loads a NIF cannot be hot-loaded safely, so its application gets
    C(restart_application) with a warning, unless an override says otherwise.
  - Applications added to or removed from the release are left to the relup, as C(systools) does,
    and reported in RV(added_applications) and RV(removed_applications).
options:
  current:
    description:
      - The new release. A release root directory or a release tarball, on the controller.
    type: path
    required: true
  previous:
    description:
      - The releases to upgrade from, one appup entry for each. A fleet may run several versions at
        once.
      - Each item is a release root directory or a release tarball on the controller, or the
        RV(erlang.otp.release_info#module:manifest) that M(erlang.otp.release_info) returned for a
        node. A manifest means no old tarball is needed.
    type: list
    elements: raw
    required: true
  name:
    description:
      - The release name, when a directory or tarball holds several releases.
    type: str
  dest:
    description:
      - Directory that receives one C(<app>.appup) file per changed application, created if missing.
      - Required when O(mode=generate).
    type: path
  overrides:
    description:
      - Directory of hand-written appups that win over generated ones. C(<app>.appup) is used when its
        version is the application's new version, or a binary regex matching it. For each previous
        version, the first of its entries that matches replaces the generated entry, up and down
        separately.
      - C(<app>.appup.j2) is a Jinja2 template, rendered first with the task's variables plus
        C(app), C(vsn) (the new application version) and C(from_versions) (the previous versions
        of the application).
    type: path
  purge:
    description:
      - How old code is purged when a module is loaded. Both default to C(brutal_purge), as in
        C(systools).
    type: dict
    suboptions:
      pre:
        description: Purge before loading, for every module without its own setting.
        type: str
        choices: [brutal_purge, soft_purge]
        default: brutal_purge
      post:
        description: Purge after loading, for every module without its own setting.
        type: str
        choices: [brutal_purge, soft_purge]
        default: brutal_purge
      modules:
        description:
          - Per-module settings, keyed by module name, each a dict with C(pre) and/or C(post).
        type: dict
        default: {}
  mode:
    description:
      - V(generate) writes appups into O(dest).
      - V(check) writes nothing. It validates the appups that O(overrides) or the current release
        itself provides against the two releases, and fails when one is wrong. It checks syntax as
        C(systools) accepts it, that every changed, added and deleted module is covered, that no
        unknown module is named, that the order respects the dependencies, that every previous
        version has an entry, and that the downgrade is present and the inverse of the upgrade.
    type: str
    choices: [generate, check]
    default: generate
extends_documentation_fragment:
  - erlang.otp.attributes
  - erlang.otp.attributes.ACTION
attributes:
  action:
    support: full
  check_mode:
    support: full
    details: Nothing is written; C(changed) says whether a file would change.
  diff_mode:
    support: full
    details: Shows the text of each appup file before and after.
  platform:
    platforms: posix
notes:
  - Generate once per release pair, not once per host. Use O(previous) with the manifests of all
    the versions found in the fleet, and C(run_once=true).
  - Files are written the way Erlang writes them (C(io:format("~tp.~n"))), through a temporary file
    and an atomic rename.
seealso:
  - module: erlang.otp.release_info
  - name: Appup cookbook (OTP documentation)
    description: What each appup instruction does.
    link: https://www.erlang.org/doc/system/appup_cookbook.html
author:
  - erlang.otp contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Generate the appups for shop 1.1.0, upgrading from 1.0.0
  erlang.otp.appup:
    previous:
      - build/shop-1.0.0.tar.gz
    current: build/shop-1.1.0.tar.gz
    dest: build/appups
  delegate_to: localhost
  run_once: true

- name: Read what every node runs
  erlang.otp.release_info:
    root: /opt/shop
    manifest: true
  register: shop_facts

- name: Generate appups from every version the fleet runs, with hand-written overrides
  erlang.otp.appup:
    previous: "{{ ansible_play_hosts | map('extract', hostvars, ['shop_facts', 'manifest']) | unique }}"
    current: build/shop-2.0.0.tar.gz
    dest: build/appups
    overrides: appups/
    purge:
      modules:
        shop_cart:
          pre: soft_purge
  delegate_to: localhost
  run_once: true

- name: Fail the build when a hand-written appup is wrong
  erlang.otp.appup:
    previous: [_build/prod/rel/shop-1.0.0.tar.gz]
    current: _build/prod/rel/shop
    mode: check
  delegate_to: localhost
"""

RETURN = r"""
applications:
  description: Per changed application, what was generated or checked.
  returned: always
  type: dict
  sample:
    shop:
      from: ["1.0.0"]
      to: "0.2.0"
      path: build/appups/shop.appup
      up:
        "0.1.0":
          - "{add_module,shop_stats,[]}"
          - "{update,shop_cart,{advanced,[]},brutal_purge,brutal_purge,[shop_price]}"
      down:
        "0.1.0":
          - "{update,shop_cart,{advanced,[]},brutal_purge,brutal_purge,[shop_price]}"
          - "{delete_module,shop_stats,[]}"
      sources:
        "0.1.0": {up: generated, down: generated}
      warnings: []
      findings: []
  contains:
    from:
      description: Previous versions of the application, one appup entry each.
      type: list
      elements: str
    to:
      description: The new version of the application.
      type: str
    path:
      description: The appup file written (O(mode=generate)) or checked (O(mode=check)).
      type: str
    up:
      description: Upgrade instructions per previous version, each as Erlang term text.
      type: dict
    down:
      description: Downgrade instructions per previous version, each as Erlang term text.
      type: dict
    sources:
      description: Per previous version and direction, V(generated) or V(override).
      type: dict
    warnings:
      description: What the operator should know about this application's upgrade.
      type: list
      elements: str
    findings:
      description:
        - O(mode=check) only. Each problem found, with its severity, version, instruction and reason.
      type: list
      elements: dict
added_applications:
  description: Applications only in the new release, left to the relup.
  returned: always
  type: list
  elements: str
  sample: [shop_audit]
removed_applications:
  description: Applications only in a previous release, left to the relup.
  returned: always
  type: list
  elements: str
  sample: [shop_legacy]
unchanged_applications:
  description: Applications in both releases with the same version and the same code.
  returned: always
  type: list
  elements: str
debug_only_changes:
  description: Modules whose beams differ only in debug information or line tables, per application.
  returned: always
  type: dict
  sample: {shop: [shop_app]}
"""
