%% -*- erlang -*-
%% OTP's systools:make_relup on many release pairs in one run, for tests/erlang/test_appup_systools.py
%% and tests/erlang/test_relup_vs_systools.py.
%% Usage: appup_relup.escript CasesFile
%%   CasesFile holds one term: a list of cases, rel paths without ".rel":
%%   {Name, TopRel, [BaseRel], [PathWildcard]}
%%       make_relup(TopRel, Bases, Bases); prints {Name, {ok, Relup, Warnings}} or
%%       {Name, {error, Text}}.
%%   {Name, TopRel, [UpFrom], [DownTo], [PathWildcard], Opts, [Root]}
%%       make_relup(TopRel, UpFrom, DownTo, Opts); UpFrom/DownTo entries are Rel or {Rel, Descr}.
%%       Prints {Name, {ok, Relup, Warnings}}, {Name, {error, Module, Reason, Text}} or
%%       {Name, {crash, Class, Reason}} (no stack trace). In Reason, every #application{} record
%%       is replaced by its name and every string that starts with Root ++ "/" loses that prefix;
%%       Text is "" where Module:format_error/1 itself crashes.
%% One term per case, in order. The relup is returned, not written (noexec).
-mode(compile).

main([CasesFile]) ->
    ok = io:setopts([{encoding, unicode}]),  % output is UTF-8 (strings in descriptions, names)
    {ok, [Cases]} = file:consult(CasesFile),
    lists:foreach(fun run/1, Cases);
main(_) ->
    io:format(standard_error, "usage: appup_relup.escript CasesFile~n", []),
    halt(2).

run({Name, Top, Bases, Paths}) ->
    Result =
        case systools:make_relup(Top, Bases, Bases, [{path, Paths}, noexec, silent]) of
            {ok, Relup, _Mod, Warnings} ->
                {ok, Relup, Warnings};
            {error, Mod, Error} ->
                {error, lists:flatten(io_lib:format("~ts", [Mod:format_error(Error)]))}
        end,
    io:format("~tp.~n", [{Name, Result}]);
run({Name, Top, Ups, Dns, Paths, Opts, Roots}) ->
    Result =
        try systools:make_relup(Top, Ups, Dns, [{path, Paths}, noexec, silent | Opts]) of
            {ok, Relup, _Mod, Warnings} ->
                {ok, Relup, Warnings};
            {error, Mod, Error} ->
                Text = try lists:flatten(io_lib:format("~ts", [Mod:format_error(Error)]))
                       catch _:_ -> ""
                       end,
                {error, Mod, normalise(Error, Roots), Text}
        catch
            Class:Reason ->
                {crash, Class, normalise(Reason, Roots)}
        end,
    io:format("~tp.~n", [{Name, Result}]).

normalise(T, _Roots) when is_tuple(T), tuple_size(T) =:= 17, element(1, T) =:= application ->
    element(2, T);
normalise(T, Roots) when is_tuple(T) ->
    list_to_tuple([normalise(E, Roots) || E <- tuple_to_list(T)]);
normalise(L, Roots) when is_list(L) ->
    case io_lib:printable_unicode_list(L) of
        true -> strip(L, Roots);
        false -> normalise_list(L, Roots)
    end;
normalise(T, _Roots) ->
    T.

normalise_list([H | T], Roots) when is_list(T) ->
    [normalise(H, Roots) | normalise_list(T, Roots)];
normalise_list([H | T], Roots) ->
    [normalise(H, Roots) | normalise(T, Roots)];
normalise_list([], _Roots) ->
    [].

strip(L, [Root | Roots]) ->
    case lists:prefix(Root ++ "/", L) of
        true -> lists:nthtail(length(Root) + 1, L);
        false -> strip(L, Roots)
    end;
strip(L, []) ->
    L.
