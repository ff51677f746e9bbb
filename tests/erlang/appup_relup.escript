%% -*- erlang -*-
%% OTP's systools:make_relup on many release pairs in one run, for tests/erlang/test_appup_systools.py.
%% Usage: appup_relup.escript CasesFile
%%   CasesFile holds one term: [{Name, TopRel, [BaseRel], [PathWildcard]}], rel paths without ".rel".
%% Prints one term per case, in order: {Name, {ok, Relup, Warnings}} or {Name, {error, Text}}.
%% The relup is returned, not written (noexec).
-mode(compile).

main([CasesFile]) ->
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
    io:format("~tp.~n", [{Name, Result}]).
