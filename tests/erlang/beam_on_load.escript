%% -*- erlang -*-
%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% Reference for Beam.on_load: for each .beam path on stdin print "path<TAB>Function/Arity" of the
%% function whose code holds the on_load instruction (beam_disasm's reading), or "path<TAB>none".
-mode(compile).

main(_) ->
    loop().

loop() ->
    case io:get_line("") of
        eof -> ok;
        Line ->
            Path = string:trim(Line),
            {beam_file, _Mod, _Exports, _Attr, _Info, Functions} = beam_disasm:file(Path),
            Found = [io_lib:format("~ts/~b", [Name, Arity])
                     || {function, Name, Arity, _Entry, Code} <- Functions, lists:member(on_load, Code)],
            io:format("~ts\t~ts~n", [Path, case Found of [] -> "none"; [F] -> F end]),
            loop()
    end.
