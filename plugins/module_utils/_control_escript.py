# Copyright (c) erlang.otp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control escript: a hidden Erlang node that talks to a release node for the modules.

PRIVATE to the erlang.otp collection: may change at any time.

The source travels inside the module (AnsiballZ ships module_utils), is written by
:mod:`._node_channel` into a private temporary directory, and runs with the release's own
``erts-<vsn>/bin/escript`` (or the system ``escript``). :func:`render` puts the emulator flags on
the ``%%!`` line; they are never secret (``-hidden``, ``-proto_dist``, ``-epmd_module``, ...).

Protocol
--------
Standard input: one Erlang term (text, UTF-8, ending with ``.``), a map::

    #{node => "shop@host" | "shop",        % without @host: completed with the control node's host
      cookie => "secret",                  % set with erlang:set_cookie/2, never printed
      name_type => shortnames | longnames,
      op => ping | rpc | facts | install_release | eval,
      args => [...],                       % rpc: [Module, Function, Args]; install_release: [Vsn, Opts];
                                           % eval: [Text] (Erlang expressions, the final dot optional)
      timeout => Ms,                       % per rpc:call/5
      connect_timeout => Ms,
      settle => Ms,                        % install_release: how long to watch for a restart
      restart_wait => Ms,                  % install_release: how long to wait for a restarted node
      md5 => true | false,                 % facts: include loaded modules and their md5
      session => true | false}             % keep serving after the reply (see Sessions)

Standard output: after the last line ``%% erlang.otp control reply`` (output of remote code run
by ``rpc:call`` may come before it), exactly one term followed by ``.``: ``{ok, Result, Info}`` or
``{error, Reason, Info}`` where ``Info`` is ``#{node => FullNodeName}`` (or ``#{}`` when the name
could not be completed). Pids, ports, references, local funs and bitstrings in results are turned
into ``{'$pid', "<0.1.0>"}``-style tuples so that the text always parses. Every occurrence of the
cookie (atom, string, binary, or inside a string) is replaced by ``"********"`` before printing.

``eval`` parses the text on the control node and evaluates it on the node inside ``try``: the
result is its value, or ``{error, {parse, Line, Message}}`` (text that does not scan or parse, or
that ``erl_eval`` refuses, e.g. an unbound variable), or ``{error, {exception, Class, Reason,
Stack}}`` (raised on the node; ``Stack``: at most 5 frames, arguments replaced by their count,
locations by file and line), both with exit status 1.

Exit status: 0 ok; 1 the remote call failed (``{badrpc, _}``) or ``eval`` failed; 2 no connection
(node down, wrong cookie, bad host), a bad request, distribution could not start, or the overall
deadline passed.

Errors with exit 2 and their ``Reason``:

* ``{cannot_connect, Node, Diagnosis}`` with ``Diagnosis`` one of ``not_registered`` (epmd on the
  node's host does not know the name: the node is not running), ``{registered, Port}`` (epmd knows
  it but the handshake failed: wrong cookie or another distribution protocol),
  ``{epmd_unreachable, Why}``, ``{host_unknown, Why}`` or ``unknown``;
* ``{connect_timeout, Node}``; ``{distribution_failed, OurName, NameType}``; ``{bad_request, What}``;
  ``{deadline, Ms}``; ``{internal, Class, Reason}``.

