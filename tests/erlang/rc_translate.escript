%% -*- erlang -*-
%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% Reference for _relup_script: the installed systools_rc:translate_scripts/4 on a batch of cases.
%%
%% Usage: escript rc_translate.escript CASES OUT
%%   CASES holds one term per case (file:consult):
%%     {Id, Mode, Scripts, Appls, PreAppls}
%%   with each application as {Name, Vsn, Type, Modules} (made into systools' #application{}).
%%   OUT receives term_to_binary([{Id, Outcome, Graphs, Orders}]), in case order:
%%     Outcome  {ok, Script} | {error, Reason}      what translate_scripts returned
%%              | {'EXIT', Kind}                    it returned {error, systools_rc, {Kind, Stack}}
%%              | {raised, Class, Kind}             it raised (expand_script runs outside its catch)
%%     Graphs   the argument of each internal make_dependency_graph/1 call (the script after the
%%              application instructions have been translated)
%%     Orders   the instructions of each internal translate_dep_to_low/3 call, i.e. each
%%              dependency component in the order systools chose (that order depends on the
%%              atom table: see _relup_script's docstring)
%%   Graphs and Orders come from call tracing of the unmodified module.
-mode(compile).

main([CasesFile, OutFile]) ->
    {ok, Cases} = file:consult(CasesFile),
    {module, systools_rc} = code:ensure_loaded(systools_rc),
    Fields = application_fields(),
    1 = erlang:trace_pattern({systools_rc, make_dependency_graph, 1}, true, [local]),
    1 = erlang:trace_pattern({systools_rc, translate_dep_to_low, 3}, true, [local]),
    Results = [run(Case, Fields) || Case <- Cases],
    ok = file:write_file(OutFile, term_to_binary(Results));
main(_) ->
    io:format(standard_error, "usage: rc_translate.escript CASES OUT~n", []),
    halt(2).

run({Id, Mode, Scripts, Appls, PreAppls}, Fields) ->
    Apps = [record(A, Fields) || A <- Appls],
    PreApps = [record(A, Fields) || A <- PreAppls],
    Parent = self(),
    Pid = spawn(fun() ->
                        receive go -> ok end,
                        Result = try systools_rc:translate_scripts(Mode, Scripts, Apps, PreApps) of
                                     Value -> {value, Value}
                                 catch
                                     Class:Reason -> {raised, Class, kind(Reason)}
                                 end,
                        Parent ! {done, self(), Result}
                end),
    1 = erlang:trace(Pid, true, [call]),
    Pid ! go,
    Result = receive {done, Pid, R} -> R end,
    Ref = erlang:trace_delivered(Pid),
    receive {trace_delivered, Pid, Ref} -> ok end,
    Calls = collect(Pid, []),
    Graphs = [After || {make_dependency_graph, [After]} <- Calls],
    Orders = [DepIs || {translate_dep_to_low, [_Mode, DepIs, _Appls]} <- Calls],
    {Id, outcome(Result), Graphs, Orders}.

collect(Pid, Acc) ->
    receive
        {trace, Pid, call, {systools_rc, Function, Args}} -> collect(Pid, [{Function, Args} | Acc])
    after 0 ->
        lists:reverse(Acc)
    end.

outcome({value, {ok, Script}}) ->
    {ok, Script};
outcome({value, {error, systools_rc, Reason}}) ->
    case crash(Reason) of
        {true, Kind} -> {'EXIT', Kind};
        false -> {error, Reason}
    end;
outcome({raised, Class, Kind}) ->
    {raised, Class, Kind}.

%% A reason caught from a runtime error is {Kind, Stacktrace}.
crash({Kind, [{M, F, A, Loc} | _] = Stack}) when is_atom(M), is_atom(F), is_list(Loc),
                                                 (is_integer(A) orelse is_list(A)) ->
    case lists:all(fun frame/1, Stack) of
        true -> {true, kind(Kind)};
        false -> false
    end;
crash(_) ->
    false.

frame({M, F, A, Loc}) when is_atom(M), is_atom(F), is_list(Loc), (is_integer(A) orelse is_list(A)) -> true;
frame(_) -> false.

kind(Reason) when is_atom(Reason) -> Reason;
kind(Reason) when is_tuple(Reason), tuple_size(Reason) > 0 -> element(1, Reason);
kind(_) -> other.

%% #application{} of systools.hrl, with the field order read from systools_rc's own forms.
record({Name, Vsn, Type, Modules}, Fields) ->
    Values = #{name => Name, vsn => Vsn, type => Type, modules => Modules},
    list_to_tuple([application | [maps:get(F, Values, default(F)) || F <- Fields]]).

default(start_phases) -> undefined;
default(F) when F =:= maxT; F =:= maxP -> infinity;
default(_) -> [].

application_fields() ->
    case [[field_name(F) || F <- Fs] || {attribute, _, record, {application, Fs}} <- forms()] of
        [Fields] -> Fields;
        [] -> [name, type, vsn, id, description, modules, uses, optional, includes, regs, env,
               maxT, maxP, mod, start_phases, dir]
    end.

forms() ->
    case beam_lib:chunks(code:which(systools_rc), [abstract_code]) of
        {ok, {_, [{abstract_code, {raw_abstract_v1, Forms}}]}} ->
            Forms;
        _ ->
            Src = filename:join([code:lib_dir(sasl), "src", "systools_rc.erl"]),
            case epp:parse_file(Src, [filename:dirname(Src)], []) of
                {ok, Forms} -> Forms;
                _ -> []
            end
    end.

field_name({typed_record_field, Field, _Type}) -> field_name(Field);
field_name({record_field, _, {atom, _, Name}}) -> Name;
field_name({record_field, _, {atom, _, Name}, _Default}) -> Name.
