# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Static child specs (``_child_specs``) against what the supervisors really do.

Small supervisor modules are compiled once per test module, each with and without debug info
(stripped the way relx and ``mix release`` strip). ``child_specs.escript`` calls ``init/1``,
starts each supervisor and reports its children (``supervisor:which_children/1``) and its
registered name; the static reading must agree for every case it calls complete, and for the
others must say why and report only children that really exist.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ansible_collections.erlang.otp.plugins.module_utils._beam import read_beam_file
from ansible_collections.erlang.otp.plugins.module_utils._child_specs import (
    SupervisorChildren,
    diff_children,
    started_supervisors,
    supervisor_children,
)
from ansible_collections.erlang.otp.plugins.module_utils._release import open_release
from ansible_collections.erlang.otp.plugins.module_utils._terms import Atom

from tests.support.etf_canon import canon
from tests.support.otp import elixir_root, requires_erlang, run_escript
from tests.support.releases import tarball

pytestmark = [pytest.mark.erlang, requires_erlang]

# --- Erlang supervisors ---------------------------------------------------------------------

STUB = """
-module(cs_stub).
-export([start_link/0, start_link/1, start_link/2]).
start_link() -> start_link(x).
start_link(_) -> {ok, spawn_link(fun() -> receive stop -> ok end end)}.
start_link(_, Id) -> start_link(Id).
"""

