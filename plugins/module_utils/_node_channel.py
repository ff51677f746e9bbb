# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control channel: run the control escript against a release node and read its one reply.

PRIVATE to the erlang.otp collection: may change at any time.

Each call writes the escript (:mod:`._control_escript`) into a private ``0700`` temporary
directory, runs it with the release's own ``erts-<vsn>/bin/escript`` (the system ``escript`` when
the release bundles no ERTS) through ``/bin/sh``, which enters that directory and sets only
non-secret variables (``ERL_EPMD_PORT``), sends the request (node, cookie, operation) on
**stdin**, parses the reply with :mod:`._term_text`, and deletes the directory. The cookie is never
on a command line or in an environment, and is masked in every message this module builds.
Inside :meth:`NodeChannel.session` the calls share one control node instead (the escript's
``session`` mode, through ``subprocess`` pipes): a module making several calls starts one VM.

``run_command(argv, data=bytes) -> (rc, stdout, stderr)`` is injected (:func:`module_runner` adapts
``AnsibleModule.run_command``; outside Ansible, a ``subprocess.run`` wrapper does).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import pwd
import shutil
import socket
import subprocess
import tempfile

from ansible_collections.erlang.otp.plugins.module_utils._control_escript import REPLY_END_MARKER, REPLY_MARKER, render
from ansible_collections.erlang.otp.plugins.module_utils._node_target import (
    DiscoveryError,
    NodeTarget,
    ProcInfo,
    discover_target,
)
from ansible_collections.erlang.otp.plugins.module_utils._term_text import TermSyntaxError, format_term, parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, canonical

__all__ = [
    "DiscoveryError",
    "EvalError",
    "NodeCallError",
    "NodeChannel",
    "NodeDown",
    "discover",
    "expected_terms",
    "flat_text",
    "local_io",
    "module_runner",
    "plain",
    "same_term",
]

MASK = "********"

# $1 = directory to enter, then NAME=value words up to "--", then the command.
_WRAPPER = (
    'cd "$1" || exit 2; shift; '
    "unset ERL_FLAGS ERL_AFLAGS ERL_ZFLAGS ESCRIPT_EMULATOR ERL_LIBS; "
    'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do export "$1"; shift; done; shift; '
    'exec "$@"'
)


class NodeDown(Exception):
    """The node cannot be reached (not running, wrong cookie, wrong host); names node and host."""

    def __init__(self, message: str, node: str | None = None, diagnosis: object = None) -> None:
        super().__init__(message)
        self.node = node
        self.diagnosis = diagnosis


class NodeCallError(Exception):
    """A call reached the node but failed (badrpc, timeout), or the escript itself failed."""

    def __init__(self, message: str, reason: object = None) -> None:
        super().__init__(message)
        self.reason = reason


class EvalError(NodeCallError):
    """:meth:`NodeChannel.eval` failed. ``kind``: ``parse`` (the text does not scan or parse),
    ``exception`` (raised on the node; ``reason`` is ``(Class, Reason, Stack)``), ``timeout``,
    ``nodedown`` (the node went away during the call) or ``badrpc``."""

    def __init__(self, message: str, kind: str, reason: object = None) -> None:
        super().__init__(message, reason)
        self.kind = kind


# ---------------------------------------------------------------------------------------------
# comparing values (pure)
# ---------------------------------------------------------------------------------------------


def flat_text(term: object) -> str:
    """``term`` on one line, as ``io_lib:format("~tp")`` lays out a term that fits."""
    return format_term(term, width=1 << 62)


def expected_terms(texts: list, what: str = "expect") -> list:
    """Each text parsed as one Erlang term (the final ``.`` may be left out).

    ``ValueError`` names the entry (``expect[1]``), its text and what is wrong with it.
    """
    out = []
    for i, raw in enumerate(texts):
        source = f"{what}[{i}]"
        body = str(raw).strip()
        if not body:
            raise ValueError(f"{source}: empty: give an Erlang term such as ok or {{ok, true}}")
        try:
            out.append(parse_one(body if body.endswith(".") else body + ".", source))
        except TermSyntaxError as exc:
            raise ValueError(f"{source} {body!r} is not an Erlang term: {exc}") from None
    return out


