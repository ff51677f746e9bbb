%% -*- erlang -*-
%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% Reference for the ETF decoder: prints, for many terms and several term_to_binary/2 option
%% sets, one line "<hex of term_to_binary(T, Opts)>\t<canonical text of T>".
%%
%%   etf_corpus.escript Seed Count    fixed corpus + Count random terms drawn with Seed
%%   etf_corpus.escript recode        for each hex line on stdin: binary_to_term it, then as above
-mode(compile).
-include("etf_canon.hrl").

main(["recode"]) ->
    Terms = [binary_to_term(binary:decode_hex(list_to_binary(L))) || L <- read_lines()],
    emit(Terms);
main([Seed, Count]) ->
    rand:seed(exsss, list_to_integer(Seed)),
    emit(fixed() ++ [gen(4) || _ <- lists:seq(1, list_to_integer(Count))]).

read_lines() ->
    case io:get_line("") of
        eof -> [];
        Line -> [string:trim(Line) | read_lines()]
    end.

options() ->
    [[], [{minor_version, 0}], [{minor_version, 1}], [{minor_version, 2}], [{compressed, 9}],
     [{compressed, 1}, {minor_version, 1}]].

emit(Terms) ->
    Lines = [[hex(term_to_binary(T, O)), $\t, canon(T, O), $\n] || T <- Terms, O <- options()],
    ok = file:write(standard_io, Lines).

fixed() ->
    Port = erlang:list_to_port("#Port<0.7>"),
    BigRef = make_ref(),
    [0, 1, 255, 256, -1, -256, 2147483647, -2147483648, 2147483648, -2147483649,
     1 bsl 64, -(1 bsl 64), 1 bsl 2100, -(1 bsl 2100) + 7,
     0.0, -0.0, 1.0, -1.5, 3.141592653589793, 1.0e300, -2.2250738585072014e-308, 5.0e-324,
     ok, true, false, '', 'Elixir.Foo.Bar', 'with space', 'quote\'s', 'ünïcödé', '日本語',
     list_to_atom(lists:duplicate(255, $x)), list_to_atom(lists:duplicate(255, 16#1F600)),
     {}, {a}, {a, b, c}, list_to_tuple(lists:seq(1, 300)),
     [], [1, 2, 3], "abc", "", [256, 1000, 16#10FFFF], lists:seq(1, 70000),
     [a | b], [1, 2 | 3], [[]], [[1], [[2]]], ["nested", "strings"],
     <<>>, <<1, 2, 3>>, <<"text">>, <<1:1>>, <<1, 2:3>>, binary:copy(<<7>>, 70000),
     #{}, #{a => 1, "k" => [v], {t} => #{}}, maps:from_list([{I, I * I} || I <- lists:seq(1, 100)]),
     fun lists:map/2, fun erlang:self/0, fun(X) -> X + 1 end,
     self(), Port, BigRef, {self(), [BigRef], #{Port => fun lists:seq/2}},
     {deeply, [nested, {terms, #{with => [<<"all">>, 1.5, -7 | tail]}}]}].

gen(0) -> leaf();
gen(D) ->
    case rand:uniform(10) of
        1 -> list_to_tuple([gen(D - 1) || _ <- lists:seq(1, rand:uniform(5) - 1)]);
        2 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(5) - 1)];
        3 -> [gen(D - 1) || _ <- lists:seq(1, rand:uniform(3))] ++ leaf_nonlist();
        4 -> maps:from_list([{leaf(), gen(D - 1)} || _ <- lists:seq(1, rand:uniform(4) - 1)]);
        5 when D > 2 -> maps:from_list([{I, leaf()} || I <- lists:seq(1, 33 + rand:uniform(10))]);
        _ -> leaf()
    end.

leaf_nonlist() ->
    case leaf() of
        L when is_list(L) -> ok;
        T -> T
    end.

leaf() ->
    case rand:uniform(12) of
        1 -> rand:uniform(256) - 1;
        2 -> rand:uniform(1 bsl 40) - (1 bsl 39);
        3 -> (rand:uniform(2) * 2 - 3) * rand:uniform(1 bsl (rand:uniform(300)));
        4 -> (rand:uniform() - 0.5) * math:pow(10, rand:uniform(600) - 300);
        5 -> list_to_atom([rand:uniform(94) + 32 || _ <- lists:seq(1, rand:uniform(20) - 1)]);
        6 -> list_to_atom([rand:uniform(16#2FFF) || _ <- lists:seq(1, rand:uniform(10))]);
        7 -> [rand:uniform(256) - 1 || _ <- lists:seq(1, rand:uniform(10))];
        8 -> [rand:uniform(16#10000) + 255 || _ <- lists:seq(1, rand:uniform(4))];
        9 -> rand:bytes(rand:uniform(20) - 1);
        10 -> <<(rand:bytes(2))/binary, (rand:uniform(127)):(rand:uniform(7))>>;
        11 -> [];
        12 -> {}
    end.