ERLANG = {
    "cs_tuple": """
-module(cs_tuple).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).
init([]) ->
    {ok, {{one_for_one, 5, 10},
          [{cs_tuple_a, {cs_stub, start_link, [a]}, permanent, 5000, worker, [cs_stub]},
           {{cs_tuple, b}, {cs_stub, start_link, [b]}, transient, brutal_kill, supervisor, dynamic},
           {"string id", {cs_stub, start_link, [c]}, temporary, infinity, worker, [cs_stub]},
           {-7, {cs_stub, start_link, [d]}, permanent, 1, worker, [cs_stub]}]}}.
""",
    "cs_map": """
-module(cs_map).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).
init(_) ->
    Flags = #{strategy => one_for_all},
    {ok, {Flags, [#{id => m1, start => {cs_stub, start_link, [m1]}, type => worker, restart => permanent},
                  #{id => <<"bin id">>, start => {cs_stub, start_link, [m2]}, type => supervisor,
                    shutdown => infinity}]}}.
""",
    "cs_map_notype": """
-module(cs_map_notype).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).
init([]) -> {ok, {#{}, [#{id => nt, start => {cs_stub, start_link, [nt]}}]}}.
""",
    "cs_macro": """
-module(cs_macro).
-behaviour(supervisor).
-export([start_link/0, init/1]).
-define(CHILD(I, Type), {I, {cs_stub, start_link, [I]}, permanent, 5000, Type, [cs_stub]}).
-define(SPEC(I), #{id => I, start => {cs_stub, start_link, [?MODULE, I]}}).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).
init([]) -> {ok, {{one_for_one, 1, 5}, [?CHILD(mac_a, worker), ?CHILD(mac_b, supervisor), ?SPEC(mac_c)]}}.
""",
    "cs_helper": """
-module(cs_helper).
-behaviour(supervisor).
-export([start_link/0, init/1]).
-record(child, {id, type = worker}).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, go).
init(Arg) ->
    {ok, {strategy(Arg), [spec(one), spec({two, 2}), spec(#child{id = three, type = supervisor}),
                          spec(#child{id = three_b}), kind(four, sup), kind(five, other)]}}.
strategy(_) -> #{strategy => rest_for_one}.
spec(#child{id = Id, type = Type}) -> {Id, {cs_stub, start_link, [Id]}, permanent, 5000, Type, [cs_stub]};
spec(Id) when is_atom(Id) -> #{id => Id, start => {cs_stub, start_link, [Id]}};
spec({Name, N}) when N > 1 -> #{id => {Name, N}, start => {cs_stub, start_link, [N]}, type => worker}.
kind(Id, Kind) ->
    Type = case Kind of sup -> supervisor; _ -> worker end,
    #{id => Id, start => {cs_stub, start_link, [Id]}, type => Type}.
""",
    "cs_bound": """
-module(cs_bound).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).
init([]) ->
    A = #{id => bound_a, start => {cs_stub, start_link, [a]}},
    B = {bound_b, {cs_stub, start_link, [b]}, permanent, 5000, worker, [cs_stub]},
    Id = bound_c,
    C = A#{id := Id, type => supervisor},
    {_, Start, _, _, _, _} = B,
    D = #{id => bound_d, start => Start},
    Children = [A, B, C, D],
    Flags = {one_for_one, 0, 1},
    {ok, {Flags, Children}}.
""",
    "cs_concat": """
-module(cs_concat).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).
init([]) ->
    Base = [child(c1), child(c2)],
    More = lists:append([child(c3)], [child(c4)]),
    {ok, {#{}, Base ++ More ++ [child(c5)] ++ lists:reverse([child(c7), child(c6)])
               ++ lists:append([[child(c8)], [child(c9)]])}}.
child(Id) -> #{id => Id, start => {cs_stub, start_link, [Id]}}.
""",
    "cs_lc": """
-module(cs_lc).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).
init([]) ->
    {ok, {#{}, [#{id => {lc, N}, start => {cs_stub, start_link, [N]}} || N <- [1, 2, 3], N =/= 2]
               ++ [child(X) || {X, true} <- [{lc_a, true}, {lc_b, false}]]}}.
child(Id) -> #{id => Id, start => {cs_stub, start_link, [Id]}}.
""",
    "cs_merge": """
-module(cs_merge).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).
init([]) ->
    Default = #{start => {cs_stub, start_link, [merged]}, restart => transient},
    {ok, {#{strategy => one_for_one}, [maps:merge(Default, #{id => merged}), maps:put(id, put, Default)]}}.
""",
    "cs_dynamic": """
-module(cs_dynamic).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, 3).
init(N) ->
    Static = #{id => static, start => {cs_stub, start_link, [static]}},
    Extra = application:get_env(cs_dynamic, extra, []),
    {ok, {#{}, [Static | [#{id => {dyn, I}, start => {cs_stub, start_link, [I]}} || I <- lists:seq(1, N)]]
               ++ Extra}}.
""",
    "cs_named": """
-module(cs_named).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, cs_other_name}, ?MODULE, []).
init([]) -> {ok, {#{}, [#{id => named_child, start => {cs_stub, start_link, [x]}}]}}.
""",
    "cs_app_sup": """
-module(cs_app_sup).
-behaviour(application).
-behaviour(supervisor).
-export([start/2, stop/1, start_link/0, init/1]).
start(_Type, _Args) -> start_link().
stop(_) -> ok.
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, top).
init(top) -> {ok, {#{}, [#{id => app_child, start => {cs_stub, start_link, [a]}}]}}.
""",
    "cs_global": """
-module(cs_global).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({global, cs_global_name}, ?MODULE, []).
init([]) -> {ok, {#{}, [#{id => global_child, start => {cs_stub, start_link, [g]}}]}}.
""",
    "cs_unnamed": """
-module(cs_unnamed).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link(?MODULE, []).
init([]) -> {ok, {#{}, [#{id => unnamed_child, start => {cs_stub, start_link, [u]}}]}}.
""",
    "cs_argname": """
-module(cs_argname).
-behaviour(supervisor).
-export([start_link/1, init/1]).
start_link(Name) -> supervisor:start_link({local, Name}, ?MODULE, []).
init([]) -> {ok, {#{}, [#{id => argname_child, start => {cs_stub, start_link, [u]}}]}}.
""",
    "cs_clauses": """
-module(cs_clauses).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, small).
init(small) -> {ok, {#{}, [c(s1)]}};
init(big) -> {ok, {#{}, [c(s1), c(b1), c(b2)]}};
init(none) -> ignore.
c(Id) -> #{id => Id, start => {cs_stub, start_link, [Id]}}.
""",
    "cs_funs": """
-module(cs_funs).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).
init([]) ->
    Type = supervisor,
    Make = fun(Id) -> #{id => Id, start => {cs_stub, start_link, [Id]}, type => Type} end,
    Children = lists:map(fun child/1, [fa, fb]) ++ lists:map(Make, [fc])
        ++ lists:foldl(fun(I, Acc) -> [child({fold, I}) | Acc] end, [], [1, 2])
        ++ lists:filter(fun(#{id := Id}) -> Id =/= skip end, [child(skip), child(kept)]),
    {ok, {#{}, Children}}.
child(Id) -> #{id => Id, start => {cs_stub, start_link, [Id]}}.
""",
    "cs_elsewhere": """
-module(cs_elsewhere).
-behaviour(supervisor).
-export([init/1]).
init([]) -> {ok, {#{}, [#{id => elsewhere_child, start => {cs_stub, start_link, [e]}}]}}.
""",
    "cs_app_start": """
-module(cs_app_start).
-behaviour(application).
-export([start/2, stop/1]).
start(_Type, _Args) -> supervisor:start_link({local, cs_elsewhere_name}, cs_elsewhere, []).
stop(_) -> ok.
""",
    "cs_sofo": """
-module(cs_sofo).
-behaviour(supervisor).
-export([start_link/0, init/1]).
start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).
init([]) -> {ok, {#{strategy => simple_one_for_one}, [#{id => tmpl, start => {cs_stub, start_link, []}}]}}.
""",
}

