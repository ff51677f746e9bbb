# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which node runs a release root, and how to reach it: node name, name type, cookie, dist flags.

PRIVATE to the erlang.otp collection: may change at any time.

:func:`discover_target` is pure: every file, process list and home directory comes through the
callables it is given, so the whole discovery order is unit-testable. :mod:`._node_channel`
supplies the real ones (:func:`._node_channel.discover`).

Discovery order (first hit wins, per item):

1. task options ``node``, ``cookie``, ``name_type``;
2. the running VM: the ``beam`` process whose ``-root`` is the release root (or whose ``-boot``,
   ``-config`` or ``-progname`` lies under it, for releases running on a system ERTS) and which
   has a ``-name``/``-sname``. Its argv (erlexec flattens ``vm.args`` onto it) gives the node name,
   name type, ``-setcookie`` (else ``$HOME/.erlang.cookie`` of its ``-home``), the distribution
   flags and ``-epmd_port`` (erlexec's spelling of ``ERL_EPMD_PORT``), its ``-bindir`` the ERTS;
3. the release files: relx ``vm.args`` (``VMARGS_PATH``, ``<root>/vm.args`` or
   ``releases/<vsn>/vm.args``; a ``.src`` template rendered with ``${VAR}``/``${VAR:-default}`` from
   the environment, as the relx script does; ``-args_file`` chains followed; cookie precedence
   ``RELX_COOKIE`` > ``-setcookie``); mix ``releases/<vsn>/env.sh`` (``RELEASE_NODE``,
   ``RELEASE_COOKIE``, ``RELEASE_DISTRIBUTION``, top-level assignments only) and
   ``releases/COOKIE``, with the launcher's defaults (node = release name, ``sname``);
4. ``~/.erlang.cookie`` of the service user (the VM's owner, else the release root's owner, else
   the user running the module).

The cookie is kept in :attr:`NodeTarget.cookie` and nowhere else: ``repr``, :meth:`NodeTarget.facts`
and every error message leave it out.
"""

from __future__ import annotations

import posixpath
import re

from ansible_collections.erlang.otp.plugins.module_utils._term_text import TermSyntaxError, parse_one
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom, text

__all__ = [
    "DIST_FLAGS",
    "DiscoveryError",
    "NodeTarget",
    "ProcInfo",
    "discover_release_name",
    "discover_target",
    "envsubst",
    "parse_cmdline",
    "parse_env_sh",
    "parse_vm_args",
    "tokenize_args",
]

#: Distribution flags passed through to the control node (each with one value).
DIST_FLAGS = ("-proto_dist", "-epmd_module", "-erl_epmd_port", "-ssl_dist_optfile")

NAME_TYPES = ("name", "sname")


class DiscoveryError(ValueError):
    """The node behind a root cannot be determined; the message says what was tried (never the cookie)."""


class ProcInfo:
    """One process as :func:`discover_target` sees it.

    ``env`` holds only the variables discovery uses (``ERL_EPMD_PORT``, ``HOME``); ``uid`` is the
    real uid of the process owner, or None when unknown.
    """

    __slots__ = ("argv", "env", "pid", "uid")

    def __init__(self, pid: int, argv: list, uid: int | None = None, env: dict | None = None) -> None:
        self.pid = pid
        self.argv = list(argv)
        self.uid = uid
        self.env = dict(env or {})

    def __repr__(self) -> str:
        return f"ProcInfo(pid={self.pid}, uid={self.uid})"


class NodeTarget:
    """Everything needed to reach the node of a release root.

    ``node`` may lack ``@host`` (``-sname shop`` in vm.args): the control escript completes it with
    its own host part, computed the way the node computed its own; :mod:`._node_channel` writes the
    completed name back here after the first call.
    """

    def __init__(
        self,
        root: str,
        release_name: str | None,
        node: str | None,
        name_type: str,
        cookie: str | None,
        dist_args: list | None = None,
        erts_dir: str | None = None,
        source: dict | None = None,
        *,
        release_vsn: str | None = None,
        epmd_port: str | None = None,
        pid: int | None = None,
        problems: list | None = None,
    ) -> None:
        self.root = root
        self.release_name = release_name
        self.release_vsn = release_vsn
        self.node = node
        self.name_type = name_type
        self.cookie = cookie
        self.dist_args = list(dist_args or [])
        self.erts_dir = erts_dir
        self.source = dict(source or {})
        self.epmd_port = epmd_port
        self.pid = pid
        self.problems = list(problems or [])

    def __repr__(self) -> str:
        return (
            f"NodeTarget(root={self.root!r}, release={self.release_name!r}, node={self.node!r}, "
            f"name_type={self.name_type!r}, cookie={'<set>' if self.cookie else None}, "
            f"dist_args={self.dist_args!r}, erts_dir={self.erts_dir!r})"
        )

    __str__ = __repr__

    @property
    def running(self) -> bool:
        """A VM running this release was found in the process list."""
        return self.pid is not None

    def require(self) -> None:
        """Raise :class:`DiscoveryError` when node name or cookie is still unknown."""
        if not self.node or not self.cookie:
            missing = [what for what, value in (("node name", self.node), ("cookie", self.cookie)) if not value]
            tried = "; ".join(self.problems) or "nothing found"
            raise DiscoveryError(
                f"{self.root}: cannot tell the {' and '.join(missing)} of the release node ({tried}); "
                "set the node and cookie options"
            )

    def facts(self) -> dict:
        """A result-safe description (no cookie)."""
        return {
            "node": self.node,
            "name_type": self.name_type,
            "dist_args": list(self.dist_args),
            "epmd_port": self.epmd_port,
            "erts_dir": self.erts_dir,
            "os_pid": self.pid,
            "source": dict(self.source),
        }


# ---------------------------------------------------------------------------------------------
# argument files and command lines
# ---------------------------------------------------------------------------------------------


def tokenize_args(data: str) -> list:
    """``[(token, line)]`` of an erlexec argument file (``-args_file``, ``vm.args``).

    As erlexec reads them: blanks separate tokens; ``#`` outside quotes comments out the rest of
    the line (also in the middle of a token); ``'...'`` and ``"..."`` group text with no escapes
    inside; ``\\`` outside quotes takes the next character literally.
    """
    tokens: list = []
    current: list = []
    have = False  # a token is open (it may be empty: "")
    line = 1
    start = 1
    i = 0
    n = len(data)
    while i < n:
        c = data[i]
        if c in "'\"":
            if not have:
                start, have = line, True
            close = data.find(c, i + 1)
            close = n if close < 0 else close
            chunk = data[i + 1 : close]
            line += chunk.count("\n")
            current.append(chunk)
            i = close + 1
            continue
        if c == "\\" and i + 1 < n:
            if not have:
                start, have = line, True
            if data[i + 1] == "\n":
                line += 1
            current.append(data[i + 1])
            i += 2
            continue
        if c == "#":
            while i < n and data[i] != "\n":
                i += 1
            continue
        if c in " \t\r\n\f\v":
            if have:
                tokens.append(("".join(current), start))
                current, have = [], False
            if c == "\n":
                line += 1
            i += 1
            continue
        if not have:
            start, have = line, True
        current.append(c)
        i += 1
    if have:
        tokens.append(("".join(current), start))
    return tokens


def _is_flag(token: str) -> bool:
    return len(token) > 1 and token[0] in "-+" and not token.startswith("--")


def _group(tokens: list) -> list:
    """``[(flag, [values], line)]``; stops at ``-extra``; ``--...`` tokens end a flag."""
    flags: list = []
    for token, line in tokens:
        if token == "-extra":
            break
        if token.startswith("--"):
            flags.append((None, [], line))  # a separator: later plain tokens belong to nobody
        elif _is_flag(token):
            flags.append((token, [], line))
        elif flags and flags[-1][0] is not None:
            flags[-1][1].append(token)
    return [f for f in flags if f[0] is not None]


def parse_cmdline(argv: list) -> list:
    """The ``(flag, [values])`` pairs of a VM command line (``/proc/<pid>/cmdline``), in order."""
    return [(flag, values) for flag, values, _line in _group([(a, 0) for a in argv[1:]])]


def envsubst(data: str, environ: dict) -> tuple:
    """relx's ``replace_os_vars``: ``${VAR}`` and ``${VAR:-default}``; unset or empty -> default or "".

    Returns ``(text, unset)`` where ``unset`` lists the variables that had no value and no default.
    """
    unset: list = []

    def repl(match: re.Match) -> str:
        body = match.group(1)
        name, sep, default = body.partition(":-")
        value = environ.get(name, "")
        if value:
            return value
        if sep:
            return default
        if name not in unset:
            unset.append(name)
        return ""

    return re.sub(r"\$\{([^}]*)\}", repl, data), unset


def parse_vm_args(path: str, read_file, root: str, environ: dict | None = None, *, label=None) -> tuple:
    """Flags of a vm.args file with its ``-args_file`` chain inlined.

    Returns ``(flags, files)``: ``flags`` = ``[(flag, [values], "file:line")]``, ``files`` = every
    file read, in order. A missing or circular ``-args_file`` raises :class:`DiscoveryError` naming
    the file and line that refers to it. Relative ``-args_file`` paths resolve against ``root``
    (the release scripts start the VM there). ``label(path)`` names files in messages.
    """
    environ = environ or {}
    label = label or (lambda p: p)
    files: list = []

    def walk(current: str, stack: tuple, data: str | None = None) -> list:
        if data is None:
            raw = _read(read_file, current)
            if raw is None:
                raise DiscoveryError(f"{label(current)}: no such file")
            data = _decode(raw)
        files.append(current)
        out: list = []
        for flag, values, line in _group(tokenize_args(data)):
            where = f"{label(current)}:{line}"
            if flag == "-args_file":
                if not values:
                    raise DiscoveryError(f"{where}: -args_file without a file name")
                target = values[0]
                if not target.startswith("/"):
                    target = posixpath.join(root, target)
                target = posixpath.normpath(target)
                if target in stack:
                    raise DiscoveryError(f"{where}: circular -args_file reference to {label(target)}")
                raw = _read(read_file, target)
                if raw is None:
                    raise DiscoveryError(f"{where}: -args_file {values[0]}: no such file")
                out.extend(walk(target, (*stack, target), _decode(raw)))
            else:
                out.append((flag, values, where))
        return out

    return walk(path, (path,)), files


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _read(read_file, path: str) -> bytes | None:
    try:
        return read_file(path)
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# mix env.sh
# ---------------------------------------------------------------------------------------------

_OPENERS = {"if": "fi", "case": "esac", "for": "done", "while": "done", "until": "done", "{": "}"}
_ASSIGN = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class _Unresolvable(Exception):
    pass


def _shell_words(value: str, env: dict) -> str:
    """The value of a simple shell assignment right-hand side (quotes, ``$VAR``, ``${VAR:-x}``)."""
    out: list = []
    i = 0
    n = len(value)
    quote = None
    while i < n:
        c = value[i]
        if quote == "'":
            if c == "'":
                quote = None
            else:
                out.append(c)
            i += 1
            continue
        if c == "'" and quote is None:
            quote = "'"
            i += 1
            continue
        if c == '"':
            quote = None if quote == '"' else '"'
            i += 1
            continue
        if c == "\\" and i + 1 < n:
            out.append(value[i + 1])
            i += 2
            continue
        if c == "`" or value.startswith("$(", i):
            raise _Unresolvable("command substitution")
        if c == "$":
            m = _VAR.match(value, i)
            if not m:
                raise _Unresolvable("unsupported $ expansion")
            name = m.group(1) or m.group(3)
            current = env.get(name, "")
            if not current and m.group(2) is not None:
                current = _shell_words(m.group(2), env)
            out.append(current)
            i = m.end()
            continue
        if quote is None and c in " \t;&|#":
            break
        out.append(c)
        i += 1
    return "".join(out)


def parse_env_sh(data: str, env: dict) -> tuple:
    """Evaluate the top-level assignments of a mix ``env.sh`` on a copy of ``env``.

    Returns ``(env, doubtful)``: ``doubtful`` maps a variable to why its value is not known for sure
    (assigned inside ``if``/``case``/a function, or through command substitution).
    """
    env = dict(env)
    doubtful: dict = {}
    depth = 0
    for raw_line in data.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        first = words[0]
        if first in _OPENERS or re.match(r"[A-Za-z_][A-Za-z0-9_]*\s*\(\)", line):
            depth += 1
        closes = sum(1 for w in words if w.rstrip(";") in ("fi", "esac", "done", "}"))
        for part in re.split(r";\s*", line):
            m = _ASSIGN.match(part.strip())
            if not m:
                continue
            name, value = m.group(1), m.group(2)
            if depth > 0:
                doubtful[name] = "assigned inside a conditional block or function"
                continue
            try:
                env[name] = _shell_words(value, env)
                doubtful.pop(name, None)
            except _Unresolvable as exc:
                doubtful[name] = str(exc)
                env.pop(name, None)
        depth = max(0, depth - closes)
    return env, doubtful


# ---------------------------------------------------------------------------------------------
# release name and version
# ---------------------------------------------------------------------------------------------


def _start_erl(read_file, root: str) -> tuple | None:
    raw = _read(read_file, posixpath.join(root, "releases", "start_erl.data"))
    if raw is None:
        return None
    fields = _decode(raw).split()
    return (fields[0], fields[1]) if len(fields) == 2 else None


def _rel_names(list_dir, root: str, vsn: str) -> list:
    return sorted(n[: -len(".rel")] for n in list_dir(posixpath.join(root, "releases", vsn)) if n.endswith(".rel"))


def discover_release_name(root: str, *, read_file, list_dir) -> tuple:
    """``(name, vsn)`` of the release under ``root``.

    The name from ``releases/RELEASES`` (when it names one release), else from the ``.rel`` in
    ``releases/<vsn>/`` for the version of ``releases/start_erl.data``, else from the only
    ``releases/*/`` holding a ``.rel``. ``vsn`` is start_erl.data's version (else the only one).
    """
    releases = posixpath.join(root, "releases")
    start = _start_erl(read_file, root)
    vsn = start[1] if start else None
    names: set = set()
    raw = _read(read_file, posixpath.join(releases, "RELEASES"))
    if raw is not None:
        try:
            term = parse_one(raw, posixpath.join(releases, "RELEASES"))
        except TermSyntaxError as exc:
            raise DiscoveryError(str(exc)) from None
        for entry in term if isinstance(term, list) else []:
            if isinstance(entry, tuple) and len(entry) == 6 and entry[0] == Atom("release"):
                try:
                    names.add(text(entry[1]))
                except TypeError:
                    pass
    if len(names) == 1:
        return names.pop(), vsn
    if vsn is not None:
        found = _rel_names(list_dir, root, vsn)
        if len(found) == 1:
            return found[0], vsn
    candidates: dict = {}
    for entry in list_dir(releases):
        for rel in _rel_names(list_dir, root, entry):
            candidates.setdefault(rel, []).append(entry)
    if len(candidates) == 1:
        name, versions = next(iter(candidates.items()))
        return name, vsn or (versions[0] if len(versions) == 1 else None)
    found_text = ", ".join(f"{n} ({', '.join(v)})" for n, v in sorted(candidates.items())) or "none"
    raise DiscoveryError(
        f"{releases}: cannot tell the release name (releases/<vsn>/<name>.rel found: {found_text}); "
        "set the name option"
    )


# ---------------------------------------------------------------------------------------------
# the running VM
# ---------------------------------------------------------------------------------------------


def _first(flags: list, name: str) -> list | None:
    for flag, values, *_rest in flags:
        if flag == name:
            return values
    return None


def _under(path: str, root: str) -> bool:
    path = posixpath.normpath(path)
    return path == root or path.startswith(root.rstrip("/") + "/")


def _proc_matches(flags: list, roots: tuple, realpath) -> bool:
    value = _first(flags, "-root")
    if value and realpath(value[0]) in roots:
        return True
    for key in ("-boot", "-config"):
        value = _first(flags, key)
        if value and any(_under(realpath(value[0]), r) for r in roots):
            return True
    value = _first(flags, "-progname")
    if value:
        prog = value[0] if value[0].startswith("/") else "/" + value[0]  # relx drops the first '/'
        return any(_under(realpath(prog), r) for r in roots)
    return False


def _node_of(flags: list) -> tuple | None:
    for flag in ("-name", "-sname"):
        value = _first(flags, flag)
        if value:
            return value[0], flag[1:]
    return None


def _same_node(a: str, b: str) -> bool:
    if a == b:
        return True
    if "@" in a and "@" in b:
        return False
    return a.partition("@")[0] == b.partition("@")[0]


def _find_vm(procs, roots: tuple, realpath, node: str | None) -> tuple | None:
    """``(ProcInfo, flags)`` of the release's VM, or None; several distinct nodes -> error."""
    found: list = []
    for proc in procs:
        if not proc.argv:
            continue
        flags = parse_cmdline(proc.argv)
        if not _proc_matches(flags, roots, realpath):
            continue
        who = _node_of(flags)
        if who is None:  # not distributed (or a control escript starting distribution itself)
            continue
        found.append((proc, flags, who))
    if node is not None:
        found = [f for f in found if _same_node(f[2][0], node)]
    # remote shells, rpc helpers and other hidden helpers run from the same root: last resort only
    primary = [f for f in found if _first(f[1], "-remsh") is None and _first(f[1], "-hidden") is None]
    found = primary or found
    names = sorted({f[2][0] for f in found})
    if len(names) > 1:
        described = ", ".join(f"{f[2][0]} (pid {f[0].pid})" for f in found)
        raise DiscoveryError(f"{roots[0]}: several nodes run from this root: {described}; set the node option")
    if not found:
        return None
    found.sort(key=lambda f: f[0].pid)
    return found[0][0], found[0][1]


def _dist_args(flags: list) -> list:
    out: list = []
    seen: set = set()
    for flag, values, *_rest in flags:
        if flag in DIST_FLAGS and values and flag not in seen:
            seen.add(flag)
            out.extend([flag, values[0]])
    return out


def _own_cookie(flags: list) -> str | None:
    """``-setcookie C`` (the node's own cookie; ``-setcookie Node C`` is for another node)."""
    for flag, values, *_rest in flags:
        if flag == "-setcookie" and len(values) == 1:
            return values[0]
    return None


def _cookie_file(read_file, home: str | None) -> tuple | None:
    if not home:
        return None
    path = posixpath.join(home, ".erlang.cookie")
    raw = _read(read_file, path)
    if raw is None:
        return None
    cookie = _decode(raw).strip()
    return (cookie, path) if cookie else None


# ---------------------------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------------------------


def _no_list(_path: str) -> list:
    return []


def _identity(path: str) -> str:
    return posixpath.normpath(path)


def discover_target(
    root,
    name=None,
    node=None,
    cookie=None,
    name_type=None,
    *,
    read_file,
    proc_cmdlines,
    home,
    environ=None,
    list_dir=None,
    realpath=None,
    root_owner=None,
) -> NodeTarget:
    """Find node name, name type, cookie, dist flags and ERTS for the release at ``root``.

    Injected I/O: ``read_file(path) -> bytes | None`` (None: no such file; ``OSError`` counts as
    missing), ``proc_cmdlines() -> iterable of ProcInfo``, ``home(uid | None) -> str | None`` (None:
    the user running the module), ``environ`` (the module's environment: ``ERL_EPMD_PORT``,
    ``RELX_COOKIE``, ``VMARGS_PATH``, ``${VAR}`` values), ``list_dir(path) -> [names]``,
    ``realpath(path) -> path``, ``root_owner`` (uid owning the root, for the service user's cookie).

    Raises :class:`DiscoveryError` for contradictions (several nodes, broken ``-args_file``,
    unknown release name, bad ``name_type``). A node name or cookie that cannot be found is not an
    error here (``release_info`` still reports files of a stopped node): see
    :meth:`NodeTarget.require` and :attr:`NodeTarget.problems`.
    """
    environ = dict(environ or {})
    list_dir = list_dir or _no_list
    realpath = realpath or _identity
    root = posixpath.normpath(str(root))
    roots = tuple(dict.fromkeys((root, realpath(root))))
    if name_type is not None and name_type not in NAME_TYPES:
        raise DiscoveryError(f"name_type {name_type!r}: expected one of {', '.join(NAME_TYPES)}")
    source: dict = {}
    problems: list = []

    rel_vsn = None
    if name is None:
        name, rel_vsn = discover_release_name(root, read_file=read_file, list_dir=list_dir)
        source["name"] = "release files"
    else:
        start = _start_erl(read_file, root)
        rel_vsn = start[1] if start else None
        source["name"] = "option"

    if node:
        source["node"] = "option"
        if name_type is None and "@" in node and "." in node.split("@", 1)[1]:
            name_type = "name"
    if cookie:
        source["cookie"] = "option"
    if name_type:
        source["name_type"] = "option"

    dist_args: list = []
    epmd_port = None
    erts_dir = None
    pid = None

    # 2. the running VM
    vm = _find_vm(proc_cmdlines(), roots, realpath, node)
    if vm is not None:
        proc, flags = vm
        pid = proc.pid
        who = _node_of(flags)
        if not node:
            node = who[0]
            source["node"] = f"command line of pid {pid}"
        if not name_type:
            name_type = who[1]
            source["name_type"] = f"command line of pid {pid}"
        dist_args = _dist_args(flags)
        if dist_args:
            source["dist_args"] = f"command line of pid {pid}"
        port = _first(flags, "-epmd_port") or ([proc.env["ERL_EPMD_PORT"]] if proc.env.get("ERL_EPMD_PORT") else None)
        if port:
            epmd_port = port[0]
            source["epmd_port"] = f"command line of pid {pid}"
        bindir = _first(flags, "-bindir")
        if bindir and posixpath.basename(posixpath.normpath(bindir[0])) == "bin":
            erts_dir = posixpath.dirname(posixpath.normpath(bindir[0]))
        if not cookie:
            own = _own_cookie(flags)
            if own:
                cookie = own
                source["cookie"] = f"command line of pid {pid}"
            else:
                vm_home = _first(flags, "-home")
                found = _cookie_file(read_file, vm_home[0] if vm_home else proc.env.get("HOME"))
                if found is None and proc.uid is not None:
                    found = _cookie_file(read_file, home(proc.uid))
                if found:
                    cookie = found[0]
                    source["cookie"] = found[1]
                else:
                    problems.append(f"pid {pid} runs without -setcookie and its ~/.erlang.cookie is not readable")

    # 3. release files
    layout = _layout(read_file, list_dir, root, rel_vsn)
    if layout == "mix":
        node, name_type, cookie, extra = _from_mix(
            read_file, root, name, rel_vsn, node, name_type, cookie, environ, source, problems
        )
    else:
        node, name_type, cookie, extra = _from_relx(
            read_file, root, rel_vsn, node, name_type, cookie, environ, source, problems
        )
    if not dist_args and extra["dist_args"]:
        dist_args = extra["dist_args"]
        source["dist_args"] = extra["where"]
    if epmd_port is None and extra["epmd_port"]:
        epmd_port = extra["epmd_port"]
        source["epmd_port"] = extra["where"]

    # 4. the service user's ~/.erlang.cookie
    if not cookie:
        homes = [home(uid) for uid in (root_owner,) if uid is not None] + [home(None)]
        for candidate in dict.fromkeys(h for h in homes if h):
            found = _cookie_file(read_file, candidate)
            if found:
                cookie = found[0]
                source["cookie"] = found[1]
                break
        else:
            problems.append("no readable ~/.erlang.cookie for the service user")

    if epmd_port is None and environ.get("ERL_EPMD_PORT"):
        epmd_port = environ["ERL_EPMD_PORT"]
        source["epmd_port"] = "environment"

    if not name_type:
        name_type = "sname"
        source["name_type"] = "default"

    if erts_dir is None:
        erts_dir = _erts_dir(read_file, list_dir, root)

    return NodeTarget(
        root,
        name,
        node,
        name_type,
        cookie or None,
        dist_args,
        erts_dir,
        source,
        release_vsn=rel_vsn,
        epmd_port=epmd_port,
        pid=pid,
        problems=problems,
    )


def _layout(read_file, list_dir, root: str, vsn: str | None) -> str:
    if _read(read_file, posixpath.join(root, "releases", "COOKIE")) is not None:
        return "mix"
    if vsn and "env.sh" in list_dir(posixpath.join(root, "releases", vsn)):
        return "mix"
    return "relx"


def _erts_dir(read_file, list_dir, root: str) -> str | None:
    start = _start_erl(read_file, root)
    entries = [e for e in list_dir(root) if e.startswith("erts-")]
    if start and f"erts-{start[0]}" in entries:
        return posixpath.join(root, f"erts-{start[0]}")
    if len(entries) == 1:
        return posixpath.join(root, entries[0])
    return None


def _label(root: str):
    prefix = root.rstrip("/") + "/"
    return lambda p: p[len(prefix):] if p.startswith(prefix) else p


def _vm_args_file(read_file, root: str, vsn: str | None, environ: dict, problems: list) -> tuple | None:
    """``(path, text)`` of the vm.args the relx script would use (``.src`` rendered), or None."""
    label = _label(root)
    candidates = []
    if environ.get("VMARGS_PATH"):
        candidates.append(environ["VMARGS_PATH"])
    candidates.append(posixpath.join(root, "vm.args"))
    if vsn:
        candidates.append(posixpath.join(root, "releases", vsn, "vm.args"))
    for path in candidates:
        src = _read(read_file, path + ".src")
        plain = _read(read_file, path)
        if src is not None:
            rendered, unset = envsubst(_decode(src), environ)
            names = ", ".join("${" + v + "}" for v in unset)
            if unset and plain is not None:
                # the start script rendered it with the service's environment: trust that copy
                problems.append(f"{label(path)}.src uses {names}, unset here: read the rendered {label(path)}")
                return path, _decode(plain)
            if unset:
                problems.append(f"{label(path)}.src: {names} unset here, rendered empty")
            return path + ".src", rendered
        if plain is not None:
            return path, _decode(plain)
    return None


def _from_relx(read_file, root, vsn, node, name_type, cookie, environ, source, problems) -> tuple:
    extra = {"dist_args": [], "epmd_port": None, "where": None}
    found = _vm_args_file(read_file, root, vsn, environ, problems)
    label = _label(root)
    if found is None:
        if not node:
            problems.append(f"no vm.args under {root}")
        return node, name_type, cookie, extra
    path, data = found

    def reader(p: str) -> bytes | None:
        return data.encode("utf-8") if p == path else read_file(p)

    flags, _files = parse_vm_args(path, reader, root, environ, label=label)
    extra["where"] = label(path)
    extra["dist_args"] = _dist_args(flags)
    port = _first(flags, "-epmd_port")
    extra["epmd_port"] = port[0] if port else None
    names = [(f, v, w) for f, v, w in flags if f in ("-name", "-sname") and v]
    if len(names) > 1:
        listed = ", ".join(f"{f} {v[0]} ({w})" for f, v, w in names)
        raise DiscoveryError(f"{label(path)}: more than one node name: {listed}")
    if names and not node:
        flag, values, where = names[0]
        node = _expand_vars(values[0], environ)
        source["node"] = where
        if not name_type:
            name_type = flag[1:]
            source["name_type"] = where
    elif not names and not node:
        problems.append(f"{label(path)}: no -name or -sname")
    if not cookie and environ.get("RELX_COOKIE"):
        cookie = environ["RELX_COOKIE"]
        source["cookie"] = "RELX_COOKIE"
    if not cookie:
        for flag, values, where in flags:
            if flag == "-setcookie" and len(values) == 1:
                cookie = values[0]
                source["cookie"] = where
                break
    return node, name_type, cookie, extra


def _expand_vars(value: str, environ: dict) -> str:
    """What relx's ``eval echo`` does to the node name: ``$VAR`` / ``${VAR}`` from the environment."""
    try:
        return _shell_words(value, environ)
    except _Unresolvable:
        return value


def _from_mix(read_file, root, name, vsn, node, name_type, cookie, environ, source, problems) -> tuple:
    extra = {"dist_args": [], "epmd_port": None, "where": None}
    label = _label(root)
    env = {k: v for k, v in environ.items() if k.startswith("RELEASE_")}
    env.update({"RELEASE_ROOT": root, "RELEASE_NAME": name or "", "RELEASE_VSN": vsn or ""})
    env_sh = posixpath.join(root, "releases", vsn, "env.sh") if vsn else None
    doubtful: dict = {}
    raw = _read(read_file, env_sh) if env_sh else None
    if raw is not None:
        env, doubtful = parse_env_sh(_decode(raw), env)
    where = label(env_sh) if raw is not None else "mix defaults"
    for var in ("RELEASE_NODE", "RELEASE_DISTRIBUTION", "RELEASE_COOKIE"):
        if var in doubtful:
            problems.append(f"{label(env_sh)}: {var} {doubtful[var]}: not used")
    if not node:
        if "RELEASE_NODE" in doubtful:
            pass
        elif env.get("RELEASE_NODE"):
            node = env["RELEASE_NODE"]
            source["node"] = where if "RELEASE_NODE" not in environ else "RELEASE_NODE"
        elif name:
            node = name
            source["node"] = "mix default (release name)"
    if not name_type and "RELEASE_DISTRIBUTION" not in doubtful:
        dist = env.get("RELEASE_DISTRIBUTION") or "sname"
        if dist not in NAME_TYPES:
            problems.append(f"{where}: RELEASE_DISTRIBUTION={dist}: the node does not run distributed")
        else:
            name_type = dist
            source["name_type"] = where if env.get("RELEASE_DISTRIBUTION") else "mix default"
    if not cookie and env.get("RELEASE_COOKIE") and "RELEASE_COOKIE" not in doubtful:
        cookie = env["RELEASE_COOKIE"]
        source["cookie"] = where if "RELEASE_COOKIE" not in environ else "RELEASE_COOKIE"
    if not cookie:
        raw_cookie = _read(read_file, posixpath.join(root, "releases", "COOKIE"))
        if raw_cookie is not None and _decode(raw_cookie).strip():
            cookie = _decode(raw_cookie).strip()
            source["cookie"] = "releases/COOKIE"
    vm_args = posixpath.join(root, "releases", vsn, "vm.args") if vsn else None
    raw_args = _read(read_file, vm_args) if vm_args else None
    if raw_args is not None:
        flags, _files = parse_vm_args(vm_args, lambda p: raw_args if p == vm_args else read_file(p), root,
                                      label=label)
        extra["dist_args"] = _dist_args(flags)
        port = _first(flags, "-epmd_port")
        extra["epmd_port"] = port[0] if port else None
        extra["where"] = label(vm_args)
    return node, name_type, cookie, extra