def _strict(term: object) -> object:
    """canonical() output with integers and floats kept apart (``1 =/= 1.0``, as ``=:=``)."""
    if isinstance(term, float):
        return ("$float", term)  # canonical() turned every str into a list: no term looks like this
    if isinstance(term, list):
        return [_strict(t) for t in term]
    if isinstance(term, tuple):
        return tuple(_strict(t) for t in term)
    if isinstance(term, dict):
        return {_strict(k): _strict(v) for k, v in term.items()}
    return term


def same_term(a: object, b: object) -> bool:
    """Whether two decoded terms are the same Erlang term (``=:=``): ``"ab"`` is ``[97,98]``."""
    return _strict(canonical(a)) == _strict(canonical(b))


# ---------------------------------------------------------------------------------------------
# runners and local I/O
# ---------------------------------------------------------------------------------------------


def module_runner(module):
    """``run_command`` for :class:`NodeChannel` from an ``AnsibleModule`` (bytes in, bytes out)."""

    def run(argv, data=None):
        return module.run_command(
            argv, data=data, binary_data=True, encoding=None, expand_user_and_vars=False, check_rc=False
        )

    return run


def _read_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _list_dir(path: str) -> list:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _home(uid: int | None) -> str | None:
    try:
        return pwd.getpwuid(os.getuid() if uid is None else uid).pw_dir
    except KeyError:
        return os.environ.get("HOME") if uid is None else None


_PROC_ENV = (b"ERL_EPMD_PORT=", b"HOME=")


def _proc_cmdlines():
    """Every process of ``/proc`` whose argv mentions ``-root`` (the beam family), as ProcInfo."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        base = f"/proc/{entry}"
        try:
            with open(base + "/cmdline", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        argv = [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
        if "-root" not in argv and "-boot" not in argv:
            continue
        uid = None
        env: dict = {}
        try:
            uid = os.stat(base).st_uid
            with open(base + "/environ", "rb") as fh:
                for item in fh.read().split(b"\0"):
                    if item.startswith(_PROC_ENV):
                        key, _sep, value = item.decode("utf-8", "replace").partition("=")
                        env[key] = value
        except OSError:
            pass  # another user's process: argv is public, its environment is not
        yield ProcInfo(int(entry), argv, uid, env)


def local_io(root: str) -> dict:
    """The real I/O callables for :func:`._node_target.discover_target` on this host."""
    try:
        owner = os.stat(root).st_uid
    except OSError:
        owner = None
    return {
        "read_file": _read_file,
        "proc_cmdlines": _proc_cmdlines,
        "home": _home,
        "list_dir": _list_dir,
        "realpath": os.path.realpath,
        "root_owner": owner,
        "environ": dict(os.environ),
    }


def discover(root, name=None, node=None, cookie=None, name_type=None, environ=None) -> NodeTarget:
    """:func:`._node_target.discover_target` with this host's files, processes and environment."""
    io = local_io(root)
    if environ is not None:
        io["environ"] = dict(environ)
    return discover_target(root, name, node, cookie, name_type, **io)


# ---------------------------------------------------------------------------------------------
# terms -> Python
# ---------------------------------------------------------------------------------------------


def plain(term: object) -> object:
    """A decoded reply term as JSON-friendly Python: atoms -> str (true/false -> bool, undefined ->
    None), tuples -> lists, binaries -> str (UTF-8) or hex, map keys -> str."""
    if isinstance(term, Atom):
        if term == Atom("true"):
            return True
        if term == Atom("false"):
            return False
        if term == Atom("undefined"):
            return None
        return str(term)
    if isinstance(term, bytes):
        try:
            return term.decode("utf-8")
        except UnicodeDecodeError:
            return term.hex()
    if isinstance(term, (list, tuple)):
        return [plain(t) for t in term]
    if isinstance(term, dict):
        return {str(plain(k)) if not isinstance(k, str) else str(k): plain(v) for k, v in term.items()}
    if isinstance(term, (str, int, float)) or term is None:
        return term
    return repr(term)


def _ms(seconds: float) -> int:
    return max(1, round(float(seconds) * 1000))


# frames of the evaluation itself, not of the expression
_MACHINERY = (Atom("erl_eval"), Atom("erpc"), Atom("rpc"))


def _first_frame(stack: object) -> str:
    """`` in m:f/1 (file.erl, line 3)`` for the first frame of the expression's own calls, or ``""``."""
    for frame in stack if isinstance(stack, list) else []:
        if not (isinstance(frame, tuple) and len(frame) == 4) or frame[0] in _MACHINERY:
            continue
        loc = {}
        for item in frame[3] if isinstance(frame[3], list) else []:
            if isinstance(item, tuple) and len(item) == 2:
                loc[str(item[0])] = item[1]
        at = f" ({loc['file']}, line {loc['line']})" if "file" in loc and "line" in loc else ""
        return f" in {flat_text(frame[0])}:{flat_text(frame[1])}/{flat_text(frame[2])}{at}"
    return ""


