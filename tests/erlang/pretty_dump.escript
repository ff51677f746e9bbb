%% -*- erlang -*-
%% Reference layout for the term writer: for each file given, file:consult/1 it and print every
%% term as io:format("~tp.~n") does, after a line "%%% FILE <path>".
-mode(compile).

main(Files) ->
    io:setopts([{encoding, unicode}]),
    lists:foreach(
      fun(File) ->
              {ok, Terms} = file:consult(File),
              io:format("%%% FILE ~ts~n", [File]),
              [io:format("~tp.~n", [T]) || T <- Terms]
      end, Files).