Sessions
--------
A request with ``session => true`` makes the control node stay up after its reply: it reads the
next request from standard input (each one a term ending with ``.``), answers it the same way,
and halts with status 0 at the end of the input. The distribution started by the first request is
kept, so later requests cost a round trip instead of a VM start; a node that went down and came
back (a restart) is connected to again. In a session each reply carries the exit status a single
call would have had as ``exit`` in ``Info`` and is followed by the line
``%% erlang.otp control reply end``. A request that does not parse is answered and the session
goes on; when standard input itself fails, the control node answers and halts with status 2. The
deadline still holds per request: when it passes, the reply ``{error, {deadline, Ms}, #{}}``
comes without the end line and the control node halts with status 2.
"""

from __future__ import annotations

__all__ = ["BASE_FLAGS", "ESCRIPT_BODY", "REPLY_END_MARKER", "REPLY_MARKER", "render"]

#: The line after which the reply term starts.
REPLY_MARKER = "%% erlang.otp control reply"

#: In a session, the line after each reply term.
REPLY_END_MARKER = "%% erlang.otp control reply end"

#: Always on the ``%%!`` line. ``-nocookie``: never read or create ``~/.erlang.cookie`` of the user
#: running the module (the cookie arrives on stdin). ``-dist_listen false``: the control node only
#: connects out, registers nothing with epmd and starts no epmd. No crash dump in the cwd.
BASE_FLAGS = ("-hidden", "-nocookie", "-dist_listen", "false", "-env", "ERL_CRASH_DUMP_SECONDS", "0")

ESCRIPT_BODY = r"""
%% erlang.otp control node (plugins/module_utils/_control_escript.py documents the protocol).

main(_) ->
    ok = io:setopts(standard_io, [{encoding, unicode}]),
    quiet_logger(),
    serve(once).

%% once: answer one request and halt. session: after each reply, read the next request; halt at
%% the end of standard input.
serve(Mode) ->
    Self = self(),
    Request = try read_request() catch C:R -> {error, {internal, C, R}} end,
    case Request of
        {ok, Req} ->
            put(cookie, maps:get(cookie, Req, undefined)),
            put(session, Mode =:= session orelse maps:get(session, Req, false) =:= true),
            %% never let escript print a crash: its report could show the request (and the cookie)
            try
                Deadline = deadline(Req),
                put(watchdog, spawn(fun() -> watchdog(Self, Deadline) end)),
                run(Req)
            catch Class:Reason -> finish({error, {internal, Class, Reason}, #{}}, 2)
            end,
            case erase(watchdog) of
                undefined -> ok;
                Dog -> exit(Dog, kill)
            end,
            serve(session);
        {error, eof} when Mode =:= session ->
            halt(0);
        %% standard input itself failed: no later request can be read either
        {error, {internal, _, _} = Internal} ->
            finish({error, Internal, #{}}, 2),
            halt(2);
        {error, {stdin, _} = Why} ->
            finish({error, {bad_request, Why}, #{}}, 2),
            halt(2);
        {error, Why} ->
            finish({error, {bad_request, Why}, #{}}, 2),
            serve(Mode)
    end.

%% Log events (distribution start-up failures...) go to stderr, never between us and our reply.
quiet_logger() ->
    _ = logger:remove_handler(default),
    _ = logger:add_handler(default, logger_std_h, #{config => #{type => standard_error}, level => warning}),
    ok.

deadline(Req) ->
    Connect = maps:get(connect_timeout, Req, 10000),
    Timeout = maps:get(timeout, Req, 60000),
    Extra = case maps:get(op, Req, ping) of
        install_release -> maps:get(settle, Req, 3000) + maps:get(restart_wait, Req, 60000) + 15000;
        _ -> 0
    end,
    Connect + Timeout + Extra + 10000.

watchdog(Main, Ms) ->
    Ref = erlang:monitor(process, Main),
    receive
        {'DOWN', Ref, process, Main, _} -> ok
    after Ms ->
        finish({error, {deadline, Ms}, #{}}, 2)
    end.

%% One term, up to its final dot (a session sends one per call).
read_request() ->
    case io:request(standard_io, {get_until, unicode, '', erl_scan, tokens, [1]}) of
        {ok, Tokens, _} ->
            case erl_parse:parse_term(Tokens) of
                {ok, Req} when is_map(Req) -> check_request(Req);
                {ok, _} -> {error, not_a_map};
                %% the text holds the cookie: report the line only, never the tokens
                {error, {Line, _, _}} -> {error, {syntax, Line}}
            end;
        {error, {Line, _, _}, _} ->
            {error, {syntax, Line}};
        {eof, _} ->
            {error, eof};
        eof ->
            {error, eof};
        {error, Why} ->
            {error, {stdin, Why}}
    end.

check_request(Req) ->
    Ops = [ping, rpc, facts, install_release, eval],
    case Req of
        #{node := N, cookie := C, name_type := T, op := Op}
          when is_list(N), N =/= [], is_list(C), C =/= [],
               (T =:= shortnames orelse T =:= longnames) ->
            case lists:member(Op, Ops) of
                true -> {ok, Req};
                false -> {error, {unknown_op, Op}}
            end;
        _ ->
            {error, {missing_keys, [node, cookie, name_type, op]}}
    end.

%% ---------------------------------------------------------------------------------------------

run(#{node := Node0, cookie := Cookie, name_type := NameType, op := Op} = Req) ->
    {Alive, Host} = split_node(Node0),
    Name = "erlang_otp_ctl_" ++ os:getpid(),
    Ours = case Host of
        none -> list_to_atom(Name);
        _ -> list_to_atom(Name ++ "@" ++ Host)
    end,
    Started = case node() of
        nonode@nohost -> net_kernel:start([Ours, NameType]);
        _ -> {ok, already}  % a session's later request
    end,
    case Started of
        {ok, _} ->
            Node = case Host of
                none -> list_to_atom(Alive ++ "@" ++ element(2, split_node(atom_to_list(node()))));
                _ -> list_to_atom(Node0)
            end,
            CookieAtom = list_to_atom(Cookie),
            true = erlang:set_cookie(node(), CookieAtom),
            true = erlang:set_cookie(Node, CookieAtom),
            Info = #{node => Node},
            case connect(Node, maps:get(connect_timeout, Req, 10000)) of
                true ->
                    {Code, Reply} = op(Op, Node, Req),
                    finish(erlang:append_element(Reply, Info), Code);
                timeout ->
                    finish({error, {connect_timeout, Node}, Info}, 2);
                false ->
                    finish({error, {cannot_connect, Node, diagnose(Alive, Node)}, Info}, 2)
            end;
        {error, _Why} ->
            finish({error, {distribution_failed, Ours, NameType}, #{}}, 2)
    end.

split_node(Text) ->
    case string:split(Text, "@") of
        [Alive, Host] -> {Alive, Host};
        [Alive] -> {Alive, none}
    end.

connect(Node, Timeout) ->
    Self = self(),
    Pid = spawn(fun() -> Self ! {connected, self(), net_kernel:connect_node(Node)} end),
    receive
        {connected, Pid, Result} -> Result
    after Timeout ->
        exit(Pid, kill),
        timeout
    end.

diagnose(Alive, Node) ->
    {_, Host} = split_node(atom_to_list(Node)),
    Addr = case inet:getaddr(Host, inet) of
        {ok, _} = V4 -> V4;
        {error, _} = E4 ->
            case inet:getaddr(Host, inet6) of
                {ok, _} = V6 -> V6;
                {error, _} -> E4
            end
    end,
    case Addr of
        {ok, Ip} ->
            Mod = try net_kernel:epmd_module() catch _:_ -> erl_epmd end,
            try Mod:port_please(Alive, Ip) of
                noport -> not_registered;
                {port, Port, _Version} -> {registered, Port};
                {error, Why} -> {epmd_unreachable, Why};
                _ -> unknown
            catch
                _:_ -> unknown
            end;
        {error, Why} ->
            {host_unknown, Why}
    end.

%% ---------------------------------------------------------------------------------------------
%% operations: {ExitCode, {ok, Result} | {error, Reason}}

op(ping, _Node, _Req) ->
    {0, {ok, pong}};
op(rpc, Node, #{args := [M, F, A]} = Req) when is_atom(M), is_atom(F), is_list(A) ->
    case rpc:call(Node, M, F, A, maps:get(timeout, Req, 60000)) of
        {badrpc, Why} -> {1, {error, {badrpc, Why}}};
        Result -> {0, {ok, Result}}
    end;
op(rpc, _Node, _Req) ->
    {2, {error, {bad_request, {args, expected_module_function_args}}}};
op(facts, Node, Req) ->
    {ok, Exprs} = parse(facts_expr(maps:get(md5, Req, false))),
    case remote_eval(Node, Exprs, maps:get(timeout, Req, 60000)) of
        {ok, Facts} -> {0, {ok, Facts}};
        {error, Why} -> {1, {error, Why}}
    end;
op(install_release, Node, #{args := [Vsn, Opts]} = Req) when is_list(Vsn), is_list(Opts) ->
    {0, {ok, install(Node, Vsn, Opts, Req)}};
op(install_release, _Node, _Req) ->
    {2, {error, {bad_request, {args, expected_vsn_opts}}}};
op(eval, Node, #{args := [Text]} = Req) when is_list(Text) ->
    case parse(Text) of
        {ok, Exprs} ->
            case remote_eval(Node, guarded(Exprs), maps:get(timeout, Req, 60000)) of
                {ok, {'$value', Value}} -> {0, {ok, Value}};
                {ok, {'$exception', C, R, S}} -> {1, {error, {exception, C, R, frames(S)}}};
                %% raised by erl_eval itself, outside the try
                {error, {badrpc, {'EXIT', {R, S}}}} when is_list(S) -> {1, {error, {exception, error, R, frames(S)}}};
                {error, Why} -> {1, {error, Why}}
            end;
        {error, _} = Error ->
            {1, Error}
    end;
op(eval, _Node, _Req) ->
    {2, {error, {bad_request, {args, expected_text}}}}.

%% {ok, Exprs} | {error, {parse, Line, Message}}: scan, parse, then erl_eval's own checks
%% (unbound variables...); the final dot may be left out
parse(Text) ->
    case erl_scan:string(Text) of
        {ok, Tokens, End} ->
            Dot = case lists:reverse(Tokens) of
                [{dot, _} | _] -> [];
                _ -> [{dot, End}]
            end,
            case erl_parse:parse_exprs(Tokens ++ Dot) of
                {ok, Exprs} ->
                    case erl_eval:check_command(Exprs, []) of
                        ok -> {ok, Exprs};
                        {error, Error} -> parse_error(Error)
                    end;
                {error, Error} -> parse_error(Error)
            end;
        {error, Error, _} ->
            parse_error(Error)
    end.

parse_error({Loc, Mod, Desc}) ->
    Line = case Loc of {L, _Col} -> L; L -> L end,
    {error, {parse, Line, unicode:characters_to_list(Mod:format_error(Desc))}}.

%% try {'$value', begin Exprs end} catch C:R:S -> {'$exception', C, R, S} end
%% (the three variable names are reserved: erl_eval refuses them in the expression, unsafe_var)
guarded(Exprs) ->
    A = erl_anno:new(0),
    [C, R, S] = [{var, A, list_to_atom("ErlangOtp" ++ N ++ "__")} || N <- ["C", "R", "S"]],
    [{'try', A, [{tuple, A, [{atom, A, '$value'}, {block, A, Exprs}]}], [],
      [{clause, A, [{tuple, A, [C, R, S]}], [], [{tuple, A, [{atom, A, '$exception'}, C, R, S]}]}],
      []}].

frames(Stack) ->
    [case Frame of
         {M, F, Arity, Loc} when is_list(Loc) ->
             {M, F, if is_list(Arity) -> length(Arity); true -> Arity end,
              [{K, V} || {K, V} <- Loc, K =:= file orelse K =:= line]};
         _ -> Frame
     end || Frame <- lists:sublist(Stack, 5)].

remote_eval(Node, Exprs, Timeout) ->
    case rpc:call(Node, erl_eval, exprs, [Exprs, []], Timeout) of
        {value, Value, _} -> {ok, Value};
        {badrpc, Why} -> {error, {badrpc, Why}}
    end.

facts_expr(WithMd5) ->
    "Safe = fun(F) -> try {ok, F()} catch C:R -> {error, {C, R}} end end,"
    "Arg = fun(K) -> case init:get_argument(K) of {ok, V} -> V; error -> undefined end end,"
    "Apps = Safe(fun() -> [{A, V} || {A, _, V} <- application:which_applications(10000)] end),"
    "Loaded = case " ++ atom_to_list(WithMd5) ++ " of"
    "  true -> {'$raw', [{M, erlang:get_module_info(M, md5), P} || {M, P} <- code:all_loaded()]};"
    "  false -> undefined "
    "end,"
    "#{node => node(),"
    "  os_pid => os:getpid(),"
    "  otp_release => erlang:system_info(otp_release),"
    "  erts_version => erlang:system_info(version),"
    "  root_dir => code:root_dir(),"
    "  which_releases => Safe(fun() -> release_handler:which_releases() end),"
    "  release_handler => whereis(release_handler),"
    "  heart => whereis(heart) =/= undefined,"
    "  applications => Apps,"
    "  uptime_ms => element(1, erlang:statistics(wall_clock)),"
    "  arguments => [{K, Arg(K)} || K <- [root, progname, boot, config, mode, heart, name, sname,"
    "                                    proto_dist, epmd_module, boot_var]],"
    "  releases_dir => Safe(fun() -> application:get_env(sasl, releases_dir) end),"
    "  reldir_env => os:getenv(\"RELDIR\"),"
    "  script_id => init:script_id(),"
    "  loaded => Loaded}.".

%% install_release under monitor_node; tells apart "failed, untouched" from "node restarted".
install(Node, Vsn, Opts, Req) ->
    Timeout = maps:get(timeout, Req, 600000),
    Settle = maps:get(settle, Req, 3000),
    RestartWait = maps:get(restart_wait, Req, 60000),
    Before = probe(Node),
    true = erlang:monitor_node(Node, true),
    T0 = erlang:monotonic_time(millisecond),
    Call = rpc:call(Node, release_handler, install_release, [Vsn, Opts], Timeout),
    Elapsed = erlang:monotonic_time(millisecond) - T0,
    {Result, BadRpc} = case Call of
        {badrpc, Why} -> {undefined, Why};
        _ -> {Call, undefined}
    end,
    Watch = case Call of
        {ok, _, _} -> 0;
        _ -> Settle
    end,
    Down = watch(Node, Before, Watch),
    {Back, After} = case Down of
        false ->
            {true, probe(Node)};
        true ->
            case await_back(Node, RestartWait) of
                true -> {true, probe(Node)};
                false -> {false, undefined}
            end
    end,
    Restarted = Down orelse restarted(Before, After),
    #{result => Result, badrpc => BadRpc, node_down => Down, node_back => Back,
      node_restarted => Restarted andalso Back, elapsed_ms => Elapsed,
      before => Before, 'after' => After}.

probe(Node) ->
    case rpc:call(Node, erlang, whereis, [release_handler], 5000) of
        {badrpc, _} -> undefined;
        Pid ->
            case rpc:call(Node, erlang, statistics, [wall_clock], 5000) of
                {Up, _} -> #{release_handler => Pid, uptime_ms => Up};
                _ -> undefined
            end
    end.

%% true when the node went down (nodedown, or init stopping, or a new release_handler)
watch(Node, Before, Ms) ->
    receive
        {nodedown, Node} -> true
    after 0 ->
        case Ms =< 0 of
            true -> false;
            false ->
                Step = erlang:min(200, Ms),
                receive
                    {nodedown, Node} -> true
                after Step ->
                    case rpc:call(Node, init, get_status, [], 1000) of
                        {started, _} ->
                            case restarted(Before, probe(Node)) of
                                true -> true;
                                false -> watch(Node, Before, Ms - Step)
                            end;
                        _ -> true
                    end
                end
        end
    end.

restarted(#{release_handler := P1, uptime_ms := U1}, #{release_handler := P2, uptime_ms := U2}) ->
    P1 =/= P2 orelse U2 < U1;
restarted(_, _) ->
    false.

await_back(Node, Ms) when Ms =< 0 ->
    net_adm:ping(Node) =:= pong andalso started(Node);
await_back(Node, Ms) ->
    case net_adm:ping(Node) =:= pong andalso started(Node) of
        true -> true;
        false -> timer:sleep(250), await_back(Node, Ms - 250)
    end.

started(Node) ->
    case rpc:call(Node, init, get_status, [], 2000) of
        {started, _} -> rpc:call(Node, erlang, whereis, [release_handler], 2000) =/= undefined;
        _ -> false
    end.

%% ---------------------------------------------------------------------------------------------
%% output

finish(Reply, Code) ->
    Clean = scrub(printable(Reply), get(cookie)),
    %% Code run by rpc:call may print to our group leader: the reply follows the last marker line.
    case get(session) of
        true ->
            %% the exit code a single call would have had goes into Info; the reply ends with a line
            {Status, Value, Info} = Clean,
            io:format("~n~ts~n~tp.~n~ts~n", [marker(), {Status, Value, Info#{exit => Code}}, end_marker()]);
        _ ->
            io:format("~n~ts~n~tp.~n", [marker(), Clean]),
            halt(Code)
    end.

%% {'$raw', T}: a large term of known shape (atoms, binaries, strings), printed as it is
printable({'$raw', T}) -> {'$raw', T};
printable(T) when is_pid(T) -> {'$pid', pid_to_list(T)};
printable(T) when is_port(T) -> {'$port', erlang:port_to_list(T)};
printable(T) when is_reference(T) -> {'$ref', erlang:ref_to_list(T)};
printable(T) when is_function(T) ->
    case erlang:fun_info(T, type) of
        {type, external} -> T;
        _ -> {'$fun', erlang:fun_to_list(T)}
    end;
printable(T) when is_bitstring(T), not is_binary(T) -> {'$bitstring', lists:flatten(io_lib:format("~w", [T]))};
printable(T) when is_tuple(T) -> list_to_tuple(printable(tuple_to_list(T)));
printable(T) when is_map(T) -> maps:from_list([{printable(K), printable(V)} || {K, V} <- maps:to_list(T)]);
printable([H | Tail]) -> [printable(H) | printable(Tail)];
printable(T) -> T.

scrub(T, Cookie) when is_list(Cookie), Cookie =/= [] ->
    scrub_term(T, Cookie, list_to_atom(Cookie), unicode:characters_to_binary(Cookie));
scrub(T, _) ->
    T.

scrub_term({'$raw', T}, _C, _A, _B) -> T;
scrub_term(T, _C, A, _B) when is_atom(T), T =:= A -> mask();
scrub_term(T, C, _A, _B) when is_atom(T) ->
    Text = atom_to_list(T),
    case string:find(Text, C) of
        nomatch -> T;
        _ -> lists:flatten(string:replace(Text, C, mask(), all))
    end;
scrub_term(T, _C, _A, B) when is_binary(T) ->
    binary:replace(T, B, list_to_binary(mask()), [global]);
scrub_term(T, C, A, B) when is_list(T) ->
    case io_lib:printable_unicode_list(T) of
        true ->
            case string:find(T, C) of
                nomatch -> T;
                _ -> lists:flatten(string:replace(T, C, mask(), all))
            end;
        false ->
            scrub_list(T, C, A, B)
    end;
scrub_term(T, C, A, B) when is_tuple(T) -> list_to_tuple(scrub_list(tuple_to_list(T), C, A, B));
scrub_term(T, C, A, B) when is_map(T) ->
    maps:from_list([{scrub_term(K, C, A, B), scrub_term(V, C, A, B)} || {K, V} <- maps:to_list(T)]);
scrub_term(T, _C, _A, _B) -> T.

mask() -> "********".

marker() -> "%% erlang.otp control reply".

end_marker() -> "%% erlang.otp control reply end".

scrub_list([H | Tail], C, A, B) -> [scrub_term(H, C, A, B) | scrub_list(Tail, C, A, B)];
scrub_list([], _C, _A, _B) -> [];
scrub_list(Tail, C, A, B) -> scrub_term(Tail, C, A, B).
"""


def render(flags) -> str:
    """The escript file: first line, the ``%%!`` emulator flags (:data:`BASE_FLAGS` + ``flags``), body.

    ``escript`` splits the ``%%!`` line on blanks and knows no quoting, so a flag holding a blank,
    a newline or a NUL is refused with a ``ValueError`` naming it.
    """
    all_flags = [*BASE_FLAGS, *flags]
    for flag in all_flags:
        if not isinstance(flag, str) or not flag or any(c in flag for c in " \t\r\n\0"):
            raise ValueError(f"emulator flag {flag!r} cannot go on an escript's %%! line (empty or holds a blank)")
    return "%% -*- erlang -*-\n%%! " + " ".join(all_flags) + "\n" + ESCRIPT_BODY.lstrip("\n")
