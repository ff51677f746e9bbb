# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real loopback fleet: one sshd and N Erlang release nodes on 127.0.0.1.

Test machinery, not part of the collection. Usable from pytest (see
``tests/integration/conftest.py``) and from plain Python::

    with Fleet(tarball_path, "shop", nodes=3) as fleet:
        fleet.ssh("node1", "uname -a")
        fleet.eval("node2", "node().")
        print(fleet.inventory_path)

What :meth:`Fleet.start` does, in order:

1. a private ``epmd -port P`` as a foreground child (its pid is the Popen pid);
2. ed25519 host and client keys, an sshd config and ``/usr/sbin/sshd -D -e -f <config>`` on a
   free port of 127.0.0.1, key-only, with ``SetEnv ERL_EPMD_PORT=P`` so every ssh session sees
   the private epmd;
3. per node ``node1`` … ``nodeN``: the tarball (``tarballs[host]`` when given, so one fleet can
   run two versions) unpacked in ``<dir>/nodes/<host>``, node name
   ``-sname <release>_<host>_<sshd port>`` and the fleet's cookie written into the release's own
   files (relx: ``releases/<vsn>/vm.args`` or ``vm.args.src``; mix: ``releases/<vsn>/env.sh``
   and ``releases/COOKIE``), started with ``bin/<release> daemon`` and awaited until it answers;
   the beam pid, its run_erl parent and its other children are recorded;
4. an Ansible inventory (``inventory.yml``, written as JSON, which is YAML): every node in group
   ``fleet``, plus the extra groups of :meth:`Fleet.set_vars`.