#: module -> (init/1 arguments as Erlang text, start expression or "-")
ERLANG_RUNS = {
    "cs_tuple": ("[[]]", "cs_tuple:start_link()"),
    "cs_map": ("[[]]", "cs_map:start_link()"),
    "cs_map_notype": ("[[]]", "cs_map_notype:start_link()"),
    "cs_macro": ("[[]]", "cs_macro:start_link()"),
    "cs_helper": ("[go]", "cs_helper:start_link()"),
    "cs_bound": ("[[]]", "cs_bound:start_link()"),
    "cs_concat": ("[[]]", "cs_concat:start_link()"),
    "cs_lc": ("[[]]", "cs_lc:start_link()"),
    "cs_merge": ("[[]]", "cs_merge:start_link()"),
    "cs_dynamic": ("[3]", "cs_dynamic:start_link()"),
    "cs_named": ("[[]]", "cs_named:start_link()"),
    "cs_app_sup": ("[top]", "cs_app_sup:start(normal, [])"),
    "cs_global": ("[[]]", "cs_global:start_link()"),
    "cs_unnamed": ("[[]]", "cs_unnamed:start_link()"),
    "cs_argname": ("[[]]", "cs_argname:start_link(cs_arg_name)"),
    "cs_clauses": ("[small, big, none]", "cs_clauses:start_link()"),
    "cs_sofo": ("[[]]", "cs_sofo:start_link()"),
    "cs_funs": ("[[]]", "cs_funs:start_link()"),
    "cs_elsewhere": ("[[]]", "cs_app_start:start(normal, [])"),
}

#: Not complete on purpose: children (partly) decided at run time.
INCOMPLETE = {"cs_dynamic", "CsEx.Dynamic"}
#: init/1 gives different children for different arguments: the static union covers the ones
#: of the started supervisor.
UNION = {"cs_clauses", "CsEx.Cond"}
#: Supervisors started (and named) by another module: supervisor -> that module.
NAMED_ELSEWHERE = {"cs_elsewhere": "cs_app_start"}
#: Registered names that are not statically known: the reason must say so.
NAME_AT_RUN_TIME = {"cs_argname"}

# --- Elixir supervisors ---------------------------------------------------------------------

