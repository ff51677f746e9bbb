%% -*- erlang -*-
%% Reference reader for the term-codec differential tests.
%% For each file given, file:consult/1 it and print one JSON line:
%%   {"file": "<path>", "ok": [Term...]}  or  {"file": "<path>", "error": "<reason>"}
%% Terms are written in an unambiguous JSON encoding that needs no Erlang parser to read:
%%   integer -> number, float -> {"f": "<float_to_list short>"}, atom -> {"a": [CodePoint...]},
%%   list -> {"l": [...]}, improper list -> {"il": [...], "tail": T}, tuple -> {"t": [...]},
%%   binary -> {"b": [Byte...]}, map -> {"m": [[K, V]...]}, fun M:F/A -> {"fun": [M, F, A]}.
-mode(compile).

main(Files) ->
    lists:foreach(fun dump_file/1, Files).

dump_file(File) ->
    Line = case file:consult(File) of
               {ok, Terms} ->
                   ["{\"file\":", str(File), ",\"ok\":[", join([enc(T) || T <- Terms]), "]}"];
               {error, Reason} ->
                   ["{\"file\":", str(File), ",\"error\":", str(lists:flatten(io_lib:format("~0p", [Reason]))), "}"]
           end,
    io:put_chars([unicode:characters_to_binary(Line), $\n]).

enc(I) when is_integer(I) -> integer_to_list(I);
enc(F) when is_float(F) -> ["{\"f\":\"", float_to_list(F, [short]), "\"}"];
enc(A) when is_atom(A) -> ["{\"a\":", ints(atom_to_list(A)), "}"];
enc(B) when is_binary(B) -> ["{\"b\":", ints(binary_to_list(B)), "}"];
enc(B) when is_bitstring(B) -> ["{\"bits\":", integer_to_list(bit_size(B)), "}"];
enc(T) when is_tuple(T) -> ["{\"t\":[", join([enc(E) || E <- tuple_to_list(T)]), "]}"];
enc(M) when is_map(M) ->
    ["{\"m\":[", join([["[", enc(K), ",", enc(V), "]"] || {K, V} <- maps:to_list(M)]), "]}"];
enc(F) when is_function(F) ->
    {module, M} = erlang:fun_info(F, module),
    {name, N} = erlang:fun_info(F, name),
    {arity, Ar} = erlang:fun_info(F, arity),
    ["{\"fun\":[", enc(M), ",", enc(N), ",", enc(Ar), "]}"];
enc(L) when is_list(L) ->
    case proper(L, []) of
        {proper, Es} -> ["{\"l\":[", join([enc(E) || E <- Es]), "]}"];
        {improper, Es, Tail} -> ["{\"il\":[", join([enc(E) || E <- Es]), "],\"tail\":", enc(Tail), "}"]
    end.

proper([], Acc) -> {proper, lists:reverse(Acc)};
proper([H | T], Acc) -> proper(T, [H | Acc]);
proper(Tail, Acc) -> {improper, lists:reverse(Acc), Tail}.

ints(L) -> ["[", join([integer_to_list(I) || I <- L]), "]"].

join([]) -> [];
join([H | T]) -> [H | [[",", E] || E <- T]].

str(S) -> ints_as_json_string(S).

ints_as_json_string(S) ->
    [$" | [esc(C) || C <- S]] ++ [$"].

esc($") -> "\\\"";
esc($\\) -> "\\\\";
esc(C) when C < 32; C > 126 -> io_lib:format("\\u~4.16.0b", [C band 16#ffff]);
esc(C) -> C.
