%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% Included by the escripts under tests/erlang/: a canonical, unambiguous text form of any Erlang
%% term, mirrored in Python by tests/support/etf_canon.py.
%%
%%   atom a<hex of UTF-8>   integer i<decimal>   float f<hex of the IEEE double>
%%   binary b<hex>          tuple t(E,...)       proper list l(E,...)
%%   improper list L(E,...|Tail)                 map m(K=>V,...), entries sorted by their text
%%   external fun e(M,F,A)
%%   pid, port, reference, local fun, bitstring: o<kind>:<hex of its external format, no 131>
%%
%% The external format of those last kinds depends on the minor version used (atom encoding), so
%% canon/2 takes the term_to_binary/2 options the term was written with.

-compile([nowarn_unused_function]).

canon(T) -> canon(T, []).


canon(T, Opts) ->
    put(etf_canon_opts, [O || {minor_version, _} = O <- Opts]),
    iolist_to_binary(c(T)).

c(T) when is_atom(T) -> [$a, hex(atom_to_binary(T, utf8))];
c(T) when is_integer(T) -> [$i, integer_to_list(T)];
c(T) when is_float(T) -> [$f, hex(<<T/float>>)];
c(T) when is_binary(T) -> [$b, hex(T)];
c(T) when is_bitstring(T) -> opaque("bitstring", T);
c(T) when is_tuple(T) -> ["t(", join([c(E) || E <- tuple_to_list(T)]), ")"];
c(T) when is_list(T) -> c_list(T, []);
c(T) when is_map(T) ->
    Entries = lists:sort([iolist_to_binary([c(K), "=>", c(V)]) || {K, V} <- maps:to_list(T)]),
    ["m(", join(Entries), ")"];
c(T) when is_function(T) ->
    case erlang:fun_info(T, type) of
        {type, external} ->
            {module, M} = erlang:fun_info(T, module),
            {name, N} = erlang:fun_info(T, name),
            {arity, A} = erlang:fun_info(T, arity),
            ["e(", c(M), ",", c(N), ",", c(A), ")"];
        {type, local} ->
            opaque("fun", T)
    end;
c(T) when is_pid(T) -> opaque("pid", T);
c(T) when is_port(T) -> opaque("port", T);
c(T) when is_reference(T) -> opaque("reference", T).

c_list([], Acc) -> ["l(", join(lists:reverse(Acc)), ")"];
c_list([H | T], Acc) -> c_list(T, [c(H) | Acc]);
c_list(Tail, Acc) -> ["L(", join(lists:reverse(Acc)), "|", c(Tail), ")"].

opaque(Kind, T) ->
    <<131, Raw/binary>> = term_to_binary(T, get(etf_canon_opts)),
    [$o, Kind, $:, hex(Raw)].

join([]) -> [];
join([H | T]) -> [H | [[$,, E] || E <- T]].

hex(B) -> binary:encode_hex(B).
