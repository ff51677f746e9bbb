%% -*- erlang -*-
%%! -hidden -nocookie -dist_listen false -env ERL_CRASH_DUMP_SECONDS 0
%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% Helper of bench/bench_fleet.py: release_handler calls on every node of a loopback fleet, from
%% one hidden node (the fleet's ERL_EPMD_PORT comes from the environment). It talks to the nodes
%% directly, not through their start scripts: after relx's `bin/<rel> upgrade` the script reads
%% the new release's vm.args, whose node name and cookie are not the running node's.
%%
%% Standard input, one line: an Erlang term ending with ".":
%%   #{nodes => ["shop_node1_4000@host", ...], cookie => "secret", name_type => shortnames,
%%     op => releases | install | full, vsn => "1.1.0", package => "1.1.0/shop", timeout_ms => 300000}
%% The cookie is never on the command line and never printed.
%%
%% op releases: per node {"releases": [[Vsn, Status], ...], "cart_pid": "<0.N.0>",
%%   "os_pid": "1234"} (release_handler:which_releases/0, shop_cart:pid/0, os:getpid/0).
%% op install: on every node in parallel, release_handler:install_release(Vsn, [{update_paths,
%%   true}]) (the options of erlang.otp.release and of relx) then release_handler:make_permanent(Vsn);
%%   per node {"install": "ok" | Error, "install_ms": Ms, "permanent": "ok" | Error,
%%   "permanent_ms": Ms, "started_at": Epoch, "ended_at": Epoch}; each call timed in this VM.
%% op full: on every node in parallel the whole of what relx's install_upgrade.escript asks of the
%%   node, each call timed: release_handler:unpack_release(Package) (Package "1.1.0/shop" is
%%   releases/1.1.0/shop.tar.gz, where relx's escript puts it), check_install_release(Vsn), install_release(Vsn,
%%   [{update_paths, true}]), make_permanent(Vsn); per node {"unpack": "ok" | Error, "unpack_ms",
%%   "check", "check_ms", "install", "install_ms", "permanent", "permanent_ms", "failed": Bool,
%%   "started_at", "ended_at"} (a failed step ends that node's sequence).
%% install and full: once connected to every node it prints {"ready": true} and waits for one more line of input
%%   (or EOF) before it starts, so that its own start-up is not part of a measurement.
%% Standard output: one JSON line {"nodes": {Node: Result}, "started_at": Epoch, "ended_at": Epoch}
%% ({"error": Text} for a node that could not be reached). Exit 2 on a bad request.

-mode(compile).

main(_) ->
    _ = logger:remove_handler(default),
    case io:get_line(standard_io, "") of
        eof -> fail("no request on standard input");
        Line ->
            case erl_scan:string(unicode:characters_to_list(Line)) of
                {ok, Tokens, _} ->
                    case erl_parse:parse_term(Tokens) of
                        {ok, #{nodes := [_ | _], cookie := _, name_type := _, op := Op} = Req}
                          when Op =:= releases; Op =:= install; Op =:= full ->
                            run(Req);
                        _ -> fail("request: expected #{nodes, cookie, name_type, op => releases | install | full}")
                    end;
                _ -> fail("request: syntax error")
            end
    end.

fail(Text) ->
    emit(#{error => unicode:characters_to_binary(Text)}),
    halt(2).

run(#{nodes := Names, cookie := Cookie, name_type := NameType, op := Op} = Req) ->
    Nodes = [list_to_atom(N) || N <- Names],
    [_, Host] = string:split(atom_to_list(hd(Nodes)), "@"),
    Ours = list_to_atom("erlang_otp_bench_" ++ os:getpid() ++ "@" ++ Host),
    {ok, _} = net_kernel:start([Ours, NameType]),
    true = erlang:set_cookie(node(), list_to_atom(Cookie)),
    [true = erlang:set_cookie(N, list_to_atom(Cookie)) || N <- Nodes],
    %% connect first (not timed), so install calls start together
    Connected = [{N, net_kernel:connect_node(N) =:= true} || N <- Nodes],
    case Op of
        releases -> ok;
        _ ->
            %% connected: say so, and start when the next line (or EOF) arrives
            emit(#{ready => true}),
            _ = io:get_line(standard_io, "")
    end,
    Main = self(),
    StartedAt = epoch(),
    Pids = [{N, spawn(fun() -> Main ! {done, self(), one(Op, N, Ok, Req)} end)} || {N, Ok} <- Connected],
    Results = [receive {done, Pid, R} -> {atom_to_binary(N), R} end || {N, Pid} <- Pids],
    emit(#{nodes => maps:from_list(Results), started_at => StartedAt, ended_at => epoch()}),
    halt(0).

one(_Op, _Node, false, _Req) ->
    #{error => <<"could not connect">>};
one(releases, Node, true, _Req) ->
    Rels = erpc:call(Node, release_handler, which_releases, [], 60000),
    Cart = erpc:call(Node, erlang, whereis, [shop_cart], 60000),
    #{releases => [[bin(V), bin(S)] || {_, V, _, S} <- Rels],
      cart_pid => bin(case is_pid(Cart) of true -> erpc:call(Node, erlang, pid_to_list, [Cart]); false -> "none" end),
      os_pid => bin(erpc:call(Node, os, getpid, [], 60000))};
one(install, Node, true, #{vsn := Vsn} = Req) ->
    Timeout = maps:get(timeout_ms, Req, 300000),
    StartedAt = epoch(),
    {Install, InstallMs} = timed(fun() ->
        erpc:call(Node, release_handler, install_release, [Vsn, [{update_paths, true}]], Timeout) end),
    {Permanent, PermanentMs} = case Install of
        {ok, _, _} -> timed(fun() -> erpc:call(Node, release_handler, make_permanent, [Vsn], Timeout) end);
        _ -> {skipped, 0.0}
    end,
    #{install => result(Install), install_ms => InstallMs, permanent => result(Permanent),
      permanent_ms => PermanentMs, started_at => StartedAt, ended_at => epoch()};
one(full, Node, true, #{vsn := Vsn} = Req) ->
    Timeout = maps:get(timeout_ms, Req, 300000),
    Name = maps:get(package, Req),
    StartedAt = epoch(),
    Steps = [{unpack, fun() -> erpc:call(Node, release_handler, unpack_release, [Name], Timeout) end},
             {check, fun() -> erpc:call(Node, release_handler, check_install_release, [Vsn], Timeout) end},
             {install, fun() ->
                 erpc:call(Node, release_handler, install_release, [Vsn, [{update_paths, true}]], Timeout) end},
             {permanent, fun() -> erpc:call(Node, release_handler, make_permanent, [Vsn], Timeout) end}],
    Done = lists:foldl(
             fun({Step, Fun}, #{failed := false} = Acc) ->
                     {R, Ms} = timed(Fun),
                     Ok = case R of ok -> true; {ok, _} -> true; {ok, _, _} -> true; _ -> false end,
                     Acc#{Step => result(R), list_to_atom(atom_to_list(Step) ++ "_ms") => Ms, failed => not Ok};
                (_, Acc) -> Acc
             end, #{failed => false}, Steps),
    Done#{started_at => StartedAt, ended_at => epoch()}.

timed(Fun) ->
    T0 = erlang:monotonic_time(microsecond),
    R = try Fun() catch Class:Reason -> {Class, Reason} end,
    {R, (erlang:monotonic_time(microsecond) - T0) / 1000}.

result(ok) -> <<"ok">>;
result({ok, _}) -> <<"ok">>;
result({ok, _, _}) -> <<"ok">>;
result(Other) -> unicode:characters_to_binary(io_lib:format("~0P", [Other, 12])).

bin(A) when is_atom(A) -> atom_to_binary(A);
bin(L) when is_list(L) -> unicode:characters_to_binary(L).

epoch() -> erlang:system_time(microsecond) / 1000000.

%% JSON (OTP 25 has no json module): maps with atom or binary keys, lists, binaries, numbers.
emit(Term) -> io:put_chars(standard_io, [json(Term), $\n]).

json(true) -> "true";
json(false) -> "false";
json(A) when is_atom(A) -> string(atom_to_list(A));
json(I) when is_integer(I) -> integer_to_list(I);
json(F) when is_float(F) -> float_to_list(F, [{decimals, 6}, compact]);
json(B) when is_binary(B) -> string(unicode:characters_to_list(B));
json(M) when is_map(M) ->
    ["{", join([[string(key(K)), ":", json(V)] || {K, V} <- lists:sort(maps:to_list(M))]), "}"];
json(L) when is_list(L) -> ["[", join([json(E) || E <- L]), "]"].

key(K) when is_atom(K) -> atom_to_list(K);
key(K) when is_binary(K) -> unicode:characters_to_list(K).

join([]) -> [];
join([H | T]) -> [H | [[",", E] || E <- T]].

string(S) -> [$", [esc(C) || C <- S], $"].

esc($") -> "\\\"";
esc($\\) -> "\\\\";
esc(C) when C < 32 -> io_lib:format("\\u~4.16.0b", [C]);
esc(C) -> unicode:characters_to_binary([C]).