ELIXIR = """
defmodule CsEx.Worker do
  use GenServer
  def start_link(arg), do: GenServer.start_link(__MODULE__, arg)
  @impl true
  def init(arg), do: {:ok, arg}
end

defmodule CsEx.OtherWorker do
  use GenServer, id: :custom_worker_id, restart: :transient
  def start_link(arg), do: GenServer.start_link(__MODULE__, arg)
  @impl true
  def init(arg), do: {:ok, arg}
end

defmodule CsEx.SubSup do
  use Supervisor
  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg)
  @impl true
  def init(_arg), do: Supervisor.init([], strategy: :one_for_one)
end

defmodule CsEx.Atoms do
  use Supervisor
  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg, name: __MODULE__)
  @impl true
  def init(_arg), do: Supervisor.init([CsEx.Worker, {CsEx.SubSup, :sub}], strategy: :one_for_one)
end

defmodule CsEx.Maps do
  use Supervisor
  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg, name: :cs_ex_maps)
  @impl true
  def init(arg) do
    children = [
      %{id: :map_a, start: {CsEx.Worker, :start_link, [arg]}},
      %{id: {:map, 2}, start: {CsEx.Worker, :start_link, [2]}, type: :supervisor, shutdown: :infinity}
    ]
    Supervisor.init(children, strategy: :one_for_all, max_restarts: 1)
  end
end

defmodule CsEx.Specs do
  use Supervisor
  @extra [%{id: "attr id", start: {CsEx.Worker, :start_link, [:attr]}}]
  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg, name: {:global, :cs_ex_specs})
  @impl true
  def init(_arg) do
    w = Supervisor.child_spec(CsEx.Worker, id: :w1)
    children =
      [w, Supervisor.child_spec({CsEx.Worker, 2}, id: :w2), helper(3)] ++
        @extra ++ for(i <- [:f1, :f2], do: helper(i))
    Supervisor.init(children, strategy: :rest_for_one)
  end
  defp helper(n) when is_integer(n), do: Supervisor.child_spec({CsEx.Worker, n}, id: {:w, n})
  defp helper(n), do: %{id: n, start: {CsEx.Worker, :start_link, [n]}}
end

defmodule CsEx.Custom do
  use Supervisor
  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg, name: __MODULE__)
  @impl true
  def init(_arg), do: Supervisor.init([{CsEx.OtherWorker, 1}], strategy: :one_for_one)
end

defmodule CsEx.ErlStyle do
  @behaviour :supervisor
  def start_link(), do: :supervisor.start_link({:local, :cs_ex_erl}, __MODULE__, [])
  @impl true
  def init([]) do
    {:ok,
     {{:one_for_one, 1, 5},
      [
        {:erl_a, {CsEx.Worker, :start_link, [:a]}, :permanent, 5000, :worker, [CsEx.Worker]},
        %{id: :erl_b, start: {CsEx.Worker, :start_link, [:b]}}
      ]}}
  end
end

defmodule CsEx.Dynamic do
  use Supervisor
  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg, name: __MODULE__)
  @impl true
  def init(arg) do
    children =
      [CsEx.Worker | Application.get_env(:cs_ex, :children, [])] ++
        Enum.map(1..arg, &%{id: {:dyn, &1}, start: {CsEx.Worker, :start_link, [&1]}})
    Supervisor.init(children, strategy: :one_for_one)
  end
end

defmodule CsEx.Funs do
  use Supervisor
  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg, name: __MODULE__)
  @impl true
  def init(_arg) do
    ranged = Enum.map(1..2, fn i -> Supervisor.child_spec({CsEx.Worker, i}, id: {:r, i}) end)
    named = Enum.map([:n1, :n2], &spec/1)
    Supervisor.init(ranged ++ named ++ Enum.flat_map([:x], fn n -> [spec(n)] end), strategy: :one_for_one)
  end
  defp spec(n), do: %{id: n, start: {CsEx.Worker, :start_link, [n]}}
end

defmodule CsEx.Stdlib do
  use Supervisor
  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg, name: __MODULE__)
  @impl true
  def init(_arg) do
    children = [
      {Registry, keys: :unique, name: CsEx.Registry},
      {DynamicSupervisor, name: CsEx.Dyn, strategy: :one_for_one},
      {Task.Supervisor, name: CsEx.Tasks},
      {Agent, fn -> 0 end},
      {PartitionSupervisor, child_spec: DynamicSupervisor, name: CsEx.Parts}
    ]
    Supervisor.init(children, strategy: :one_for_one)
  end
end

defmodule CsEx.Unnamed do
  use Supervisor
  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg)
  @impl true
  def init(_), do: Supervisor.init([{CsEx.Worker, :u}], strategy: :one_for_one)
end

defmodule CsEx.Cond do
  use Supervisor
  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg, name: __MODULE__)
  @impl true
  def init(mode) do
    base = [%{id: :always, start: {CsEx.Worker, :start_link, [:always]}}]
    children =
      if mode == :more, do: base ++ [%{id: :more, start: {CsEx.Worker, :start_link, [:more]}}], else: base
    Supervisor.init(children, strategy: :one_for_one)
  end
end
"""

