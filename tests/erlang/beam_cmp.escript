%% -*- erlang -*-
%% beam_lib:cmp/2 on pairs of BEAM files, for tests/erlang/test_appup_systools.py.
%% Usage: beam_cmp.escript PairsFile   (PairsFile: one term, a list of {File1, File2})
%% Prints one line per pair: "same", or "different <chunk id or reason>".
-mode(compile).

main([PairsFile]) ->
    {ok, [Pairs]} = file:consult(PairsFile),
    lists:foreach(
        fun({F1, F2}) ->
            case beam_lib:cmp(F1, F2) of
                ok -> io:format("same~n");
                {error, beam_lib, {chunks_different, Id}} -> io:format("different ~s~n", [Id]);
                {error, beam_lib, Reason} -> io:format("different ~0tp~n", [element(1, Reason)])
            end
        end,
        Pairs);
main(_) ->
    io:format(standard_error, "usage: beam_cmp.escript PairsFile~n", []),
    halt(2).
