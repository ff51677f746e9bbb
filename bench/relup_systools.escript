%% -*- erlang -*-
%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% OTP's side of bench/bench_relup.py: systools:make_relup/4 on releases unpacked on disk, with
%% the appups already written next to the new release's .app files.
%%
%% Usage:
%%   escript relup_systools.escript time Reps OutFile TopRel BaseRel[,BaseRel...] Path[,Path...]
%%     Reps runs of systools:make_relup(TopRel, Bases, Bases, [noexec, silent, {path, Paths}]),
%%     each timed inside the VM; prints one line per run, `wall_ms=<wall> cpu_ms=<VM CPU>`, and
%%     writes the last relup to OutFile as systools writes its relup file. Reps = 0 only starts
%%     and stops the VM (the start-up cost of this script).
%%   escript relup_systools.escript write OutDir TopRel BaseRel[,BaseRel...] Path[,Path...]
%%     systools:make_relup(TopRel, Bases, Bases, [silent, {outdir, OutDir}, {path, Paths}]):
%%     systools writes OutDir/relup itself. Prints `ok` and each warning.
%% TopRel/BaseRel: .rel file names without ".rel"; Path: code path wildcards (lib/*/ebin).
%% On an error: systools' formatted message on standard error, exit status 1.

main(["time", Reps, OutFile, Top, Bases, Paths]) ->
    Opts = [noexec, silent, {path, split(Paths)}],
    Base = split(Bases),
    Relup = lists:foldl(fun(_, _) -> timed(Top, Base, Opts) end, none, lists:seq(1, list_to_integer(Reps))),
    case Relup of
        none -> ok;
        _ -> ok = file:write_file(OutFile, unicode:characters_to_binary(io_lib:format("%% coding: utf-8~n~tp.~n",
                                                                                          [Relup])))
    end;
main(["write", OutDir, Top, Bases, Paths]) ->
    Base = split(Bases),
    case systools:make_relup(Top, Base, Base, [silent, {outdir, OutDir}, {path, split(Paths)}]) of
        {ok, _Relup, _Mod, Warnings} ->
            io:format("ok~n"),
            [io:format("warning ~tp~n", [W]) || W <- Warnings];
        Error ->
            fail(Error)
    end;
main(_) ->
    io:format(standard_error, "usage: relup_systools.escript time Reps OutFile TopRel BaseRels Paths~n"
                              "       relup_systools.escript write OutDir TopRel BaseRels Paths~n", []),
    halt(2).

timed(Top, Bases, Opts) ->
    {Cpu0, _} = statistics(runtime),
    T0 = erlang:monotonic_time(microsecond),
    Result = systools:make_relup(Top, Bases, Bases, Opts),
    T1 = erlang:monotonic_time(microsecond),
    {Cpu1, _} = statistics(runtime),
    case Result of
        {ok, Relup, _Mod, _Warnings} ->
            io:format("wall_ms=~.3f cpu_ms=~b~n", [(T1 - T0) / 1000, Cpu1 - Cpu0]),
            Relup;
        Error ->
            fail(Error)
    end.

fail({error, Mod, Reason}) ->
    io:format(standard_error, "~ts~n", [Mod:format_error(Reason)]),
    halt(1);
fail(Other) ->
    io:format(standard_error, "~tp~n", [Other]),
    halt(1).

split(Text) -> string:split(Text, ",", all).