ELIXIR_RUNS = {
    "CsEx.SubSup": ("[[]]", "'Elixir.CsEx.SubSup':start_link([])"),
    "CsEx.Atoms": ("[[]]", "'Elixir.CsEx.Atoms':start_link([])"),
    "CsEx.Maps": ("[1]", "'Elixir.CsEx.Maps':start_link(1)"),
    "CsEx.Specs": ("[[]]", "'Elixir.CsEx.Specs':start_link([])"),
    "CsEx.Custom": ("[[]]", "'Elixir.CsEx.Custom':start_link([])"),
    "CsEx.ErlStyle": ("[[]]", "'Elixir.CsEx.ErlStyle':start_link()"),
    "CsEx.Dynamic": ("[2]", "'Elixir.CsEx.Dynamic':start_link(2)"),
    "CsEx.Unnamed": ("[[]]", "'Elixir.CsEx.Unnamed':start_link([])"),
    "CsEx.Funs": ("[[]]", "'Elixir.CsEx.Funs':start_link([])"),
    "CsEx.Stdlib": ("[[]]", "'Elixir.CsEx.Stdlib':start_link([])"),
    "CsEx.Cond": ("[less, more]", "'Elixir.CsEx.Cond':start_link(more)"),
}
#: Children whose id comes from the child's own child_spec/1 (only right with a resolver).
CUSTOM_CHILD_SPEC = {"CsEx.Custom", "CsEx.Stdlib"}
#: Elixir's modules whose child_spec/1 CsEx.Stdlib needs (read from Elixir's own beams).
STDLIB_CHILDREN = ("Registry", "DynamicSupervisor", "Task.Supervisor", "Agent", "PartitionSupervisor")


# --- fixtures -------------------------------------------------------------------------------