:meth:`Fleet.set_vars` writes ``group_vars/<group>.yml`` and ``host_vars/<host>.yml`` next to
``inventory.yml`` (Ansible reads them from the inventory's directory) and adds groups::

    fleet.set_vars(group_vars={"fleet": {"otp_release_version": "1.1.0"}},
                   host_vars={"node3": {"otp_release_strategy": "rolling"}},
                   groups={"canary": ["node1"]})

:meth:`Fleet.stop` stops every node with its own script, then SIGKILLs whatever recorded
process (or process running from a node root) is still alive, then epmd and sshd by their Popen
pids. Every kill checks the process start time, so a recycled pid is never hit. Nothing is ever
killed by name. Fleets still running when the interpreter exits are stopped by an ``atexit``
hook.
"""
from __future__ import annotations

import atexit
import getpass
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")
SFTP_SERVER_CANDIDATES = ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server")
PYTHON_INTERPRETER = "/usr/bin/python3"

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class FleetError(RuntimeError):
    """A fleet could not be started or a command on it failed."""


# --------------------------------------------------------------------------------------------
# processes, identified by pid *and* start time


def _stat_fields(pid: int) -> Optional[List[str]]:
    """Fields of ``/proc/<pid>/stat`` after the command name (field 3 = index 0), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _cmdline(pid: int) -> List[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


@dataclass(frozen=True)
class Proc:
    """A process we are responsible for: pid plus kernel start time (guards against pid reuse)."""

    pid: int
    start_time: int
    label: str

    @classmethod
    def of(cls, pid: int, label: str) -> Optional[Proc]:
        fields = _stat_fields(pid)
        if fields is None:
            return None
        return cls(pid, int(fields[19]), label)

    def alive(self) -> bool:
        """Running (a zombie counts as gone: here pid 1 does not always reap orphans)."""
        fields = _stat_fields(self.pid)
        if fields is None or int(fields[19]) != self.start_time:
            return False
        return fields[0] not in ("Z", "X", "x")

    @property
    def ppid(self) -> int:
        fields = _stat_fields(self.pid)
        return int(fields[1]) if fields else 0

    def kill(self, sig: int = signal.SIGKILL) -> bool:
        """Send ``sig`` if this very process is still alive; True if a signal was sent."""
        if not self.alive():
            return False
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True


def _children(pid: int) -> List[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _procs_using(root: Path) -> List[int]:
    """Pids whose argv or executable lies under ``root`` (a directory only this fleet uses)."""
    prefix = str(root).rstrip("/") + "/"
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            exe = ""
        if exe.startswith(prefix) or any(prefix in a or a == prefix[:-1] for a in _cmdline(pid)):
            found.append(pid)
    return found


def _wait_gone(procs: Sequence[Proc], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(p.alive() for p in procs):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --------------------------------------------------------------------------------------------
# small helpers


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _run(argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(list(argv), check=False, **kw)


def _checked(proc: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if proc.returncode != 0:
        raise FleetError(
            f"{what}: exit {proc.returncode}\nstdout: {proc.stdout.strip()}\nstderr: {proc.stderr.strip()}"
        )
    return proc


# --------------------------------------------------------------------------------------------
# release layout


@dataclass
class Layout:
    """What an unpacked release looks like on disk."""

    name: str
    vsn: str
    flavor: str  # "relx" or "mix"

    @classmethod
    def detect(cls, root: Path, name: str) -> Layout:
        start_erl = root / "releases" / "start_erl.data"
        if not start_erl.is_file():
            raise FleetError(f"{start_erl}: missing; {root} does not look like an unpacked release")
        parts = start_erl.read_text().split()
        if len(parts) != 2:
            raise FleetError(f"{start_erl}: expected '<erts vsn> <release vsn>', got {start_erl.read_text()!r}")
        vsn = parts[1]
        rel_dir = root / "releases" / vsn
        script = root / "bin" / name
        if not script.is_file():
            raise FleetError(f"{script}: missing; is {name!r} the release name of this tarball?")
        if (rel_dir / "env.sh").is_file() or (root / "releases" / "COOKIE").is_file():
            return cls(name, vsn, "mix")
        if (rel_dir / "vm.args").is_file() or (rel_dir / "vm.args.src").is_file():
            return cls(name, vsn, "relx")
        raise FleetError(f"{rel_dir}: neither vm.args(.src) (relx) nor env.sh (mix release) found")


def _set_vm_args(path: Path, sname: str, cookie: str) -> None:
    """Rewrite the node name and cookie lines of a relx vm.args (or vm.args.src)."""
    kept = [
        line
        for line in path.read_text().splitlines()
        if not re.match(r"\s*-(s?name|setcookie)(\s|$)", line)
    ]
    path.write_text("\n".join([f"-sname {sname}", f"-setcookie {cookie}", *kept]) + "\n")


def configure_release(root: Path, layout: Layout, sname: str, cookie: str) -> None:
    """Write node name and cookie into the release's own files (never onto a command line)."""
    rel_dir = root / "releases" / layout.vsn
    if layout.flavor == "relx":
        for fname in ("vm.args.src", "vm.args"):
            if (rel_dir / fname).is_file():
                _set_vm_args(rel_dir / fname, sname, cookie)
        return
    cookie_file = root / "releases" / "COOKIE"
    cookie_file.write_text(cookie)
    cookie_file.chmod(0o400)
    env_sh = rel_dir / "env.sh"
    text = env_sh.read_text() if env_sh.is_file() else "#!/bin/sh\n"
    env_sh.write_text(
        text.rstrip("\n")
        + "\n\n# written by tests/support/fleet.py\n"
        + "export RELEASE_DISTRIBUTION=sname\n"
        + f"export RELEASE_NODE={sname}\n"
    )


# --------------------------------------------------------------------------------------------
# nodes


@dataclass
class Node:
    """One release node of a fleet."""

    host: str  # inventory host name: node1, node2, ...
    root: Path
    layout: Layout
    sname: str
    node_name: str = ""  # full name, known once the node runs: shop_node1_40123@vm
    procs: List[Proc] = field(default_factory=list)  # beam, run_erl, beam's children

    @property
    def release_name(self) -> str:
        return self.layout.name

    @property
    def vsn(self) -> str:
        return self.layout.vsn

    @property
    def script(self) -> Path:
        return self.root / "bin" / self.layout.name

    @property
    def beam(self) -> Optional[Proc]:
        return next((p for p in self.procs if p.label == "beam"), None)


# --------------------------------------------------------------------------------------------
# the fleet

_LIVE: set[Fleet] = set()
_LIVE_LOCK = threading.Lock()


def _stop_all_at_exit() -> None:
    for fleet in list(_LIVE):
        try:
            fleet.stop()
        except Exception:  # last resort: keep going with the others
            pass


atexit.register(_stop_all_at_exit)


class Fleet:
    """An sshd on 127.0.0.1 and ``nodes`` nodes of one release tarball.

    ``base_dir`` (created if needed) holds everything the fleet writes; default: a new
    directory under the system temp dir. ``remove_dir`` deletes it after :meth:`stop` (only
    for a directory the fleet created itself, unless set explicitly).
    """

    def __init__(
        self,
        tarball: str | os.PathLike[str],
        name: str,
        nodes: int = 3,
        *,
        tarballs: Optional[Mapping[str, str | os.PathLike[str]]] = None,
        base_dir: str | os.PathLike[str] | None = None,
        remove_dir: Optional[bool] = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.tarball = Path(tarball)
        if not self.tarball.is_file():
            raise FleetError(f"{self.tarball}: release tarball not found")
        if not re.fullmatch(r"[a-z][a-zA-Z0-9_]*", name):
            raise FleetError(f"{name!r}: not a release name (lower-case atom without quotes)")
        if nodes < 1:
            raise FleetError(f"nodes={nodes}: a fleet needs at least one node")
        self.name = name
        self.count = nodes
        host_names = [f"node{i}" for i in range(1, nodes + 1)]
        #: per-host tarball overrides (hosts not named here unpack ``tarball``)
        self.tarballs: Dict[str, Path] = {}
        for host, path in (tarballs or {}).items():
            if host not in host_names:
                raise FleetError(f"tarballs: {host!r} is not a host of this fleet (hosts: {', '.join(host_names)})")
            if not Path(path).is_file():
                raise FleetError(f"tarballs[{host!r}]: {path}: release tarball not found")
            self.tarballs[host] = Path(path)
        self.start_timeout = start_timeout
        if base_dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix=f"fleet-{name}-"))
            self._remove_dir = True if remove_dir is None else remove_dir
        else:
            self.dir = Path(base_dir)
            self.dir.mkdir(parents=True, exist_ok=True)
            self._remove_dir = bool(remove_dir)
        self.dir = self.dir.resolve()
        self.user = getpass.getuser()
        self.cookie = secrets.token_hex(16)
        self.ssh_dir = self.dir / "ssh"
        self.key_path = self.ssh_dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.inventory_path = self.dir / "inventory.yml"
        self.sshd_port = 0
        self.epmd_port = 0
        self.nodes: Dict[str, Node] = {}
        self.inventory: dict = {}
        #: what :meth:`set_vars` wrote: group -> vars, host -> vars, extra group -> hosts
        self.group_vars: Dict[str, dict] = {}
        self.host_vars: Dict[str, dict] = {}
        self.groups: Dict[str, List[str]] = {}
        self._epmd: Optional[subprocess.Popen] = None
        self._sshd: Optional[subprocess.Popen] = None
        self._epmd_proc: Optional[Proc] = None
        self._sshd_proc: Optional[Proc] = None
        self._logs: List = []
        self._stopped = False
        self.timings: Dict[str, float] = {}

    # -- context manager ---------------------------------------------------------------------

    def __enter__(self) -> Fleet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- public API --------------------------------------------------------------------------

    @property
    def hosts(self) -> List[str]:
        return list(self.nodes)

    def tarball_of(self, host: str) -> Path:
        """The release tarball ``host`` was (or will be) unpacked from."""
        if host not in self._host_names():
            raise FleetError(f"{host!r}: no such host in this fleet (hosts: {', '.join(self._host_names())})")
        return self.tarballs.get(host, self.tarball)

    def set_vars(
        self,
        group_vars: Optional[Mapping[str, Mapping[str, object]]] = None,
        host_vars: Optional[Mapping[str, Mapping[str, object]]] = None,
        groups: Optional[Mapping[str, Sequence[str]]] = None,
        *,
        replace: bool = False,
    ) -> List[Path]:
        """Write inventory variables and groups next to ``inventory.yml``; the files written.

        ``group_vars`` (group -> vars) go to ``group_vars/<group>.yml``, ``host_vars`` (host ->
        vars) to ``host_vars/<host>.yml``, both as JSON (which is YAML). ``groups`` (name -> hosts,
        in order) become extra groups in ``inventory.yml``, beside ``fleet``. Each call merges into
        what earlier calls set (a group's or host's vars key by key, a group's host list as a
        whole); ``replace=True`` starts from nothing. Group vars may name ``all``, ``fleet``,
        ``ungrouped`` and the extra groups. Bad input raises :class:`FleetError` and writes nothing.
        Can be called before :meth:`start`; the inventory then gets the groups when it is written.
        """
        hosts = self._host_names()
        new_groups = {} if replace else {g: list(h) for g, h in self.groups.items()}
        for group, members in (groups or {}).items():
            if not isinstance(group, str) or not _VAR_NAME.fullmatch(group):
                raise FleetError(f"groups: {group!r} is not a valid group name (letters, digits, _)")
            if group in _BUILTIN_GROUPS:
                raise FleetError(f"groups: {group!r} is a group the fleet defines itself")
            if isinstance(members, str):
                raise FleetError(f"groups[{group!r}]: {members!r} must be a list of hosts, not a string")
            unknown = [h for h in members if h not in hosts]
            if unknown:
                raise FleetError(f"groups[{group!r}]: {unknown} not hosts of this fleet (hosts: {', '.join(hosts)})")
            new_groups[group] = list(dict.fromkeys(members))
        known_groups = [*_BUILTIN_GROUPS, *new_groups]
        writes: Dict[Path, Optional[str]] = {}
        merged: Dict[str, Dict[str, dict]] = {}
        for kind, given, names, old in (
            ("group_vars", group_vars, known_groups, self.group_vars),
            ("host_vars", host_vars, hosts, self.host_vars),
        ):
            current = {} if replace else {k: dict(v) for k, v in old.items()}
            if replace:  # files of earlier calls go away unless given again
                writes.update({self.dir / kind / f"{k}.yml": None for k in old})
            for owner, variables in (given or {}).items():
                if owner not in names:
                    raise FleetError(f"{kind}: {owner!r} is not a {kind[:-5]} of this fleet ({', '.join(names)})")
                if not isinstance(variables, Mapping):
                    raise FleetError(f"{kind}[{owner!r}]: expected a mapping of variables, got {variables!r}")
                for var in variables:
                    if not isinstance(var, str) or not _VAR_NAME.fullmatch(var):
                        raise FleetError(f"{kind}[{owner!r}]: {var!r} is not a valid variable name")
                current.setdefault(owner, {}).update(variables)
            for owner, variables in current.items():
                path = self.dir / kind / f"{owner}.yml"
                try:
                    writes[path] = json.dumps(variables, indent=2, default=_json_default) + "\n"
                except (TypeError, ValueError) as exc:
                    raise FleetError(f"{kind}[{owner!r}]: cannot be written as YAML: {exc}") from None
            merged[kind] = current
        for path, text in writes.items():
            if text is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(exist_ok=True)
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_text(text)
                os.replace(tmp, path)
        self.group_vars, self.host_vars, self.groups = merged["group_vars"], merged["host_vars"], new_groups
        written = [p for p, t in writes.items() if t is not None]
        if self.nodes and self.inventory:
            self._write_inventory()
            written.append(self.inventory_path)
        return written

    def recorded_procs(self) -> List[Proc]:
        """Every process this fleet started or adopted (epmd, sshd, each node's beam family)."""
        procs = [p for p in (self._epmd_proc, self._sshd_proc) if p is not None]
        for node in self.nodes.values():
            procs.extend(node.procs)
        return procs

    def start(self) -> Fleet:
        with _LIVE_LOCK:
            _LIVE.add(self)
        t0 = time.monotonic()
        try:
            self._start_epmd()
            self._start_sshd()
            self.timings["infra"] = time.monotonic() - t0
            hosts = self._host_names()
            errors = _in_parallel(self._start_node, hosts)
            if errors:
                raise FleetError("; ".join(str(e) for e in errors)) from errors[0]
            self.nodes = {h: self.nodes[h] for h in hosts}  # stable order
            self._write_inventory()
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Stop everything this fleet started; safe to call more than once and after failures."""
        if self._stopped:
            return
        self._stopped = True
        t0 = time.monotonic()
        errors: List[str] = []
        try:
            nodes = list(self.nodes.values())
            errors.extend(str(e) for e in _in_parallel(self._stop_node, nodes))
            for popen, proc in ((self._epmd, self._epmd_proc), (self._sshd, self._sshd_proc)):
                if popen is None:
                    continue
                if proc is not None and proc.alive():
                    popen.terminate()
                    try:
                        popen.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        popen.kill()
                try:
                    popen.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    errors.append(f"pid {popen.pid} ({popen.args[0]}) survived SIGKILL")
            for log in self._logs:
                log.close()
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)
            self.timings["stop"] = time.monotonic() - t0
        if self._remove_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise FleetError("fleet teardown: " + "; ".join(errors))

    # ssh -----------------------------------------------------------------------------------

    def ssh_argv(self) -> List[str]:
        """``ssh`` with this fleet's key, port and known_hosts, up to and including user@host."""
        return [
            "ssh",
            "-F", "/dev/null",
            "-i", str(self.key_path),
            "-p", str(self.sshd_port),
            "-o", "StrictHostKeyChecking=no",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=10",
            f"{self.user}@127.0.0.1",
        ]  # fmt: skip

    def ssh(
        self, host: str, command: str, *, check: bool = False, timeout: float = 60, input: Optional[str] = None
    ) -> subprocess.CompletedProcess:
        """Run the shell ``command`` on ``host`` over the real sshd (text in, text out)."""
        self._node(host)  # all hosts share one sshd, but a typo should still fail loudly
        proc = _run([*self.ssh_argv(), command], timeout=timeout, input=input)
        if check:
            _checked(proc, f"ssh {host} {command!r}")
        return proc

    def release(self, host: str, *args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run ``bin/<release> args...`` of ``host``'s node over ssh."""
        node = self._node(host)
        command = " ".join(shlex.quote(a) for a in [str(node.script), *args])
        return self.ssh(host, f"cd {shlex.quote(str(node.root))} && {command}", check=check, timeout=timeout)

    def eval(self, host: str, expr: str, *, timeout: float = 60) -> str:
        """Evaluate an expression on ``host``'s node through ssh and the release's own script.

        relx: an Erlang expression via ``bin/<rel> eval`` (erl_call ``-e``; output is erl_call's
        rendering of the result: atoms unquoted, strings as ``"..."`` without escapes, floats
        with six decimals, binaries as ``#Bin<...>``). mix: an Elixir expression via
        ``bin/<rel> rpc``; the output is whatever the expression prints.
        """
        node = self._node(host)
        if node.layout.flavor == "relx":
            expr = expr.strip()
            if not expr.endswith("."):
                expr += "."
            proc = self.release(host, "eval", expr, timeout=timeout)
        else:
            proc = self.release(host, "rpc", expr, timeout=timeout)
        return _checked(proc, f"eval on {host} ({node.node_name or node.sname}) of {expr!r}").stdout.strip()

    def ping(self, host: str) -> str:
        """``pong`` if ``host``'s node answers (relx ``ping``; mix: an rpc printing pong)."""
        node = self._node(host)
        if node.layout.flavor == "relx":
            proc = self.release(host, "ping")
        else:
            proc = self.release(host, "rpc", "IO.puts(:pong)")
        return proc.stdout.strip() if proc.returncode == 0 else f"error {proc.returncode}: {proc.stdout.strip()}"

    # -- internals: infrastructure ------------------------------------------------------------

    def _host_names(self) -> List[str]:
        return [f"node{i}" for i in range(1, self.count + 1)]

    def _node(self, host: str) -> Node:
        try:
            return self.nodes[host]
        except KeyError:
            raise FleetError(f"{host!r}: no such host in this fleet (hosts: {', '.join(self.nodes)})") from None

    def _log(self, name: str):
        fh = open(self.dir / name, "ab")  # closed in stop()
        self._logs.append(fh)
        return fh

    def _start_epmd(self) -> None:
        epmd = shutil.which("epmd")
        if epmd is None:
            raise FleetError("epmd not found on PATH")
        for _unused in range(5):
            port = free_port()
            popen = subprocess.Popen(
                [epmd, "-port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=self._log("epmd.log"),
                stderr=subprocess.STDOUT,
                env={**_base_env(), "ERL_EPMD_PORT": str(port)},
            )
            self._epmd, self._epmd_proc, self.epmd_port = popen, Proc.of(popen.pid, "epmd"), port
            if _await(lambda p=port: port_accepts(p), 5, popen):
                return
            popen.kill()
            popen.wait()
        raise FleetError(f"epmd did not start; see {self.dir / 'epmd.log'}")

    def _start_sshd(self) -> None:
        self.ssh_dir.mkdir(mode=0o700, exist_ok=True)
        host_key = self.ssh_dir / "ssh_host_ed25519_key"
        for key in (host_key, self.key_path):
            if not key.exists():
                _checked(
                    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"fleet {self.dir}", "-f", str(key)]),
                    f"ssh-keygen {key}",
                )
        authorized = self.ssh_dir / "authorized_keys"
        shutil.copyfile(self.key_path.with_suffix(".pub"), authorized)
        authorized.chmod(0o600)
        if not PRIVSEP_DIR.is_dir():
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        sftp = next((p for p in SFTP_SERVER_CANDIDATES if os.path.exists(p)), None)
        config = self.dir / "sshd_config"
        for _unused in range(5):
            port = free_port()
            lines = [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"PidFile {self.dir / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                f"AllowUsers {self.user}",
                "StrictModes no",
                "UsePAM no",
                "PrintMotd no",
                "MaxStartups 50:30:100",
                "MaxSessions 50",
                f"SetEnv ERL_EPMD_PORT={self.epmd_port}",
                "LogLevel INFO",
            ]
            if sftp:
                lines.append(f"Subsystem sftp {sftp}")
            config.write_text("\n".join(lines) + "\n")
            _checked(_run([SSHD, "-t", "-f", str(config)]), f"{SSHD} -t -f {config}")
            popen = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=self._log("sshd.log"),
                stderr=subprocess.STDOUT,
                env=_base_env(),
            )
            self._sshd, self._sshd_proc, self.sshd_port = popen, Proc.of(popen.pid, "sshd"), port
            if _await(lambda p=port: port_accepts(p), 10, popen):
                break
            popen.kill()
            popen.wait()
        else:
            raise FleetError(f"sshd did not start; see {self.dir / 'sshd.log'}")
        host_pub = host_key.with_suffix(".pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        last = None

        def ssh_ok() -> bool:
            nonlocal last
            last = _run([*self.ssh_argv(), "true"], timeout=15)
            return last.returncode == 0

        if not _await(ssh_ok, 15, self._sshd):
            raise FleetError(
                f"sshd on 127.0.0.1:{port} does not accept the fleet key: {last.stderr.strip() if last else ''}; "
                f"see {self.dir / 'sshd.log'}"
            )

    # -- internals: nodes ---------------------------------------------------------------------

    def _start_node(self, host: str) -> None:
        root = self.dir / "nodes" / host
        root.mkdir(parents=True)
        tarball = self.tarball_of(host)
        _checked(_run(["tar", "-xzf", str(tarball), "-C", str(root)], timeout=120), f"{host}: unpack {tarball}")
        layout = Layout.detect(root, self.name)
        sname = f"{self.name}_{host}_{self.sshd_port}"
        node = Node(host=host, root=root, layout=layout, sname=sname)
        self.nodes[host] = node
        configure_release(root, layout, sname, self.cookie)
        env = {**_base_env(), "ERL_EPMD_PORT": str(self.epmd_port)}
        # The relx script waits (forever) until the node answers; bound that wait ourselves.
        log = self._log(f"{host}.start.log")
        starter = subprocess.Popen(
            [str(node.script), "daemon"],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            starter.wait(timeout=self.start_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(starter.pid, signal.SIGKILL)  # the script's own session: we created it
            starter.wait()
            self._adopt_strays(node)
            raise FleetError(f"{host}: {node.script} daemon did not return in {self.start_timeout}s") from None
        if starter.returncode != 0:
            self._adopt_strays(node)
            raise FleetError(f"{host}: {node.script} daemon exited {starter.returncode}; see {log.name}")
        # One call answers both "is it up" and "who is it": node name and beam OS pid.
        probe = (
            ["eval", "{node(), os:getpid()}."]
            if layout.flavor == "relx"
            else ["rpc", 'IO.puts("#{node()} #{System.pid()}")']
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            out = _run([str(node.script), *probe], cwd=root, env=env, timeout=60)
            found = re.search(r"([A-Za-z0-9_.@-]+@[A-Za-z0-9_.-]+)\W+\"?(\d+)", out.stdout)
            if out.returncode == 0 and found:
                break
            if time.monotonic() > deadline:
                self._adopt_strays(node)
                raise FleetError(
                    f"{host}: node {sname} does not answer ({shlex.join(probe)}): {out.stdout.strip()} "
                    f"{out.stderr.strip()}"
                )
            time.sleep(0.2)
        node.node_name = found.group(1)
        beam = Proc.of(int(found.group(2)), "beam")
        if beam is None:
            raise FleetError(f"{host}: beam pid {found.group(2)} reported by {node.node_name} does not exist")
        node.procs.append(beam)
        # relx: run_erl -> beam; mix: run_erl -> sh -c "exec erl ..." -> beam.
        chain: List[Proc] = []
        pid = beam.ppid
        for _unused in range(3):
            comm = _comm(pid)
            if pid <= 1 or comm not in ("run_erl", "sh", "dash", "bash"):
                break
            proc = Proc.of(pid, "run_erl" if comm == "run_erl" else f"run_erl-child:{comm}")
            if proc is None:
                break
            chain.append(proc)
            if comm == "run_erl":
                node.procs.extend(chain)
                break
            pid = proc.ppid
        for child in _children(beam.pid):
            proc = Proc.of(child, f"beam-child:{_comm(child)}")
            if proc is not None:
                node.procs.append(proc)

    def _adopt_strays(self, node: Node) -> None:
        """Record processes running from ``node.root`` (so a half-started node is still stopped)."""
        known = {p.pid for p in node.procs}
        for pid in _procs_using(node.root):
            if pid not in known:
                proc = Proc.of(pid, f"stray:{_comm(pid)}")
                if proc is not None:
                    node.procs.append(proc)

    def _stop_node(self, node: Node) -> None:
        env = {**_base_env(), "ERL_EPMD_PORT": str(self.epmd_port)}
        beam = node.beam
        if beam is not None and beam.alive():
            try:
                _run([str(node.script), "stop"], cwd=node.root, env=env, timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass  # the script's child was killed by subprocess.run; SIGKILL below
            _wait_gone([beam], 5)
        self._adopt_strays(node)
        for proc in node.procs:
            proc.kill(signal.SIGKILL)
        if not _wait_gone(node.procs, 10):
            alive = [f"{p.label}={p.pid}" for p in node.procs if p.alive()]
            raise FleetError(f"{node.host}: still alive after SIGKILL: {', '.join(alive)}")
        if node.layout.flavor == "relx":
            # the relx script's default pipe dir; the node name makes it this node's own
            pipes = Path("/tmp/erl_pipes") / node.node_name
            if node.node_name and pipes.is_dir():
                shutil.rmtree(pipes, ignore_errors=True)

    def _write_inventory(self) -> None:
        common = {
            "ansible_host": "127.0.0.1",
            "ansible_port": self.sshd_port,
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": str(self.key_path),
            "ansible_ssh_common_args": f"-o StrictHostKeyChecking=no -o UserKnownHostsFile={self.known_hosts}",
            "ansible_python_interpreter": PYTHON_INTERPRETER,
        }
        hosts = {
            node.host: {
                **common,
                "otp_release_name": node.release_name,
                "otp_release_root": str(node.root),
                "otp_release_node": node.node_name,
            }
            for node in self.nodes.values()
        }
        children: dict = {"fleet": {"hosts": hosts}}
        for group, members in self.groups.items():
            children[group] = {"hosts": {host: None for host in members}}
        self.inventory = {"all": {"children": children}}
        # JSON is YAML: the yaml inventory plugin reads this file, and no YAML library is needed.
        tmp = self.inventory_path.with_name(f".{self.inventory_path.name}.tmp")
        tmp.write_text(json.dumps(self.inventory, indent=2) + "\n")
        os.replace(tmp, self.inventory_path)


def _in_parallel(fn, items: Sequence) -> List[BaseException]:
    """Run ``fn(item)`` for every item in threads; the exceptions raised, in item order.

    Plain threads, not an executor: ``concurrent.futures`` refuses new work once the interpreter
    is shutting down, which is exactly when the ``atexit`` hook needs to stop a fleet.
    """
    failures: List[Optional[BaseException]] = [None] * len(items)

    def run(i: int) -> None:
        try:
            fn(items[i])
        except BaseException as exc:  # reported to the caller
            failures[i] = exc

    started: List[threading.Thread] = []
    for i in range(len(items)):
        thread = threading.Thread(target=run, args=(i,), daemon=True)
        try:
            thread.start()
        except RuntimeError:  # cannot start threads (late in shutdown): run it here
            run(i)
            continue
        started.append(thread)
    for thread in started:
        thread.join()
    return [f for f in failures if f is not None]


_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BUILTIN_GROUPS = ("all", "fleet", "ungrouped")


def _json_default(value: object) -> str:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{value!r} ({type(value).__name__}) is not a YAML value")


def _base_env() -> Dict[str, str]:
    """A small, explicit environment for the processes the fleet starts."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ")}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
    env.setdefault("HOME", str(Path.home()))
    return env


def _await(cond, timeout: float, popen: Optional[subprocess.Popen] = None) -> bool:
    """Poll ``cond`` until true; False on timeout or when ``popen`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        if popen is not None and popen.poll() is not None:
            return False
        time.sleep(0.05)
    return False
