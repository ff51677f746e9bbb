%% -*- erlang -*-
%% OTP's own systools:make_relup, for tests that prove appups live before our relup port exists.
%% Usage: make_relup.escript OutDir TopRel BaseRel[,BaseRel...] Path[,Path...]
%%   TopRel/BaseRel: .rel file paths without the ".rel" suffix; Path: code path wildcards.
%% Writes OutDir/relup; prints "ok" and each warning, or the formatted error and exits 1.
-mode(compile).

main([OutDir, Top, Bases, Paths]) ->
    BaseList = string:split(Bases, ",", all),
    PathList = string:split(Paths, ",", all),
    Opts = [{outdir, OutDir}, {path, PathList}, silent],
    case systools:make_relup(Top, BaseList, BaseList, Opts) of
        ok ->
            io:format("ok~n");
        {ok, _Relup, _Mod, Warnings} ->
            io:format("ok~n"),
            [io:format("warning ~tp~n", [W]) || W <- Warnings];
        {error, Mod, Error} ->
            io:format(standard_error, "~ts~n", [Mod:format_error(Error)]),
            halt(1)
    end;
main(_) ->
    io:format(standard_error, "usage: make_relup.escript OutDir TopRel BaseRels Paths~n", []),
    halt(2).
