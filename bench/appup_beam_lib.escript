%% -*- erlang -*-
%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% OTP's side of bench/bench_appup.py: the appups of an upgrade from the release in OldRoot to
%% the release in NewRoot (relx layout: releases/<vsn>/<name>.rel, lib/<app>-<vsn>/ebin), done
%% the way the existing generators do it with OTP's own tools:
%%
%%   - both .rel files with file:consult/1; every application in both releases is compared;
%%   - beam_lib:cmp_dirs/2 on the two ebin directories (added, deleted, differing files);
%%   - beam_lib:md5/1 on each differing pair: equal code = a debug-info-only difference;
%%   - xref in modules mode on the new ebin (DepMods going up, among changed + added modules) and
%%     on the old ebin (going down, among changed + deleted; callers of deleted modules);
%%   - beam_lib:chunks/2 attributes + exports + imports of the changed and added modules:
%%     supervisor / special process / plain module, NIF loaders;
%%   - the child ids of changed supervisors from their abstract code (init/1, nothing executed);
%%   - the up list in dependency order (digraph condensation + topological sort), the down list
%%     as its inverse, and the appup text (io_lib:format "~tp").
%%
%% Usage: escript appup_beam_lib.escript Reps OldRoot NewRoot [details | write]
%% With `write`, the appups of the last pass are also written where systools looks for them:
%% NewRoot/lib/<app>-<vsn>/ebin/<app>.appup (bench/bench_relup.py's Erlang pipeline).
%% Prints one line per pass:
%%   wall_ms=<work wall time> cpu_ms=<VM CPU time> apps=<compared> ... (counts, see pass/2)
%%   phases cmp_dirs_ms=... md5_ms=... xref_ms=... chunks_ms=... children_ms=...
%% then, with `details`, one line per application compared (the last pass's results), and last a
%% `memory` line: erlang:memory(total) and the VM's peak RSS (VmHWM in /proc/self/status: the
%% rusage of a child counts the RSS of the process it was forked from).
%% Reps = 0 only starts and stops the VM (the start-up cost of this script).
-mode(compile).

-define(PHASES, [cmp_dirs, md5, xref, chunks, children]).

-define(SPECIAL, [gen_server, gen_statem, gen_event, gen_fsm, supervisor, supervisor_bridge,
                  'Elixir.GenServer', 'Elixir.Supervisor', 'Elixir.DynamicSupervisor',
                  'Elixir.PartitionSupervisor', 'Elixir.Agent', 'Elixir.Task.Supervisor',
                  'Elixir.GenEvent', 'Elixir.GenStage', 'Elixir.ConsumerSupervisor']).

main([Reps, Old, New | Opts]) ->
    N = list_to_integer(Reps),
    Results = lists:foldl(fun(_, _) -> pass(Old, New) end, [], lists:seq(1, N)),
    case Opts of
        ["details"] -> [io:format("~ts~n", [detail(R)]) || R <- Results];
        ["write"] -> [write_appup(New, R) || R = #{appup := _} <- Results];
        [] -> ok
    end,
    io:format("memory total_bytes=~b peak_rss_kb=~s~n", [erlang:memory(total), peak_rss()]);
main(_) ->
    io:format(standard_error, "usage: escript appup_beam_lib.escript Reps OldRoot NewRoot [details | write]~n", []),
    halt(2).

pass(Old, New) ->
    {Cpu0, _} = statistics(runtime),
    T0 = erlang:monotonic_time(microsecond),
    [erase({phase, P}) || P <- ?PHASES],
    Results = generate(Old, New),
    T1 = erlang:monotonic_time(microsecond),
    Phases = [io_lib:format(" ~s_ms=~.1f", [P, get_phase(P) / 1000]) || P <- ?PHASES],
    {Cpu1, _} = statistics(runtime),
    Apps = [R || R = #{appup := _} <- Results],
    Sum = fun(Key) -> lists:sum([length(maps:get(Key, R)) || R <- Apps]) end,
    Kinds = lists:append([maps:values(maps:get(kinds, R)) || R <- Apps]),
    io:format("wall_ms=~.1f cpu_ms=~b apps=~b appups=~b changed=~b added=~b deleted=~b debug_only=~b "
              "supervisor=~b special=~b plain=~b deps_up=~b deps_down=~b up_instructions=~b "
              "nif=~b errors=~b appup_bytes=~b~n",
              [(T1 - T0) / 1000, Cpu1 - Cpu0, length(Results), length(Apps),
               Sum(changed), Sum(added), Sum(deleted), Sum(debug_only),
               count(supervisor, Kinds), count(special, Kinds), count(plain, Kinds),
               lists:sum([ndeps(maps:get(deps_up, R)) || R <- Apps]),
               lists:sum([ndeps(maps:get(deps_down, R)) || R <- Apps]),
               Sum(up), Sum(nif), length([R || R = #{error := _} <- Results]),
               lists:sum([iolist_size(maps:get(appup, R)) || R <- Apps])]),
    io:format("phases~s~n", [Phases]),
    Results.

%% Wall time per phase, summed over the applications (process dictionary).
timed(Phase, Fun) ->
    T0 = erlang:monotonic_time(microsecond),
    Result = Fun(),
    put({phase, Phase}, get_phase(Phase) + erlang:monotonic_time(microsecond) - T0),
    Result.

get_phase(Phase) ->
    case get({phase, Phase}) of undefined -> 0; T -> T end.

count(X, L) -> length([Y || Y <- L, Y =:= X]).
ndeps(Deps) -> lists:sum([length(D) || D <- maps:values(Deps)]).

%% --- the generation -------------------------------------------------------------------------

generate(OldRoot, NewRoot) ->
    {_, OldApps} = read_rel(OldRoot),
    {_, NewApps} = read_rel(NewRoot),
    [app(Name, OldRoot, OldVsn, NewRoot, NewVsn)
     || {Name, NewVsn} <- NewApps, {Name1, OldVsn} <- OldApps, Name1 =:= Name].

read_rel(Root) ->
    [Rel] = filelib:wildcard(filename:join(Root, "releases/*/*.rel")),
    {ok, [{release, {_, Vsn}, _, Apps}]} = file:consult(Rel),
    {Vsn, [{element(1, A), element(2, A)} || A <- Apps]}.

ebin(Root, App, Vsn) ->
    filename:join([Root, "lib", atom_to_list(App) ++ "-" ++ Vsn, "ebin"]).

app(App, OldRoot, OldVsn, NewRoot, NewVsn) ->
    OldEbin = ebin(OldRoot, App, OldVsn),
    NewEbin = ebin(NewRoot, App, NewVsn),
    case filelib:is_dir(OldEbin) andalso filelib:is_dir(NewEbin) of
        false ->
            #{app => App, skipped => not_bundled};
        true ->
            {OnlyOld, OnlyNew, Different} = timed(cmp_dirs, fun() -> beam_lib:cmp_dirs(OldEbin, NewEbin) end),
            {Changed, DebugOnly} = timed(md5, fun() -> lists:partition(fun code_changed/1, Different) end),
            Diff = #{app => App, old => OldVsn, new => NewVsn,
                     changed => [{mod(O), O, N} || {O, N} <- Changed],
                     debug_only => [mod(N) || {_, N} <- DebugOnly],
                     added => [{mod(F), F} || F <- OnlyNew],
                     deleted => [{mod(F), F} || F <- OnlyOld]},
            case {OldVsn =:= NewVsn, Changed ++ OnlyNew ++ OnlyOld} of
                {true, []} -> Diff#{changed := [], added := [], deleted := []};
                {true, _} -> Diff#{error => {unchanged_vsn_with_changed_beams, App, NewVsn}};
                {false, _} -> appup(Diff, OldEbin, NewEbin)
            end
    end.

mod(File) -> list_to_atom(filename:basename(File, ".beam")).

code_changed({Old, New}) ->
    {ok, {_, Md5Old}} = beam_lib:md5(Old),
    {ok, {_, Md5New}} = beam_lib:md5(New),
    Md5Old =/= Md5New.

appup(Diff = #{changed := Changed0, added := Added0, deleted := Deleted0, old := OldVsn, new := NewVsn},
      OldEbin, NewEbin) ->
    Changed = [M || {M, _, _} <- Changed0],
    Added = [M || {M, _} <- Added0],
    Deleted = [M || {M, _} <- Deleted0],
    EdgesUp = timed(xref, fun() -> module_edges(NewEbin) end),
    EdgesDown = timed(xref, fun() -> module_edges(OldEbin) end),
    DepsUp = deps(EdgesUp, Changed ++ Added),
    DepsDown = deps(EdgesDown, Changed ++ Deleted),
    DeletedSet = sets:from_list(Deleted),
    %% a deleted module goes after the (old) callers that stop calling it
    DeleteDeps = lists:foldl(fun({From, To}, Acc) ->
                                     case sets:is_element(To, DeletedSet) andalso From =/= To of
                                         true -> maps:update_with(To, fun(L) -> [From | L] end, [From], Acc);
                                         false -> Acc
                                     end
                             end, #{}, EdgesDown),
    Facts = timed(chunks, fun() -> [{M, facts(O, N)} || {M, O, N} <- Changed0] end),
    AddedFacts = timed(chunks, fun() -> [{M, facts(F, F)} || {M, F} <- Added0] end),
    Kinds = maps:from_list([{M, Kind} || {M, #{kind := Kind}} <- Facts]),
    Nifs = [M || {M, #{nif := true}} <- Facts ++ AddedFacts],
    Children = timed(children, fun() ->
                                       [{M, child_diff(O, N)} || {M, O, N} <- Changed0,
                                                                  maps:get(M, Kinds) =:= supervisor]
                               end),
    Order = order(Added ++ Changed, DepsUp),
    Load = fun(M) ->
                   Deps = maps:get(M, DepsUp, []),
                   case {lists:member(M, Added), maps:get(M, Kinds, plain)} of
                       {true, _} -> {add_module, M, Deps};
                       {false, supervisor} -> {update, M, supervisor};
                       {false, special} -> {update, M, {advanced, []}, brutal_purge, brutal_purge, Deps};
                       {false, plain} -> {load_module, M, brutal_purge, brutal_purge, Deps}
                   end
           end,
    Stops = lists:append([[{apply, {supervisor, terminate_child, [Name, Id]}},
                           {apply, {supervisor, delete_child, [Name, Id]}}]
                          || {_, {Name, _, Removed}} <- Children, Id <- Removed]),
    Starts = [{apply, {supervisor, restart_child, [Name, Id]}} || {_, {Name, New, _}} <- Children, Id <- New],
    Deletes = [{delete_module, M, lists:sort(maps:get(M, DeleteDeps, []))} || M <- Deleted],
    Nif = [{restart_application, maps:get(app, Diff)} || Nifs =/= []],
    Up = case Nif of
             [] -> Stops ++ [Load(M) || M <- Order] ++ Deletes ++ Starts;
             _ -> Nif
         end,
    Down = lists:append([invert(I) || I <- lists:reverse(Up)]),
    Appup = io_lib:format("~tp.~n", [{NewVsn, [{OldVsn, Up}], [{OldVsn, Down}]}]),
    Diff#{changed := Changed, added := Added, deleted := Deleted, kinds => Kinds, nif => Nifs,
          deps_up => DepsUp, deps_down => DepsDown, children => Children, up => Up, appup => Appup}.

module_edges(Ebin) ->
    {ok, Xref} = xref:start([{xref_mode, modules}]),
    ok = xref:set_default(Xref, [{verbose, false}, {warnings, false}]),
    {ok, _} = xref:add_directory(Xref, Ebin),
    {ok, Edges} = xref:q(Xref, "ME"),
    xref:stop(Xref),
    Edges.

%% #{Module => [Module it calls]} restricted to Mods, minus itself.
deps(Edges, Mods) ->
    Set = sets:from_list(Mods),
    Map = lists:foldl(fun({From, To}, Acc) ->
                              case From =/= To andalso sets:is_element(From, Set) andalso sets:is_element(To, Set) of
                                  true -> maps:update_with(From, fun(L) -> [To | L] end, [To], Acc);
                                  false -> Acc
                              end
                      end, #{}, Edges),
    maps:map(fun(_, L) -> lists:usort(L) end, Map).

facts(OldFile, NewFile) ->
    {ok, {_, [{attributes, Attrs}, {exports, Exports}, {imports, Imports}]}} =
        beam_lib:chunks(NewFile, [attributes, exports, imports]),
    OldBehaviours = case OldFile of
                        NewFile -> [];
                        _ ->
                            {ok, {_, [{attributes, OldAttrs}]}} = beam_lib:chunks(OldFile, [attributes]),
                            behaviours(OldAttrs)
                    end,
    Behaviours = behaviours(Attrs) ++ OldBehaviours,
    Kind = case lists:member(supervisor, Behaviours) orelse lists:member('Elixir.Supervisor', Behaviours) of
               true -> supervisor;
               false ->
                   Special = lists:any(fun(B) -> lists:member(B, ?SPECIAL) end, behaviours(Attrs))
                       orelse lists:member({code_change, 3}, Exports)
                       orelse lists:member({code_change, 4}, Exports)
                       orelse lists:member({system_code_change, 4}, Exports),
                   case Special of true -> special; false -> plain end
           end,
    #{kind => Kind, nif => lists:member({erlang, load_nif, 2}, Imports)}.

behaviours(Attrs) ->
    lists:append([V || {K, V} <- Attrs, K =:= behaviour orelse K =:= behavior]).

%% {RegisteredName, AddedIds, RemovedIds} of a changed supervisor, from init/1's literal specs.
child_diff(OldFile, NewFile) ->
    {Name, NewIds} = sup_facts(NewFile),
    {_, OldIds} = sup_facts(OldFile),
    {Name, NewIds -- OldIds, OldIds -- NewIds}.

sup_facts(File) ->
    {ok, {Mod, [{abstract_code, {raw_abstract_v1, Forms}}]}} = beam_lib:chunks(File, [abstract_code]),
    Names = [N || {call, _, {remote, _, {atom, _, supervisor}, {atom, _, start_link}},
                   [{tuple, _, [{atom, _, local}, {atom, _, N}]} | _]} <- walk(Forms)],
    Init = [Clauses || {function, _, init, 1, Clauses} <- Forms],
    Ids = [erl_parse:normalise(Id) || {map_field_assoc, _, {atom, _, id}, Id} <- walk(Init)]
        ++ [erl_parse:normalise(Id) || {tuple, _, [Id, {tuple, _, [_, _, _]}, _, _, _, _]} <- walk(Init)],
    {case Names of [N | _] -> N; [] -> Mod end, Ids}.

%% every tuple inside a term, depth first
walk(T) when is_tuple(T) -> [T | walk(tuple_to_list(T))];
walk([H | T]) -> walk(H) ++ walk(T);
walk(_) -> [].

%% Mods in an order where every module comes after the modules it depends on; the modules of a
%% dependency cycle stay together, in list order.
order(Mods, Deps) ->
    G = digraph:new(),
    [digraph:add_vertex(G, M) || M <- Mods],
    [digraph:add_edge(G, D, M) || M <- Mods, D <- maps:get(M, Deps, [])],
    C = digraph_utils:condensation(G),
    Sorted = digraph_utils:topsort(C),
    digraph:delete(G),
    digraph:delete(C),
    Pos = maps:from_list(lists:zip(Mods, lists:seq(1, length(Mods)))),
    lists:append([lists:sort(fun(A, B) -> maps:get(A, Pos) =< maps:get(B, Pos) end, Scc) || Scc <- Sorted]).

%% The down list is the up list reversed, each instruction replaced by its inverse.
invert({add_module, M, Deps}) -> [{delete_module, M, Deps}];
invert({delete_module, M, Deps}) -> [{add_module, M, Deps}];
invert({apply, {supervisor, restart_child, Args}}) ->
    [{apply, {supervisor, terminate_child, Args}}, {apply, {supervisor, delete_child, Args}}];
invert({apply, {supervisor, delete_child, _}}) -> [];
invert({apply, {supervisor, terminate_child, Args}}) -> [{apply, {supervisor, restart_child, Args}}];
invert(I) -> [I].

%% --- output ---------------------------------------------------------------------------------

detail(R = #{app := App}) ->
    Names = fun(Key) -> join([atom_to_list(M) || M <- lists:sort(maps:get(Key, R, []))]) end,
    Kinds = maps:get(kinds, R, #{}),
    Kind = fun(K) -> join([atom_to_list(M) || {M, K1} <- lists:sort(maps:to_list(Kinds)), K1 =:= K]) end,
    Deps = fun(Key) ->
                   join([atom_to_list(M) ++ ">" ++ string:join([atom_to_list(D) || D <- Ds], "+")
                         || {M, Ds} <- lists:sort(maps:to_list(maps:get(Key, R, #{})))])
           end,
    Children = join([atom_to_list(S) ++ ">" ++ string:join([atom_to_list(I) || I <- Add], "+") ++ ">"
                     ++ string:join([atom_to_list(I) || I <- Rem], "+")
                     || {S, {_, Add, Rem}} <- lists:sort(maps:get(children, R, []))]),
    io_lib:format("app=~s old=~s new=~s changed=~s added=~s deleted=~s debug_only=~s supervisor=~s special=~s "
                  "plain=~s deps_up=~s deps_down=~s children=~s error=~s",
                  [App, maps:get(old, R, ""), maps:get(new, R, ""), Names(changed), Names(added), Names(deleted),
                   Names(debug_only), Kind(supervisor), Kind(special), Kind(plain), Deps(deps_up), Deps(deps_down),
                   Children, case R of #{error := E} -> io_lib:format("~w", [E]); _ -> "-" end]).

join(Strings) -> string:join(Strings, ",").

write_appup(NewRoot, #{app := App, new := NewVsn, appup := Appup}) ->
    File = filename:join(ebin(NewRoot, App, NewVsn), atom_to_list(App) ++ ".appup"),
    ok = file:write_file(File, unicode:characters_to_binary(Appup)).

peak_rss() ->
    case file:read_file("/proc/self/status") of
        {ok, Status} ->
            case re:run(Status, "VmHWM:\\s*(\\d+)", [{capture, all_but_first, list}]) of
                {match, [Kb]} -> Kb;
                nomatch -> "?"
            end;
        _ -> "?"
    end.
