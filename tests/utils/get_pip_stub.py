# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""erlang.otp get-pip stand-in for ansible-test's pip bootstrap (works without ci-files access).

ansible-test bootstraps pip into each of its virtual environments by running
``~/.ansible/test/cache/get_pip_<pip version>.py``, downloading it from a host CI cannot reach
when the file is missing. ``make setup`` copies this file there. It installs the pip wheel bundled
with Python (ensurepip), then lets that pip install the packages ansible-test asks for (its pinned
pip, and setuptools/wheel on older cores) from the configured package index.

ensurepip runs in a subprocess on purpose: ``ensurepip.bootstrap()`` in this process would set
``PIP_CONFIG_FILE=/dev/null`` and the following pip call would ignore the machine's pip
configuration (index, CA bundle).
"""
from __future__ import annotations

import subprocess
import sys

# Options get-pip.py understands that plain ``pip install`` does not.
_GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")


def main() -> None:
    args = [arg for arg in sys.argv[1:] if arg not in _GET_PIP_ONLY]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    if args:
        subprocess.check_call([sys.executable, "-m", "pip", "install", *args])


if __name__ == "__main__":
    main()
