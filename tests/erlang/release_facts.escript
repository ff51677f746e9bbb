%% -*- erlang -*-
%% Reference facts about an unpacked release root, for tests/integration/test_release_reader.py.
%% Usage: release_facts.escript Root
%% Prints "erts <installed erts version>", then one line per module of lib/*/ebin/*.beam and
%% releases/*/consolidated/*.beam: "beam <path relative to Root> <module> <beam_lib:md5 hex>".
-mode(compile).

main([Root]) ->
    io:format("erts ~s~n", [erlang:system_info(version)]),
    Patterns = [["lib", "*", "ebin", "*.beam"], ["releases", "*", "consolidated", "*.beam"]],
    Beams = lists:append([filelib:wildcard(filename:join(P), Root) || P <- Patterns]),
    lists:foreach(
        fun(Rel) ->
            {ok, {Mod, Md5}} = beam_lib:md5(filename:join(Root, Rel)),
            io:format("beam ~s ~s ~s~n", [Rel, Mod, string:lowercase(binary:encode_hex(Md5))])
        end,
        lists:sort(Beams));
main(_) ->
    io:format(standard_error, "usage: release_facts.escript Root~n", []),
    halt(2).