def _strip(directory: Path) -> None:
    subprocess.run(
        [
            "erl",
            "-noshell",
            "-eval",
            f'{{ok, _}} = beam_lib:strip_files(filelib:wildcard("{directory}/*.beam")), halt().',
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _reference(dirs: list, runs: dict, prefix: str = "") -> dict:
    lines = "".join(f"{prefix}{mod}\t{args}\t{start}\n" for mod, (args, start) in runs.items())
    out = run_escript("child_specs.escript", *map(str, dirs), stdin=lines.encode(), timeout=300)
    result = {}
    for line in out.decode().splitlines():
        module, *fields = line.split("\t")
        result[module[len(prefix) :]] = dict(zip(("init", "init_ids", "live", "live_ids", "name"), fields))
    assert sorted(result) == sorted(runs)
    return result


@pytest.fixture(scope="module")
def erlang_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("child_specs")
    src = root / "src"
    src.mkdir()
    for name, text in {**ERLANG, "cs_stub": STUB}.items():
        (src / f"{name}.erl").write_text(text)
    sources = sorted(str(p) for p in src.glob("*.erl"))
    dirs = {}
    for kind, options in (("debug", ["+debug_info"]), ("stripped", [])):
        out = root / kind
        out.mkdir()
        subprocess.run(["erlc", *options, "-o", str(out), *sources], check=True, capture_output=True, timeout=300)
        dirs[kind] = out
    _strip(dirs["stripped"])
    reference = _reference([dirs["debug"]], ERLANG_RUNS)
    return dirs, reference


@pytest.fixture(scope="module")
def elixir_build(tmp_path_factory):
    lib = elixir_root()
    if lib is None or shutil.which("elixirc") is None:
        pytest.skip("Elixir is not installed")
    root = tmp_path_factory.mktemp("child_specs_ex")
    source = root / "cs_ex.ex"
    source.write_text(ELIXIR)
    dirs = {"debug": root / "debug", "stripped": root / "stripped"}
    subprocess.run(["elixirc", "-o", str(dirs["debug"]), str(source)], check=True, capture_output=True, timeout=300)
    ebin = list(lib.glob("elixir*/ebin"))
    shutil.copytree(dirs["debug"], dirs["stripped"])
    for name in STDLIB_CHILDREN:  # a mix release ships (stripped) Elixir too
        shutil.copy(ebin[0] / f"Elixir.{name}.beam", dirs["stripped"])
    dirs["elixir"] = ebin[0]
    _strip(dirs["stripped"])  # what mix release does
    reference = _reference([dirs["debug"], *ebin], ELIXIR_RUNS, prefix="Elixir.")
    return dirs, reference


# --- comparison -----------------------------------------------------------------------------


def _ours_name(result: SupervisorChildren) -> str:
    if result.registered_name is not None:
        return canon((Atom("local"), result.registered_name))
    if isinstance(result.sup_ref, tuple) and result.sup_ref[0] == Atom("global"):
        return canon(result.sup_ref)
    return canon(Atom("none"))


def _module(child) -> Atom:
    return child.module if child.module is not None else Atom("undefined")


def _check(module: str, result: SupervisorChildren, reference: dict, types: bool = True) -> None:
    """The static result against the reference run of one supervisor (``types``: compare them)."""
    live = set(reference["live" if types else "live_ids"].split(" ")) - {""}
    if types:
        ours_init = canon([(c.id, _module(c), Atom(c.type)) for c in result.children])
        ours_live = {canon((c.id, Atom(c.type))) for c in result.children if c.type is not None}
    else:
        ours_init = canon([(c.id, _module(c)) for c in result.children])
        ours_live = {canon(c.id) for c in result.children}
    if module in INCOMPLETE:
        assert not result.complete, (module, result)
        assert result.reason, module
        # What is reported exists: every child we name is one the running supervisor has.
        assert ours_live and ours_live <= live, (module, ours_live, live)
    else:
        assert result.complete, (module, result.reason)
        assert ours_init == reference["init" if types else "init_ids"], (module, result)
        if result.strategy == "simple_one_for_one":
            assert not live, module  # the spec is a template, not a started child
        elif module in UNION:
            assert live <= ours_live, module
        else:
            assert ours_live == live, module
    if module in NAME_AT_RUN_TIME:
        assert result.sup_ref is None and "run time" in result.name_reason, (module, result.name_reason)
    else:
        assert _ours_name(result) == reference["name"], (module, result.to_dict())
        if reference["name"] == canon(Atom("none")):
            assert result.name_reason == "started without a registered name", module


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["debug", "stripped"])
def test_erlang_supervisors_match_otp(erlang_build, kind):
    dirs, reference = erlang_build
    methods = set()
    for module in ERLANG_RUNS:
        result = supervisor_children(read_beam_file(str(dirs[kind] / f"{module}.beam")))
        if module in NAMED_ELSEWHERE:
            assert result.name_reason == f"no supervisor start_link call for {module} in the module"
            starter = read_beam_file(str(dirs[kind] / f"{NAMED_ELSEWHERE[module]}.beam"))
            started = started_supervisors(starter)
            assert list(started) == [Atom(module)], started
            result.registered_name, result.sup_ref, result.name_reason = started[Atom(module)]
        _check(module, result, reference[module])
        assert SupervisorChildren.from_dict(result.to_dict()) == result
        methods.add(result.method)
    assert methods == {"erlang debug info" if kind == "debug" else "beam code"}


def test_erlang_reasons_are_precise(erlang_build):
    dirs, _reference_runs = erlang_build
    debug = supervisor_children(read_beam_file(str(dirs["debug"] / "cs_dynamic.beam")))
    line = next(n for n, text in enumerate(ERLANG["cs_dynamic"].splitlines(), 1) if "|| I <-" in text)
    assert debug.reason == (
        f"part of the child list is built at run time: a list comprehension (line {line}) over "
        f"the result of lists:seq/2 (line {line})"
    ), debug.reason
    stripped = supervisor_children(read_beam_file(str(dirs["stripped"] / "cs_dynamic.beam")))
    assert stripped.reason.startswith("no debug info; "), stripped.reason
    assert [c.id for c in stripped.children] == [Atom("static")]
    sofo = supervisor_children(read_beam_file(str(dirs["debug"] / "cs_sofo.beam")))
    assert sofo.strategy == "simple_one_for_one"
    assert supervisor_children(read_beam_file(str(dirs["debug"] / "cs_stub.beam"))).reason == "no init/1 function"


@pytest.mark.parametrize("kind", ["debug", "stripped"])
@pytest.mark.parametrize("resolved", [False, True], ids=["alone", "resolved"])
def test_elixir_supervisors_match_elixir(elixir_build, kind, resolved):
    dirs, reference = elixir_build

    def resolve(module):
        for directory in (dirs[kind], dirs["elixir"]) if kind == "debug" else (dirs[kind],):
            path = directory / f"{module}.beam"
            if path.exists():
                return read_beam_file(str(path))
        return None

    methods = set()
    for name in ELIXIR_RUNS:
        beam = read_beam_file(str(dirs[kind] / f"Elixir.{name}.beam"))
        result = supervisor_children(beam, resolve if resolved else None)
        methods.add(result.method)
        assert SupervisorChildren.from_dict(result.to_dict()) == result
        if resolved:
            assert all(c.type is not None and not c.assumed for c in result.children), (name, result)
            _check(name, result, reference[name])
        elif name in CUSTOM_CHILD_SPEC:
            # Alone, a module child takes Elixir's default child_spec/1 (id = the module) and says
            # so; these children override their ids, which only their own beams tell.
            assert result.complete and all(c.assumed and c.type is None for c in result.children), result
            assert all(c.id == c.module for c in result.children), result
            assert {canon(c.id) for c in result.children} != set(reference[name]["live_ids"].split(" "))
        else:
            assert all(c.type is None for c in result.children if c.assumed), (name, result)
            _check(name, result, reference[name], types=False)
    assert methods == {"elixir debug info" if kind == "debug" else "beam code"}


def test_fixture_releases_shop_sup_gains_shop_stats():
    old = open_release(tarball("shop", "1.0.0")).app("shop").modules["shop_sup"]
    new = open_release(tarball("shop", "1.1.0")).app("shop").modules["shop_sup"]
    before = supervisor_children(old.beam)
    after = supervisor_children(new.beam)
    for result in (before, after):
        assert result.complete, result.reason
        assert result.registered_name == Atom("shop_sup")
        assert result.sup_ref == Atom("shop_sup")
    assert before.ids == [Atom("shop_cart")]
    assert after.ids == [Atom("shop_cart"), Atom("shop_stats")]
    added, removed = diff_children(before, after)
    assert [c.id for c in added] == [Atom("shop_stats")] and removed == []
    assert all(c.type == "worker" and c.module == c.id for c in after.children)


def test_fixture_release_exshop_supervisor():
    release = open_release(tarball("exshop", "0.2.0"))
    app = release.app("exshop")
    beam = app.modules["Elixir.Exshop.Supervisor"].beam

    def resolve(module):
        found = app.modules.get(str(module))
        return found.beam if found is not None else None

    alone = supervisor_children(beam)
    resolved = supervisor_children(beam, resolve)
    for result in (alone, resolved):
        assert result.complete, result.reason
        assert result.ids == [Atom("Elixir.Exshop.Counter")]
        assert result.registered_name == Atom("Elixir.Exshop.Supervisor")
    assert alone.children[0].assumed and alone.children[0].type is None
    assert not resolved.children[0].assumed and resolved.children[0].type == "worker"
