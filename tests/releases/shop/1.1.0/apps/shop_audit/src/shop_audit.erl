%% Keeps the newest events, at most Keep of them.
-module(shop_audit).
-behaviour(gen_server).

-export([start_link/1, log/1, entries/0]).
-export([init/1, handle_call/3, handle_cast/2]).

start_link(Keep) ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, Keep, []).

log(Event) ->
    gen_server:cast(?MODULE, {log, Event}).

%% Oldest first.
entries() ->
    gen_server:call(?MODULE, entries).

init(Keep) ->
    {ok, {Keep, []}}.

handle_call(entries, _From, {_Keep, Newest} = State) ->
    {reply, lists:reverse(Newest), State}.

handle_cast({log, Event}, {Keep, Newest}) ->
    {noreply, {Keep, lists:sublist([Event | Newest], Keep)}}.
