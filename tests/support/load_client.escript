%% -*- erlang -*-
%%! -hidden -nocookie -dist_listen false -env ERL_CRASH_DUMP_SECONDS 0
%%
%% Load client for fleet tests, the demo and the bench (test machinery, not part of the collection).
%% tests/support/load.py drives it; run by hand it reads the same protocol.
%%
%% A hidden node that connects to every node of a fleet (the fleet's ERL_EPMD_PORT comes from the
%% environment) and runs one worker per node: erpc:call(Node, M, F, A, Timeout) every period_ms.
%%
%% Standard input, first line: one Erlang term ending with "." (strings may be char lists):
%%   #{nodes => ["shop_node1_4000@host", ...],   % full node names
%%     cookie => "secret",                       % never on the command line, never printed
%%     name_type => shortnames | longnames,
%%     call => "shop_cart:items()",              % Mod:Fun(Args...), args evaluated here, once
%%     probes => ["shop_cart:pid()"],            % expressions evaluated on the node (erl_eval);
%%                                               % their values are recorded, not timed
%%     period_ms => 20, timeout_ms => 5000, probe_every => 10, max_ms => 600000}
%% After that line the client runs until standard input reaches EOF or max_ms has passed.
%%
%% Standard output: one JSON line {"ready": true, "connected": {Node: Bool}} once every worker has
%% tried to connect (or {"error": Text} and exit 2 for a bad request), then, after the stop, one
%% JSON line {"reason": "eof" | "max_time", "started_at": Epoch, "stopped_at": Epoch,
%% "nodes": {Node: Stats}}. Stats: calls, ok, failed, failed_by_reason ({Class: N}, Class one of
%% noconnection, timeout, erpc:R, error:R, exit:R, signal:R, throw), latency_ms {max, p50, p99,
%% mean} of every call, max_latency_at (epoch of the slowest call's end), max_gap_ms (the longest
%% time without a successful reply, from the start to the stop), first_failure_at,
%% last_failure_at (epoch or null), probes ({Text: [distinct values in the order seen, at most 100]}),
%% probe_failures, creations (distinct erlang:system_info(creation) values of the node seen, in
%% order: more than one means the node was restarted). Pids in probe values are printed as the
%% node itself prints them (<0.N.S>), so they compare with pid_to_list/1 on the node.

-mode(compile).

-define(MAX_VALUES, 100).  % distinct values kept per probe

