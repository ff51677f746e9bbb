%% -*- erlang -*-
%% Copyright (c) erlang.otp contributors
%% GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
%% SPDX-License-Identifier: GPL-3.0-or-later
%%
%% Reference for _appup_syntax: OTP's own systools_rc judges each case of a corpus file.
%%
%% Usage: escript appup_syntax.escript CORPUS. CORPUS holds one term per case (file:consult):
%%   {instr, Instr}             expand_script([Instr]) then check_syntax (check_op on each)
%%   {syntax, Instrs}           the same on a whole instruction list
%%   {script, Mods, Instrs}     translate_scripts(Mode, [Instrs], Apps, Apps) for Mode = up and dn,
%%                              Apps = one application (testapp, "2") holding the modules Mods
%%   {order, Mods, Instrs}      the modules of the load/remove instructions translate_scripts
%%                              makes, for up and dn (Apps as for script)
%%   {regex, Regex, Vsn}        the version-key match of systools_relup:appup_search_for_version
%%   {expand, Instrs}           expand_script(Instrs) in the canonical text of etf_canon.hrl
%% and prints one line per case, in order:
%%   ok | error <Tag> | crash <Class>            (instr, syntax)
%%   <up verdict> <dn verdict>                   (script; each ok | error:<Tag> | crash:<Class>)
%%   match | nomatch | badarg                    (regex)
%%   <canonical text> | crash <Class>            (expand)
%%   <up modules>;<dn modules>, comma-separated  (order)
%% <Tag> is the first element of the error systools throws ({bad_module, X} -> bad_module).
%%
%% expand_script/1 and check_syntax/1 are internal to systools_rc: the installed module is
%% recompiled from its debug info (or, failing that, its source) with export_all under another name.
-mode(compile).
-include("etf_canon.hrl").

-define(COPY, systools_rc_all).

main([Corpus]) ->
    load_copy(),
    {ok, Cases} = file:consult(Corpus),
    lists:foreach(fun(Case) -> io:put_chars([run(Case), $\n]) end, Cases);
main(_) ->
    io:format(standard_error, "usage: appup_syntax.escript CORPUS~n", []),
    halt(2).

run({instr, Instr}) ->
    syntax([Instr]);
run({syntax, Instrs}) ->
    syntax(Instrs);
run({script, Mods, Instrs}) ->
    Apps = [application(Mods)],
    lists:join(" ", [verdict(catch systools_rc:translate_scripts(Mode, [Instrs], Apps, Apps))
                     || Mode <- [up, dn]]);
run({order, Mods, Instrs}) ->
    Apps = [application(Mods)],
    lists:join(";", [begin
                         {ok, Script} = systools_rc:translate_scripts(Mode, [Instrs], Apps, Apps),
                         lists:join(",", [atom_to_list(M) || {Op, {M, _, _}} <- Script,
                                                             Op =:= load orelse Op =:= remove])
                     end || Mode <- [up, dn]]);
run({expand, Instrs}) ->
    try ?COPY:expand_script(Instrs) of
        Expanded -> canon(Expanded)
    catch
        Class:_ -> ["crash ", atom_to_list(Class)]
    end;
run({regex, Regex, Vsn}) ->
    try re:run(Vsn, Regex, [unicode, {capture, first, list}]) of
        {match, [Vsn]} -> "match";
        _ -> "nomatch"
    catch
        error:badarg -> "badarg"
    end.

syntax(Instrs) ->
    try ?COPY:check_syntax(?COPY:expand_script(Instrs)) of
        ok -> "ok"
    catch
        throw:{error, Reason} -> ["error ", atom_to_list(tag(Reason))];
        Class:_ -> ["crash ", atom_to_list(Class)]
    end.

verdict({ok, _Script}) -> "ok";
verdict({error, systools_rc, Reason}) -> ["error:", atom_to_list(tag(Reason))];
verdict({'EXIT', _}) -> "crash:exit";
verdict(_Other) -> "crash:other".

tag(Reason) when is_tuple(Reason), tuple_size(Reason) > 0, is_atom(element(1, Reason)) -> element(1, Reason);
tag(Reason) when is_atom(Reason) -> Reason;
tag(_) -> other.

%% #application{} of systools.hrl, built from the record definition in systools_rc's own forms.
application(Mods) ->
    Fields = persistent_term:get(application_fields),
    Values = #{name => testapp, type => permanent, vsn => "2", modules => Mods},
    list_to_tuple([application | [maps:get(F, Values, default(F)) || F <- Fields]]).

default(start_phases) -> undefined;
default(F) when F =:= maxT; F =:= maxP -> infinity;
default(_) -> [].

load_copy() ->
    Forms = forms(),
    [Fields] = [[field_name(F) || F <- Fs] || {attribute, _, record, {application, Fs}} <- Forms],
    persistent_term:put(application_fields, Fields),
    Renamed = [case F of
                   {attribute, L, module, systools_rc} -> {attribute, L, module, ?COPY};
                   _ -> F
               end || F <- Forms],
    {ok, ?COPY, Bin} = compile:forms(Renamed, [export_all, nowarn_export_all, binary]),
    {module, ?COPY} = code:load_binary(?COPY, "systools_rc_all.beam", Bin).

forms() ->
    case beam_lib:chunks(code:which(systools_rc), [abstract_code]) of
        {ok, {_, [{abstract_code, {raw_abstract_v1, Forms}}]}} ->
            Forms;
        _ ->
            Src = filename:join([code:lib_dir(sasl), "src", "systools_rc.erl"]),
            {ok, Forms} = epp:parse_file(Src, [filename:dirname(Src)], []),
            Forms
    end.

field_name({typed_record_field, Field, _Type}) -> field_name(Field);
field_name({record_field, _, {atom, _, Name}}) -> Name;
field_name({record_field, _, {atom, _, Name}, _Default}) -> Name.