def _cut(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


def _atom(value: object) -> str:
    return str(value) if isinstance(value, Atom) else ""


# ---------------------------------------------------------------------------------------------
# the channel
# ---------------------------------------------------------------------------------------------


class NodeChannel:
    """Calls on the node of a :class:`._node_target.NodeTarget`: one escript run per call, or one
    for all the calls inside ``with channel.session():``."""

    def __init__(self, target: NodeTarget, run_command, *, connect_timeout: float = 10, escript: str | None = None):
        self.target = target
        self.run_command = run_command
        self.connect_timeout = connect_timeout
        self._escript = escript
        self.host = socket.gethostname()
        self._session: _Session | None = None

    # -- public API ----------------------------------------------------------------------------

    def ping(self, timeout: float = 10) -> bool:
        """True when the node answers; False when it is down or refuses us (see :meth:`check`)."""
        try:
            self._call("ping", timeout=timeout, connect_timeout=min(self.connect_timeout, timeout))
        except NodeDown:
            return False
        return True

    def check(self, timeout: float = 10) -> None:
        """Like :meth:`ping` but raises :class:`NodeDown` with the reason (down, cookie, host)."""
        self._call("ping", timeout=timeout, connect_timeout=min(self.connect_timeout, timeout))

    def rpc(self, module: str, function: str, args: list, timeout: float) -> object:
        """``rpc:call(Node, Module, Function, Args, Timeout)``; the decoded result.

        ``{badrpc, Reason}`` raises :class:`NodeCallError` (``reason`` holds ``Reason``).
        """
        return self._call("rpc", args=[Atom(module), Atom(function), list(args)], timeout=timeout)

    def install_release(
        self, vsn: str, options: list, timeout: float, *, settle: float = 3, restart_wait: float = 60
    ) -> dict:
        """``release_handler:install_release(Vsn, Options)`` watched with ``monitor_node``.

        Returns ``result`` (the handler's reply term, None when the rpc failed), ``badrpc`` (the
        rpc failure, e.g. ``Atom('nodedown')``/``Atom('timeout')``, else None), ``node_down``
        (the node went away after the call: ``nodedown``, init stopping, or a new
        ``release_handler``), ``node_back`` (it answers again, within ``restart_wait``),
        ``node_restarted`` (down and back: a fresh VM or ``init:restart()``), ``elapsed`` (s), and
        ``before``/``after`` (``release_handler`` pid and uptime). After an error reply the node is
        watched for ``settle`` seconds before it is declared untouched.
        """
        reply = self._call(
            "install_release",
            args=[str(vsn), list(options)],
            timeout=timeout,
            extra={Atom("settle"): _ms(settle), Atom("restart_wait"): _ms(restart_wait)},
        )
        out = {str(k): v for k, v in reply.items()}
        return {
            "result": None if out.get("result") == Atom("undefined") else out.get("result"),
            "badrpc": None if out.get("badrpc") == Atom("undefined") else out.get("badrpc"),
            "node_down": out.get("node_down") == Atom("true"),
            "node_back": out.get("node_back") == Atom("true"),
            "node_restarted": out.get("node_restarted") == Atom("true"),
            "elapsed": out.get("elapsed_ms", 0) / 1000.0,
            "before": plain(out.get("before")),
            "after": plain(out.get("after")),
        }

    def facts(self, md5: bool = False, timeout: float = 30) -> dict:
        """Everything ``release_info`` needs in one round trip (see the escript's facts_expr),
        keys as str, values as decoded terms (``which_releases`` etc. are ``{ok, X} | {error, Y}``)."""
        reply = self._call("facts", timeout=timeout, extra={Atom("md5"): Atom("true" if md5 else "false")})
        return {str(k): v for k, v in reply.items()}

    def eval(self, text: str, timeout: float = 10) -> object:
        """Evaluate Erlang expressions (``erl_eval``, the final ``.`` optional) on the node; the value.

        The text is parsed by the control node first. Raises :class:`EvalError` for text that does
        not parse, an exception raised on the node, a timeout or a node that went down.
        """
        try:
            return self._call("eval", args=[str(text)], timeout=timeout)
        except NodeDown:
            raise
        except NodeCallError as exc:
            raise self._eval_error(exc, timeout) from None

    def _eval_error(self, exc: NodeCallError, timeout: float) -> Exception:
        node = self.target.node
        reason = exc.reason
        kind = _atom(reason[0]) if isinstance(reason, tuple) and reason else ""
        if kind == "parse" and len(reason) == 3:
            message = reason[2] if isinstance(reason[2], str) else flat_text(reason[2])
            return EvalError(f"the expression is not valid Erlang: line {reason[1]}: {message}", "parse", reason)
        if kind == "exception" and len(reason) == 4:
            cls, why, stack = reason[1:]
            where = _first_frame(stack)
            text = _cut(flat_text(why))
            return EvalError(f"node {node}: the expression raised {cls}:{text}{where}", "exception", (cls, why, stack))
        if reason == Atom("timeout"):
            return EvalError(f"node {node}: the expression did not return within {timeout:g} s", "timeout", reason)
        if reason == Atom("nodedown"):
            return EvalError(f"node {node}: the node went down while evaluating the expression", "nodedown", reason)
        return EvalError(str(exc), "badrpc", reason)

    def loaded_md5s(self, timeout: float = 30) -> dict:
        """``{module: md5 hex}`` of every module loaded on the node."""
        loaded = self.facts(md5=True, timeout=timeout).get("loaded") or []
        return {str(mod): md5.hex() for mod, md5, _path in loaded if isinstance(md5, bytes)}

    # -- machinery -----------------------------------------------------------------------------

    def _mask(self, text: str) -> str:
        cookie = self.target.cookie
        return text.replace(cookie, MASK) if cookie else text

    def _escript_path(self) -> str:
        if self._escript:
            return self._escript
        erts = self.target.erts_dir
        if erts:
            candidate = posixpath.join(erts, "bin", "escript")
            if os.access(candidate, os.X_OK):
                return candidate
        found = shutil.which("escript")
        if found:
            return found
        raise NodeCallError(
            f"{self.target.root}: no ERTS with bin/escript under the release root"
            f"{' (' + erts + ')' if erts else ''} and no escript on PATH: install Erlang/OTP of the same "
            "major version on the node"
        )

    def _boot_setup(self, escript: str, workdir: str) -> list:
        """escript boots ``no_dot_erlang``; a release root without ``bin/no_dot_erlang.boot`` (mix)
        gets the release's ``start_clean.boot`` under that name in the working directory."""
        real = os.path.realpath(escript)  # <root>/erts-<v>/bin/escript, or <otp root>/bin/escript
        bindir = posixpath.dirname(real)
        candidates = (posixpath.dirname(bindir), posixpath.dirname(posixpath.dirname(bindir)))
        for candidate in candidates:
            if os.path.isfile(posixpath.join(candidate, "bin", "no_dot_erlang.boot")):
                return []
        erts_root = candidates[-1]
        vsn = self.target.release_vsn
        clean = posixpath.join(self.target.root, "releases", vsn or "", "start_clean.boot")
        if not vsn or not os.path.isfile(clean):
            raise NodeCallError(
                f"{erts_root}: no bin/no_dot_erlang.boot and no releases/{vsn or '<vsn>'}/start_clean.boot "
                "to boot the control escript with"
            )
        shutil.copyfile(clean, posixpath.join(workdir, "no_dot_erlang.boot"))
        lib = posixpath.join(self.target.root, "lib")
        return ["-boot_var", "RELEASE_LIB", lib, "-boot_var", "SYSTEM_LIB_DIR", lib]

    def _code_paths(self) -> list:
        """Custom ``-epmd_module``/``-proto_dist`` modules live in the release's applications."""
        custom = False
        args = self.target.dist_args
        for i in range(0, len(args) - 1, 2):
            if args[i] == "-epmd_module" or (args[i] == "-proto_dist" and args[i + 1] not in ("inet_tcp", "inet6_tcp")):
                custom = True
        if not custom:
            return []
        lib = posixpath.join(self.target.root, "lib")
        out: list = []
        for app in _list_dir(lib):
            ebin = posixpath.join(lib, app, "ebin")
            if os.path.isdir(ebin):
                out.extend(["-pz", ebin])
        return out

    def _request(self, op: str, args, timeout: float, connect_timeout: float, extra: dict | None) -> bytes:
        target = self.target
        req = {
            Atom("node"): target.node,
            Atom("cookie"): target.cookie,
            Atom("name_type"): Atom("longnames" if target.name_type == "name" else "shortnames"),
            Atom("op"): Atom(op),
            Atom("timeout"): _ms(timeout),
            Atom("connect_timeout"): _ms(connect_timeout),
        }
        if args is not None:
            req[Atom("args")] = args
        if self._session is not None:
            req[Atom("session")] = Atom("true")
        req.update(extra or {})
        return (format_term(req) + ".\n").encode("utf-8")

    def _prepare(self, workdir: str) -> list:
        """Write the escript into ``workdir``; the argv that runs it."""
        target = self.target
        escript = self._escript_path()
        flags = [*target.dist_args, *self._boot_setup(escript, workdir), *self._code_paths()]
        try:
            source = render(flags)
        except ValueError as exc:
            raise NodeCallError(f"{target.root}: {exc}") from None
        script = posixpath.join(workdir, "erlang_otp_ctl.escript")
        fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(source)
        env = [f"ERL_EPMD_PORT={target.epmd_port}"] if target.epmd_port else []
        return ["/bin/sh", "-c", _WRAPPER, "erlang-otp-ctl", workdir, *env, "--", escript, script]

    def _call(self, op: str, *, args=None, timeout: float = 60, connect_timeout: float | None = None, extra=None):
        target = self.target
        target.require()
        connect_timeout = self.connect_timeout if connect_timeout is None else connect_timeout
        what = op if op != "rpc" else f"{args[0]}:{args[1]}/{len(args[2])}"
        request = self._request(op, args, timeout, connect_timeout, extra)
        if self._session is not None:
            rc, out, err = self._session.call(request)
            return self._reply(what, rc, self._mask(out), self._mask(err))
        workdir = tempfile.mkdtemp(prefix="erlang-otp-ctl-")
        try:
            os.chmod(workdir, 0o700)
            argv = self._prepare(workdir)
            rc, out, err = self.run_command(argv, data=request)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        out = out.decode("utf-8", "replace") if isinstance(out, bytes) else (out or "")
        err = err.decode("utf-8", "replace") if isinstance(err, bytes) else (err or "")
        return self._reply(what, rc, self._mask(out), self._mask(err))

    @contextlib.contextmanager
    def session(self):
        """Make the calls inside ``with`` share one control node (one VM start instead of one per call).

        The control node starts with the first call and stops when the block ends. A call that
        kills it (the deadline passed) is reported as usual, and the next call starts a new one.
        Nested blocks share the outer session.
        """
        if self._session is not None:
            yield self
            return
        self._session = _Session(self)
        try:
            yield self
        finally:
            session, self._session = self._session, None
            session.close()

    def _reply(self, what: str, rc: int | None, out: str, err: str):
        """The reply after the last marker of ``out``; ``rc`` None: a session's, from ``Info``."""
        target = self.target
        node = target.node
        _before, marker, body = out.rpartition(REPLY_MARKER)
        if not marker:
            detail = (err.strip() or out.strip() or f"exit status {rc}")[-2000:]
            raise NodeCallError(f"control escript for node {node} ({what}) gave no reply: {detail}")
        try:
            reply = parse_one(body, "control escript reply")
        except TermSyntaxError as exc:
            raise NodeCallError(f"control escript for node {node} ({what}): unreadable reply: {exc}") from None
        if not (isinstance(reply, tuple) and len(reply) == 3 and _atom(reply[0]) in ("ok", "error")):
            raise NodeCallError(f"control escript for node {node} ({what}): unexpected reply {format_term(reply)}")
        status, value, info = reply
        if rc is None:
            rc = info.get(Atom("exit"), 2) if isinstance(info, dict) else 2
        full = info.get(Atom("node")) if isinstance(info, dict) else None
        if isinstance(full, Atom) and "@" in full:
            node = str(full)
            if target.node and "@" not in target.node:
                target.node = node
        if _atom(status) == "ok":
            return value
        if rc == 2 or (isinstance(value, tuple) and value and _atom(value[0]) in _DOWN):
            raise self._down(node, value)
        if isinstance(value, tuple) and len(value) == 2 and value[0] == Atom("badrpc"):
            raise NodeCallError(f"node {node}: {what} failed: {format_term(value[1])}", value[1])
        raise NodeCallError(f"node {node}: {what} failed: {format_term(value)}", value)

    def _down(self, node: str, reason: object) -> Exception:
        kind = _atom(reason[0]) if isinstance(reason, tuple) and reason else ""
        host = self.host
        port = self.target.epmd_port or "4369"
        cookie_from = self.target.source.get("cookie", "?")
        if kind == "cannot_connect":
            diag = reason[2]
            alive = node.partition("@")[0]
            if diag == Atom("not_registered"):
                why = (
                    f"epmd (port {port}) on its host knows no node named {alive}: the node is not running, "
                    "or it registered with another epmd (ERL_EPMD_PORT)"
                )
            elif isinstance(diag, tuple) and diag and diag[0] == Atom("registered"):
                why = (
                    f"the node is up (epmd lists it with distribution port {diag[1]}) but refused the "
                    f"connection: wrong cookie (ours came from {cookie_from}) or another distribution "
                    "protocol (-proto_dist)"
                )
            elif isinstance(diag, tuple) and diag and diag[0] == Atom("epmd_unreachable"):
                why = f"no epmd answers on port {port} of its host ({format_term(diag[1])}): no node runs there"
            elif isinstance(diag, tuple) and diag and diag[0] == Atom("host_unknown"):
                why = f"its host name does not resolve ({format_term(diag[1])})"
            else:
                why = "connection refused (node down, wrong cookie, or epmd-less distribution)"
            return NodeDown(f"node {node} is not reachable from {host}: {why}", node, plain(diag))
        if kind == "connect_timeout":
            return NodeDown(f"node {node} is not reachable from {host}: connecting timed out", node, "timeout")
        if kind == "distribution_failed":
            return NodeDown(
                f"cannot reach node {node} from {host}: the control node {reason[1]} could not start "
                f"distribution with {reason[2]} (is the host part of the node name right for "
                f"-{self.target.name_type}?)",
                node,
                "distribution_failed",
            )
        return NodeCallError(f"control escript for node {node} failed: {format_term(reason)}", reason)


_DOWN = ("cannot_connect", "connect_timeout", "distribution_failed")


class _Session:
    """One control node kept running for several calls (``session => true``; see the escript's
    "Sessions"). Started by the first call; its directory (escript, boot file, stderr) lives until
    :meth:`close`. Standard error goes to a file there, so a chatty logger can never block it."""

    def __init__(self, channel: NodeChannel) -> None:
        self.channel = channel
        self.workdir: str | None = None
        self.argv: list | None = None
        self.proc: subprocess.Popen | None = None
        self.err = None

    def _start(self) -> subprocess.Popen:
        if self.argv is None:
            self.workdir = tempfile.mkdtemp(prefix="erlang-otp-ctl-")
            os.chmod(self.workdir, 0o700)
            self.argv = self.channel._prepare(self.workdir)
        argv = self.argv
        if self.err is not None:
            self.err.close()
        # both live until close(): pylint: disable-next=consider-using-with
        self.err = open(posixpath.join(self.workdir, "stderr"), "w+b")
        # run_command cannot keep a process open for several requests: pipes of our own
        return subprocess.Popen(  # pylint: disable=consider-using-with,ansible-bad-function
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err
        )

    def call(self, request: bytes) -> tuple:
        """``(rc, out, err)``: rc None when the reply came within the session (its status is in
        the reply), else the exit status of a control node that ended."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        proc = self.proc
        end = REPLY_END_MARKER.encode()
        lines = []
        try:
            proc.stdin.write(request)
            proc.stdin.flush()
            for line in iter(proc.stdout.readline, b""):
                if line.rstrip(b"\r\n") == end:
                    return None, b"".join(lines).decode("utf-8", "replace"), ""
                lines.append(line)
        except (BrokenPipeError, OSError):
            pass
        # the control node ended without finishing its reply (deadline, crash): report as one call
        self.proc = None
        try:
            proc.stdin.close()
        except OSError:
            pass
        lines.append(proc.stdout.read())
        rc = proc.wait()
        self.err.seek(0)  # the next control node gets a fresh file (_start)
        err = self.err.read().decode("utf-8", "replace")
        return rc, b"".join(lines).decode("utf-8", "replace"), err

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                proc.stdin.close()  # end of input: the control node halts
            except OSError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()  # our own child, by its Popen
                proc.wait()
            proc.stdout.close()
        if self.err is not None:
            self.err.close()
            self.err = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
            self.argv = None
