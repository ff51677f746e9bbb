%% -*- erlang -*-
%% How erl_tar (what release_handler:unpack_release/1 unpacks with) reads tarballs, for
%% tests/erlang/test_package_vs_erl_tar.py.
%% Usage: erl_tar_read.escript ListFile   (ListFile: one term, a list of tarball paths)
%% Prints, per tarball: "tarball <path>", then one line per member of erl_tar:table/2 (verbose):
%% "member <hex name> <type> <size> <mode>", then one line per regular file extracted to memory:
%% "data <hex name> <md5 hex>"; or "error <reason>" when erl_tar refuses the tarball.
-mode(compile).

main([ListFile]) ->
    {ok, [Paths]} = file:consult(ListFile),
    lists:foreach(fun read/1, Paths);
main(_) ->
    io:format(standard_error, "usage: erl_tar_read.escript ListFile~n", []),
    halt(2).

read(Path) ->
    io:format("tarball ~ts~n", [Path]),
    case erl_tar:table(Path, [compressed, verbose]) of
        {ok, Members} ->
            [io:format("member ~s ~s ~b ~b~n", [hex(Name), Type, Size, Mode])
             || {Name, Type, Size, _Mtime, Mode, _Uid, _Gid} <- Members],
            case erl_tar:extract(Path, [compressed, memory]) of
                {ok, Files} ->
                    [io:format("data ~s ~s~n", [hex(Name), binary:encode_hex(erlang:md5(Bin))])
                     || {Name, Bin} <- Files];
                {error, Reason} ->
                    io:format("error ~0tp~n", [Reason])
            end;
        {error, Reason} ->
            io:format("error ~0tp~n", [Reason])
    end.

hex(Name) ->
    binary:encode_hex(unicode:characters_to_binary(Name)).
