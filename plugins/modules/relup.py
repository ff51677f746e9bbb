#!/usr/bin/python
# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file only documents the action plugin erlang.otp.relup (plugins/action/relup.py).
from __future__ import annotations

DOCUMENTATION = r"""
module: relup
short_description: Build the upgrade package of an Erlang/Elixir release, with its relup, without Erlang
version_added: 0.1.0
description:
  - Builds the package that C(release_handler) installs, which is the new release tarball (O(current))
    with C(releases/<vsn>/relup) and the appups of the changed applications added. Everything else in
    the tarball is copied byte for byte.
  - Runs on the controller, in pure Python. No Erlang is needed on the controller, and no old
    release tarball either when O(previous) names manifests reported by the nodes.
  - The appups are generated as M(erlang.otp.appup) generates them, and hand-written overrides win.
    The relup is then compiled from them exactly as OTP's C(systools:make_relup/4) compiles it (the
    rules of OTP 25 to 27). That is one upgrade and one downgrade script per previous version, applications
    added and removed, C(restart_new_emulator) when the ERTS version differs, and appup versions
    matched as C(systools) matches them, strings exactly and binaries as whole-version regexes.
  - Every error C(systools) reports is reported too, naming the application, version and file
    (no upgrade entry for a version, undefined or duplicated modules in the instructions, missing
    C(sasl), conflicting library versions, and so on). Nothing is written then.
  - For each previous version, RV(upgrades) gives a verdict. A node running that version can be
    upgraded hot when ERTS and the OTP libraries are bundled, both releases include C(sasl), ERTS,
    C(kernel), C(stdlib) and C(sasl) are the same, and the relup covers the pair without restarting
    the emulator. Otherwise the reasons say why, and a rolling restart is the way.
  - A previous version that cannot be relup'ed because of such a reason (for example libraries not
    bundled) is left out of the relup; the task still succeeds.
  - The package is deterministic. The same inputs give the same bytes and the same sha256, so a
    second run reports C(changed=false).
options:
  current:
    description:
      - The new release, as a release tarball (C(rebar3 tar), C(mix release)) or a release root
        directory on the controller.
      - A directory is packed with its C(bin), C(lib), C(releases) and C(erts-<vsn>) entries.
    type: path
    required: true
  previous:
    description:
      - The releases to upgrade from (and to downgrade back to), one relup entry each.
      - Each item is a release tarball or a release root directory on the controller, or the
        RV(erlang.otp.release_info#module:manifest) that M(erlang.otp.release_info) returned for a
        node.
      - The same version given twice is used once.
    type: list
    elements: raw
    required: true
  name:
    description:
      - The release name, when a directory or tarball holds several releases.
    type: str
  dest:
    description:
      - The package file to write. When it is an existing directory, the package is written there
        as C(<name>-<vsn>.tar.gz).
      - Written through a temporary file and an atomic rename, only when its bytes change.
    type: path
    required: true
  overrides:
    description:
      - Directory of hand-written appups that win over generated ones, exactly as for
        M(erlang.otp.appup) (C(<app>.appup), or the Jinja2 template C(<app>.appup.j2)).
    type: path
  purge:
    description:
      - How old code is purged when a module is loaded, as for M(erlang.otp.appup).
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
  restart_emulator:
    description:
      - Add C(restart_emulator) at the end of every script, as the C(systools) option of the same
        name does. The upgrade then restarts the VM, so no version can go hot.
    type: bool
    default: false
extends_documentation_fragment:
  - erlang.otp.attributes
  - erlang.otp.attributes.ACTION
attributes:
  action:
    support: full
  check_mode:
    support: full
    details:
      - The package is built in a temporary file and nothing is written; C(changed) says whether
        O(dest) would change.
  diff_mode:
    support: full
    details: Shows the relup and each appup added to the package, as text, before and after.
  platform:
    platforms: posix
notes:
  - Build once per rollout, not once per host. Give O(previous) the manifests of every version found
    in the fleet, and use C(run_once=true).
  - The relup and appups are written the way Erlang writes them (C(io:format("~tp.~n"))).
  - When two applications' dependencies leave C(systools) free to choose among several load orders,
    C(systools) picks one by the order of its atom table, which no other program can reproduce. The
    appups generated here never leave that choice open. For hand-written ones, this module picks the
    order of the instructions in the appups, which is one of the orders C(systools) may pick.
seealso:
  - module: erlang.otp.appup
  - module: erlang.otp.release_info
  - module: erlang.otp.release
  - name: Release handling (OTP documentation)
    description: What a relup is and how release_handler runs it.
    link: https://www.erlang.org/doc/system/release_handling.html
author:
  - erlang.otp contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Build the upgrade package of shop 1.1.0 from the 1.0.0 tarball
  erlang.otp.relup:
    current: build/shop-1.1.0.tar.gz
    previous:
      - build/shop-1.0.0.tar.gz
    dest: build/upgrade/
  delegate_to: localhost
  run_once: true
  register: shop_package

- name: Read what every node runs
  erlang.otp.release_info:
    root: /opt/shop
    manifest: true
  register: shop_facts

- name: Build the package from every version the fleet runs, with no old tarball
  erlang.otp.relup:
    current: build/shop-2.0.0.tar.gz
    previous: "{{ ansible_play_hosts | map('extract', hostvars, ['shop_facts', 'manifest']) | unique }}"
    overrides: appups/
    dest: build/upgrade/shop-2.0.0.tar.gz
  delegate_to: localhost
  run_once: true
  register: shop_package

- name: Install it hot where the verdict allows
  erlang.otp.release:
    root: /opt/shop
    package: "{{ shop_package.dest }}"
    package_checksum: "{{ shop_package.checksum }}"
    version: "2.0.0"
    method: hot
  when: shop_facts.running_version in shop_package.hot_from
"""

