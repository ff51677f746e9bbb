%% -*- erlang -*-
%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% beam_lib's side of bench/bench_beam.py: for every .beam matching the wildcards given, read the
%% file once, then beam_lib:md5/1 and beam_lib:chunks/2 (exports, imports, attributes -> the
%% behaviours). Repeats the whole pass N times and prints one line per pass:
%%   files=<n> wall_ms=<work wall time> cpu_ms=<VM CPU time> exports=<total> imports=<total> behaviours=<total>
-mode(compile).

main([Reps | Wildcards]) ->
    Files = lists:append([filelib:wildcard(W) || W <- Wildcards]),
    [pass(Files) || _ <- lists:seq(1, list_to_integer(Reps))],
    ok.

pass(Files) ->
    {Cpu0, _} = statistics(runtime),
    T0 = erlang:monotonic_time(microsecond),
    Totals = lists:foldl(fun facts/2, {0, 0, 0}, Files),
    T1 = erlang:monotonic_time(microsecond),
    {Cpu1, _} = statistics(runtime),
    {E, I, B} = Totals,
    io:format("files=~b wall_ms=~.1f cpu_ms=~b exports=~b imports=~b behaviours=~b~n",
              [length(Files), (T1 - T0) / 1000, Cpu1 - Cpu0, E, I, B]).

facts(File, {E, I, B}) ->
    {ok, Bin} = file:read_file(File),
    {ok, {_, _Md5}} = beam_lib:md5(Bin),
    {ok, {_, [{exports, Ex}, {imports, Im}, {attributes, Attrs}]}} =
        beam_lib:chunks(Bin, [exports, imports, attributes]),
    Behaviours = proplists:get_value(behaviour, Attrs, []) ++ proplists:get_value(behavior, Attrs, []),
    {E + length(Ex), I + length(Im), B + length(Behaviours)}.