main(_) ->
    ok = io:setopts(standard_io, [{encoding, unicode}]),
    _ = logger:remove_handler(default),
    _ = logger:add_handler(default, logger_std_h, #{config => #{type => standard_error}, level => error}),
    case read_request() of
        {ok, Req} ->
            put(cookie, atom_to_list(maps:get(cookie, Req))),
            try run(Req)
            catch Class:Reason -> fail(io_lib:format("internal ~p: ~P", [Class, Reason, 20]))
            end;
        {error, Text} ->
            fail(Text)
    end.

fail(Text) ->
    Flat = unicode:characters_to_list(Text),
    Safe = case get(cookie) of
        undefined -> Flat;
        Cookie -> lists:flatten(string:replace(Flat, Cookie, "********", all))
    end,
    emit(#{error => unicode:characters_to_binary(Safe)}),
    halt(2).

%% ---------------------------------------------------------------------------------------------
%% request

read_request() ->
    case io:get_line(standard_io, "") of
        eof -> {error, "no request on standard input"};
        {error, Why} -> {error, io_lib:format("standard input: ~p", [Why])};
        Line ->
            case erl_scan:string(unicode:characters_to_list(Line)) of
                {ok, Tokens, _} ->
                    case erl_parse:parse_term(Tokens) of
                        {ok, Req} when is_map(Req) -> check(Req);
                        {ok, _} -> {error, "request: not a map"};
                        %% the line holds the cookie: name the line number only
                        {error, {L, _, _}} -> {error, io_lib:format("request: syntax error on line ~p", [L])}
                    end;
                {error, {L, _, _}, _} ->
                    {error, io_lib:format("request: syntax error on line ~p", [L])}
            end
    end.

check(#{nodes := Nodes, cookie := Cookie, name_type := NameType, call := Call} = Req)
  when is_list(Nodes), Nodes =/= [], is_list(Cookie), Cookie =/= [],
       (NameType =:= shortnames orelse NameType =:= longnames) ->
    Probes = maps:get(probes, Req, []),
    Ints = [{K, maps:get(K, Req, D)} || {K, D} <- [{period_ms, 20}, {timeout_ms, 5000},
                                                     {probe_every, 10}, {max_ms, 600000}]],
    BadInt = [K || {K, V} <- Ints, not (is_integer(V) andalso V > 0)],
    BadNode = [N || N <- Nodes, not (is_list(N) andalso length(string:split(N, "@")) =:= 2)],
    if
        BadInt =/= [] -> {error, io_lib:format("request: ~p must be positive integers", [BadInt])};
        BadNode =/= [] -> {error, io_lib:format("request: not full node names (name@host): ~tp", [BadNode])};
        not is_list(Probes) -> {error, "request: probes must be a list of call texts"};
        true ->
            case {parse_call(Call), parse_probes(Probes, [])} of
                {{ok, Mfa}, {ok, ProbeExprs}} ->
                    {ok, maps:merge(maps:from_list(Ints),
                                    #{nodes => [list_to_atom(N) || N <- Nodes], cookie => list_to_atom(Cookie),
                                      name_type => NameType, call => {Call, Mfa}, probes => ProbeExprs})};
                {{error, Why}, _} ->
                    {error, io_lib:format("call ~tp: ~ts", [Call, Why])};
                {_, {error, _} = Error} ->
                    Error
            end
    end;
check(_) ->
    {error, "request: needs nodes, cookie, name_type (shortnames | longnames) and call"}.

parse_probes([], Acc) ->
    {ok, lists:reverse(Acc)};
parse_probes([Text | Rest], Acc) ->
    case parse_exprs(Text) of
        {ok, Exprs} -> parse_probes(Rest, [{Text, Exprs} | Acc]);
        {error, Why} -> {error, io_lib:format("probe ~tp: ~ts", [Text, Why])}
    end.

%% An expression sequence, evaluated on the node with erl_eval.
parse_exprs(Text) when is_list(Text) ->
    Stripped = string:trim(Text, trailing, " \t\r\n."),
    case erl_scan:string(Stripped ++ ".") of
        {ok, Tokens, _} ->
            case erl_parse:parse_exprs(Tokens) of
                {ok, Exprs} -> {ok, Exprs};
                {error, {_, Mod, Desc}} -> {error, Mod:format_error(Desc)}
            end;
        {error, {_, Mod, Desc}, _} ->
            {error, Mod:format_error(Desc)}
    end;
parse_exprs(Other) ->
    {error, io_lib:format("not a string: ~tp", [Other])}.

%% "Mod:Fun(Arg, ...)" -> {Mod, Fun, Args}; the arguments are evaluated here, once.
parse_call(Text) when is_list(Text) ->
    Stripped = string:trim(Text, trailing, " \t\r\n."),
    case erl_scan:string(Stripped ++ ".") of
        {ok, Tokens, _} ->
            case erl_parse:parse_exprs(Tokens) of
                {ok, [{call, _, {remote, _, {atom, _, M}, {atom, _, F}}, ArgExprs}]} ->
                    try {ok, {M, F, [element(2, erl_eval:expr(E, erl_eval:new_bindings())) || E <- ArgExprs]}}
                    catch _:Why -> {error, io_lib:format("arguments cannot be evaluated: ~tp", [Why])}
                    end;
                {ok, _} ->
                    {error, "not a call of the form Mod:Fun(Args...)"};
                {error, {_, Mod, Desc}} ->
                    {error, Mod:format_error(Desc)}
            end;
        {error, {_, Mod, Desc}, _} ->
            {error, Mod:format_error(Desc)}
    end;
parse_call(Other) ->
    {error, io_lib:format("not a string: ~tp", [Other])}.

%% ---------------------------------------------------------------------------------------------
%% distribution and workers

run(#{nodes := Nodes, cookie := Cookie, name_type := NameType, max_ms := MaxMs} = Req) ->
    [_, Host] = string:split(atom_to_list(hd(Nodes)), "@"),
    Ours = list_to_atom("erlang_otp_load_" ++ os:getpid() ++ "@" ++ Host),
    case net_kernel:start([Ours, NameType]) of
        {ok, _} -> ok;
        {error, Why} -> fail(io_lib:format("distribution did not start as ~p: ~P", [Ours, Why, 10]))
    end,
    true = erlang:set_cookie(node(), Cookie),
    [true = erlang:set_cookie(N, Cookie) || N <- Nodes],
    Main = self(),
    Workers = [{N, spawn(fun() -> guarded_worker(Main, N, Req) end)} || N <- Nodes],
    Connected = [receive {connected, Pid, Bool} -> {N, Bool} after 20000 -> {N, false} end
                 || {N, Pid} <- Workers],
    emit(#{ready => true, connected => maps:from_list(Connected)}),
    StartedAt = epoch(),
    Start = mono_us(),
    [Pid ! {go, Start} || {_, Pid} <- Workers],
    spawn_link(fun() -> read_to_eof(Main) end),
    Reason = receive stdin_eof -> eof after MaxMs -> max_time end,
    Stop = mono_us(),
    [Pid ! {stop, Stop} || {_, Pid} <- Workers],
    Wait = maps:get(timeout_ms, Req) + 10000,
    Stats = [receive {stats, Pid, S} -> {N, S} after Wait -> {N, #{error => <<"worker did not report">>}} end
             || {N, Pid} <- Workers],
    emit(#{reason => Reason, started_at => StartedAt, stopped_at => epoch(), nodes => maps:from_list(Stats)}),
    halt(0).

read_to_eof(Main) ->
    case io:get_line(standard_io, "") of
        eof -> Main ! stdin_eof;
        {error, _} -> Main ! stdin_eof;
        _ -> read_to_eof(Main)
    end.

%% A crashing worker reports the class and the first element of the reason only: its state
%% holds the request, and so the cookie.
guarded_worker(Main, Node, Req) ->
    try worker(Main, Node, Req)
    catch Class:Reason ->
        Main ! {connected, self(), false},
        Main ! {stats, self(), #{error => unicode:characters_to_binary(
                                     io_lib:format("worker crashed: ~p:~ts", [Class, short(Reason)]))}}
    end.

worker(Main, Node, Req) ->
    Main ! {connected, self(), net_kernel:connect_node(Node) =:= true},
    receive {go, Start} -> ok end,
    S = #{main => Main, node => Node, req => Req,
          calls => 0, ok => 0, fails => #{}, lats => [], max_lat => 0, max_lat_at => null,
          last_ok => Start, max_gap => 0, first_fail => null, last_fail => null,
          probes => #{}, probe_failures => 0, creations => []},
    loop(S, Start).

loop(#{req := #{period_ms := Period}} = S, Next) ->
    Wait = max(0, (Next - mono_us()) div 1000),
    receive
        {stop, Stop} -> report(S, Stop)
    after Wait ->
        S1 = tick(S),
        loop(S1, max(Next + Period * 1000, mono_us()))
    end.

tick(#{node := Node, req := #{call := {_, {M, F, A}}, timeout_ms := Timeout, probe_every := Every},
       calls := Calls} = S) ->
    T0 = mono_us(),
    Result = try erpc:call(Node, M, F, A, Timeout), ok catch C:R -> {failed, classify(C, R)} end,
    T1 = mono_us(),
    S1 = record(Result, T1 - T0, T1, S#{calls := Calls + 1}),
    case Calls rem Every of
        0 -> probe(S1);
        _ -> S1
    end.

record(Result, Lat, End, #{lats := Lats, max_lat := MaxLat} = S) ->
    S1 = case Lat > MaxLat of
        true -> S#{lats := [Lat | Lats], max_lat := Lat, max_lat_at => epoch()};
        false -> S#{lats := [Lat | Lats]}
    end,
    case Result of
        ok ->
            #{ok := Ok, last_ok := LastOk, max_gap := Gap} = S1,
            S1#{ok := Ok + 1, last_ok := End, max_gap := max(Gap, End - LastOk)};
        {failed, Class} ->
            #{fails := Fails, first_fail := First} = S1,
            Now = epoch(),
            S1#{fails := maps:update_with(Class, fun(N) -> N + 1 end, 1, Fails),
                first_fail := case First of null -> Now; _ -> First end,
                last_fail := Now}
    end.

probe(#{node := Node, req := #{probes := Probes, timeout_ms := Timeout}} = S) ->
    S1 = lists:foldl(
        fun({Text, Exprs}, #{probes := Seen, probe_failures := PF} = Acc) ->
            try erpc:call(Node, erl_eval, exprs, [Exprs, []], Timeout) of
                {value, Value, _} ->
                    Rendered = unicode:characters_to_binary(render(Value)),
                    Values = maps:get(Text, Seen, []),
                    case lists:member(Rendered, Values) orelse length(Values) >= ?MAX_VALUES of
                        true -> Acc;
                        false -> Acc#{probes := Seen#{Text => Values ++ [Rendered]}}
                    end
            catch _:_ ->
                Acc#{probe_failures := PF + 1}
            end
        end, S, Probes),
    try erpc:call(Node, erlang, system_info, [creation], Timeout) of
        Creation ->
            #{creations := Cs} = S1,
            case lists:member(Creation, Cs) of
                true -> S1;
                false -> S1#{creations := Cs ++ [Creation]}
            end
    catch _:_ ->
        S1
    end.

%% erpc:call/5 exceptions (see the erpc manual) -> a short reason class.
classify(error, {erpc, R}) when is_atom(R) ->
    case R of
        noconnection -> "noconnection";
        timeout -> "timeout";
        _ -> "erpc:" ++ atom_to_list(R)
    end;
classify(error, {exception, R, _Stack}) -> "error:" ++ short(R);
classify(exit, {exception, R}) -> "exit:" ++ short(R);
classify(exit, {signal, R}) -> "signal:" ++ short(R);
classify(throw, _) -> "throw";
classify(C, R) -> atom_to_list(C) ++ ":" ++ short(R).

short(A) when is_atom(A) -> atom_to_list(A);
short(T) when is_tuple(T), tuple_size(T) > 0, is_atom(element(1, T)) -> atom_to_list(element(1, T));
short(_) -> "other".

report(#{main := Main, calls := Calls, ok := Ok, fails := Fails, lats := Lats, max_lat := MaxLat,
         max_lat_at := MaxLatAt, last_ok := LastOk, max_gap := Gap, first_fail := First,
         last_fail := Last, probes := Probes, probe_failures := PF, creations := Cs}, Stop) ->
    Sorted = lists:sort(Lats),
    Stats = #{calls => Calls, ok => Ok, failed => Calls - Ok,
              failed_by_reason => maps:from_list([{list_to_binary(K), V} || {K, V} <- maps:to_list(Fails)]),
              latency_ms => #{max => ms(MaxLat), p50 => ms(rank(Sorted, 0.50)), p99 => ms(rank(Sorted, 0.99)),
                              mean => ms(case Calls of 0 -> 0; _ -> lists:sum(Lats) / Calls end)},
              max_latency_at => MaxLatAt,
              max_gap_ms => ms(max(Gap, Stop - LastOk)),
              first_failure_at => First, last_failure_at => Last,
              probes => maps:from_list([{unicode:characters_to_binary(T), V} || {T, V} <- maps:to_list(Probes)]),
              probe_failures => PF, creations => Cs},
    Main ! {stats, self(), Stats}.

%% nearest-rank percentile of a sorted list (0 for no samples)
rank([], _) -> 0;
rank(Sorted, P) -> lists:nth(max(1, ceil(P * length(Sorted))), Sorted).

ms(Us) -> round(Us) / 1000.

mono_us() -> erlang:monotonic_time(microsecond).

epoch() -> os:system_time(microsecond) / 1.0e6.

%% ---------------------------------------------------------------------------------------------
%% probe values as text; pids as the owning node prints them

render(P) when is_pid(P) -> pid_text(P);
render(T) when is_tuple(T) -> ["{", join([render(E) || E <- tuple_to_list(T)]), "}"];
render(M) when is_map(M) -> ["#{", join([[render(K), " => ", render(V)] || {K, V} <- lists:sort(maps:to_list(M))]), "}"];
render(L) when is_list(L) ->
    case io_lib:printable_unicode_list(L) of
        true -> io_lib:format("~0tp", [L]);
        false -> ["[", elements(L), "]"]
    end;
render(X) -> io_lib:format("~0tp", [X]).

elements([]) -> [];
elements([H]) -> [render(H)];
elements([H | T]) when is_list(T) -> [render(H), "," | elements(T)];
elements([H | T]) -> [render(H), "|", render(T)].

join([]) -> [];
join([H | T]) -> [H | [[",", E] || E <- T]].

pid_text(P) when node(P) =:= node() -> pid_to_list(P);
pid_text(P) ->
    %% NEW_PID_EXT (88) or PID_EXT (103): node atom, then ID and Serial (32 bits each).
    <<131, Tag, Rest/binary>> = term_to_binary(P),
    <<Id:32, Serial:32, _/binary>> = skip_atom(Rest),
    true = (Tag =:= 88 orelse Tag =:= 103),
    "<0." ++ integer_to_list(Id) ++ "." ++ integer_to_list(Serial) ++ ">".

skip_atom(<<119, Len, _:Len/binary, Rest/binary>>) -> Rest;    % SMALL_ATOM_UTF8_EXT
skip_atom(<<118, Len:16, _:Len/binary, Rest/binary>>) -> Rest; % ATOM_UTF8_EXT
skip_atom(<<115, Len, _:Len/binary, Rest/binary>>) -> Rest;    % SMALL_ATOM_EXT
skip_atom(<<100, Len:16, _:Len/binary, Rest/binary>>) -> Rest. % ATOM_EXT

%% ---------------------------------------------------------------------------------------------
%% JSON (OTP 25 has no json module): maps with atom or binary keys, lists, binaries as strings,
%% atoms true/false/null as themselves and other atoms as strings, integers, floats.

emit(Term) ->
    io:put_chars(standard_io, [json(Term), $\n]).

json(true) -> "true";
json(false) -> "false";
json(null) -> "null";
json(A) when is_atom(A) -> string(atom_to_list(A));
json(I) when is_integer(I) -> integer_to_list(I);
json(F) when is_float(F) -> float_to_list(F, [{decimals, 6}, compact]);
json(B) when is_binary(B) -> string(unicode:characters_to_list(B));
json(M) when is_map(M) ->
    ["{", join([[string(key(K)), ":", json(V)] || {K, V} <- lists:sort(maps:to_list(M))]), "}"];
json(L) when is_list(L) -> ["[", join([json(E) || E <- L]), "]"].

key(A) when is_atom(A) -> atom_to_list(A);
key(B) when is_binary(B) -> unicode:characters_to_list(B).

string(Chars) -> [$", [escape(C) || C <- Chars], $"].

escape($") -> "\\\"";
escape($\\) -> "\\\\";
escape($\n) -> "\\n";
escape($\r) -> "\\r";
escape($\t) -> "\\t";
escape(C) when C < 32 -> io_lib:format("\\u~4.16.0b", [C]);
escape(C) -> C.
