%% -*- erlang -*-
%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% Reference for _child_specs.py: what a supervisor module really does when it runs.
%%
%% Arguments: code directories to add to the code path (compiled test modules, Elixir's ebin).
%% Standard input, one supervisor a line, tab-separated:
%%
%%   Module  InitArgs  StartExpr
%%
%% InitArgs is an Erlang term: the list of arguments to call Module:init/1 with (one call each);
%% StartExpr is an Erlang expression that starts the supervisor (e.g. "m:start_link()"), or "-".
%% For each line one line is printed, tab-separated, terms in the canonical text of
%% etf_canon.hrl:
%%
%%   Module  Init  InitIds  Live  LiveIds  Name
%%
%% Init: [{Id, StartModule, Type}] over all InitArgs, in spec order, first occurrence of each
%% id (Type as the supervisor defaults it: maps:get(type, Spec, worker)); 'ignore' results give
%% nothing. InitIds: the same as [{Id, StartModule}]. Live: the children of the supervisor
%% started by StartExpr (supervisor:which_children/1) as {Id, Type}, each in canonical text,
%% sorted, separated by spaces (empty when StartExpr is "-"); LiveIds: the same for the Ids.
%% Name: how the started process is registered: {local, Name}, {global, Name} or 'none'.
-mode(compile).
-include("etf_canon.hrl").

main(Dirs) ->
    process_flag(trap_exit, true),
    ok = logger:set_primary_config(level, none),  % standard output carries the results only
    ok = code:add_pathsa(Dirs),
    io:setopts(standard_io, [binary]),
    loop().

loop() ->
    case io:get_line("") of
        eof ->
            ok;
        Line ->
            [ModText, ArgsText, StartText] = binary:split(string:trim(Line, trailing, "\r\n"), <<"\t">>, [global]),
            Module = binary_to_atom(ModText, utf8),
            Init = init_children(Module, parse_term(ArgsText)),
            InitIds = [{Id, M} || {Id, M, _Type} <- Init],
            {Live, Name} = live(StartText),
            LiveIds = [Id || {Id, _Type} <- Live],
            Fields = [ModText, canon(Init), canon(InitIds), joined(Live), joined(LiveIds), canon(Name)],
            ok = file:write(standard_io, [lists:join($\t, Fields), $\n]),
            loop()
    end.

joined(Terms) ->
    lists:join($\s, lists:sort([canon(T) || T <- Terms])).

parse_term(Text) ->
    {ok, Tokens, _} = erl_scan:string(binary_to_list(Text) ++ "."),
    {ok, Term} = erl_parse:parse_term(Tokens),
    Term.

init_children(Module, Args) ->
    Specs = lists:append([specs(Module:init(Arg)) || Arg <- Args]),
    dedupe([child(S) || S <- Specs], []).

specs({ok, {_Flags, Children}}) -> Children;
specs(ignore) -> [].

child(#{id := Id} = Spec) ->
    {Id, start_module(maps:get(start, Spec, undefined)), maps:get(type, Spec, worker)};
child({Id, Start, _Restart, _Shutdown, Type, _Modules}) ->
    {Id, start_module(Start), Type}.

start_module({M, _F, _A}) -> M;
start_module(_) -> undefined.

dedupe([], Acc) ->
    lists:reverse(Acc);
dedupe([{Id, _, _} = C | Rest], Acc) ->
    case lists:keymember(Id, 1, Acc) of
        true -> dedupe(Rest, Acc);
        false -> dedupe(Rest, [C | Acc])
    end.

live(<<"-">>) ->
    {[], none};
live(Expr) ->
    {ok, Tokens, _} = erl_scan:string(binary_to_list(Expr) ++ "."),
    {ok, Exprs} = erl_parse:parse_exprs(Tokens),
    {value, {ok, Pid}, _} = erl_eval:exprs(Exprs, []),
    Children = [{Id, Type} || {Id, _Child, Type, _Mods} <- supervisor:which_children(Pid)],
    Name = name(Pid),
    exit(Pid, shutdown),  % from the parent: an orderly stop
    receive {'EXIT', Pid, _} -> ok end,
    {Children, Name}.

name(Pid) ->
    case process_info(Pid, registered_name) of
        {registered_name, Local} ->
            {local, Local};
        _ ->
            case [N || N <- global:registered_names(), global:whereis_name(N) =:= Pid] of
                [Global] -> {global, Global};
                [] -> none
            end
    end.
