%% -*- erlang -*-
%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% Reference reader for the term-codec differential tests. For each file given, file:consult/1
%% it and print one JSON line:
%%   {"file": "<path>", "ok": ["<canonical text>", ...]}  or  {"file": "<path>", "error": "<reason>"}
%% Each term is in the canonical text of etf_canon.hrl (plain ASCII, no quotes or backslashes).
-mode(compile).
-include("etf_canon.hrl").

main(Files) ->
    lists:foreach(fun dump_file/1, Files).

dump_file(File) ->
    Line = case file:consult(File) of
               {ok, Terms} ->
                   ["{\"file\":", str(File), ",\"ok\":[", join([[$", canon(T), $"] || T <- Terms]), "]}"];
               {error, Reason} ->
                   ["{\"file\":", str(File), ",\"error\":", str(lists:flatten(io_lib:format("~0p", [Reason]))), "}"]
           end,
    io:put_chars([unicode:characters_to_binary(Line), $\n]).

str(S) -> [$" | [esc(C) || C <- S]] ++ [$"].

esc($") -> "\\\"";
esc($\\) -> "\\\\";
esc(C) when C < 32; C > 126 -> io_lib:format("\\u~4.16.0b", [C band 16#ffff]);
esc(C) -> C.