RETURN = r"""
dest:
  description: The package file.
  returned: always
  type: str
  sample: build/upgrade/shop-1.1.0.tar.gz
sha256:
  description: The sha256 of the package, as hex digits.
  returned: always
  type: str
  sample: 0f3a9c7d1e55b4c2a8d6f0e1b7c3a5d9e2f4b6c8a0d1e3f5a7b9c1d3e5f7a9b1
checksum:
  description:
    - The same as RV(sha256), in the C(sha256:<hex>) form that the
      O(erlang.otp.release#module:package_checksum) option of M(erlang.otp.release) takes.
  returned: always
  type: str
  sample: sha256:0f3a9c7d1e55b4c2a8d6f0e1b7c3a5d9e2f4b6c8a0d1e3f5a7b9c1d3e5f7a9b1
size:
  description: The size of the package in bytes.
  returned: always
  type: int
  sample: 15728640
name:
  description: The release name.
  returned: always
  type: str
  sample: shop
vsn:
  description: The release version the package installs.
  returned: always
  type: str
  sample: 1.1.0
relup:
  description: The relup's path inside the package, or null when no previous version could be relup'ed.
  returned: always
  type: str
  sample: releases/1.1.0/relup
members_added:
  description: Files added to the tarball.
  returned: always
  type: list
  elements: str
  sample: [lib/shop-0.2.0/ebin/shop.appup, releases/1.1.0/relup]
members_replaced:
  description: Files of the tarball given new content (for example a relup it already held).
  returned: always
  type: list
  elements: str
  sample: []
hot_from:
  description: The previous versions a running node can be upgraded from hot (see RV(upgrades)).
  returned: always
  type: list
  elements: str
  sample: ["1.0.0"]
upgrades:
  description: Per previous version, the verdict and the relup scripts.
  returned: always
  type: dict
  sample:
    "1.0.0":
      hot: true
      reasons: []
      up: ["{load_object_code,{shop,\"0.2.0\",[shop_price,shop_cart]}}", "point_of_no_return", "..."]
      down: ["..."]
  contains:
    hot:
      description: Whether a node running this version can be upgraded hot.
      type: bool
    reasons:
      description: Why not, one sentence each. Empty when RV(upgrades.hot) is true.
      type: list
      elements: str
    up:
      description:
        - The upgrade script of the relup, each instruction as Erlang term text.
        - Empty when this version is left out of the relup.
      type: list
      elements: str
    down:
      description: The downgrade script of the relup, each instruction as Erlang term text.
      type: list
      elements: str
applications:
  description: Per changed application, the appup put in the package (as M(erlang.otp.appup) returns it).
  returned: always
  type: dict
added_applications:
  description: Applications only in the new release.
  returned: always
  type: list
  elements: str
removed_applications:
  description: Applications only in a previous release.
  returned: always
  type: list
  elements: str
unchanged_applications:
  description: Applications in both releases with the same version and the same code.
  returned: always
  type: list
  elements: str
debug_only_changes:
  description: Modules whose beams differ only in debug information or line tables, per application.
  returned: always
  type: dict
warnings:
  description: What appup generation and relup compilation warn about (for example an ERTS change).
  returned: always
  type: list
  elements: str
"""
