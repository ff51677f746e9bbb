%% -*- erlang -*-
%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% Reference for the BEAM reader: for each .beam path on stdin (one a line) print one line of
%% tab-separated fields, every term in the canonical text of etf_canon.hrl:
%%
%%   path module md5 exports imports behaviours attributes compile_info locals atoms literals chunks
%%
%% md5 is beam_lib:md5/1 in hex; exports, imports, locals are beam_lib's (sorted) lists; atoms is
%% beam_lib's [{Index, Atom}]; behaviours are the behaviour/behavior values in Attr order (the
%% raw chunk through binary_to_term, beam_lib merges equal keys); attributes and compile_info are
%% beam_lib's ([] when the chunk is missing); literals is the MD5 (hex) of the canonical texts of the LitT terms, one a line,
%% decoded with zlib and binary_to_term; chunks are the chunk ids in file order.
%% A file beam_lib rejects gives "path ERROR reason".
-mode(compile).
-include("etf_canon.hrl").

main(_) ->
    io:setopts(standard_io, [binary]),
    loop().

loop() ->
    case io:get_line("") of
        eof -> ok;
        Line ->
            Path = binary_to_list(string:trim(Line)),
            ok = file:write(standard_io, [facts(Path), $\n]),
            loop()
    end.

facts(Path) ->
    try
        {ok, {Mod, Md5}} = ok(beam_lib:md5(Path)),
        {ok, {Mod, [{exports, E}, {imports, I}, {atoms, At}]}} =
            ok(beam_lib:chunks(Path, [exports, imports, atoms])),
        %% A stripped module (beam_lib:strip/1) has no Attr, CInf or LocT: report [] for them.
        {ok, {Mod, [{attributes, A}, {compile_info, C}, {locals, L}]}} =
            ok(beam_lib:chunks(Path, [attributes, compile_info, locals], [allow_missing_chunks])),
        {ok, {Mod, [{"Attr", RawAttr}, {"LitT", LitT}]}} =
            ok(beam_lib:chunks(Path, ["Attr", "LitT"], [allow_missing_chunks])),
        {ok, _, Chunks} = ok(beam_lib:all_chunks(Path)),
        Behaviours = [B || {K, Vs} <- raw_attrs(RawAttr), K =:= behaviour orelse K =:= behavior,
                           B <- as_list(Vs)],
        Fields = [Path, canon(Mod), hex(Md5), canon(E), canon(I), canon(Behaviours), canon(missing(A)),
                  canon(missing(C)), canon(missing(L)), canon(At), literals(LitT),
                  lists:join($,, [Id || {Id, _} <- Chunks])],
        lists:join($\t, Fields)
    catch
        throw:{beam_lib_error, Reason} ->
            [Path, "\tERROR\t", io_lib:format("~0p", [Reason])]
    end.

ok({error, beam_lib, Reason}) -> throw({beam_lib_error, Reason});
ok({ok, _} = Ok) -> Ok;
ok({ok, _, _} = Ok) -> Ok.

raw_attrs(missing_chunk) -> [];
raw_attrs(Bin) -> binary_to_term(Bin).

as_list(L) when is_list(L) -> L;
as_list(X) -> [X].

missing(missing_chunk) -> [];
missing(L) -> L.

literals(missing_chunk) -> hex(erlang:md5(<<>>));
literals(<<_Size:32, Compressed/binary>>) ->
    <<Count:32, Table/binary>> = zlib:uncompress(Compressed),
    hex(erlang:md5(literal_texts(Count, Table))).

literal_texts(0, <<>>) -> [];
literal_texts(N, <<Len:32, Ext:Len/binary, Rest/binary>>) ->
    [canon(binary_to_term(Ext)), $\n | literal_texts(N - 1, Rest)].
