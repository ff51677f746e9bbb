%% Counts cart events; a worker that first appears under shop_sup in release 1.1.0.
-module(shop_stats).
-behaviour(gen_server).

-export([start_link/0, bump/1, counts/0]).
-export([init/1, handle_call/3, handle_cast/2]).

start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

bump(Event) ->
    gen_server:cast(?MODULE, {bump, Event}).

counts() ->
    gen_server:call(?MODULE, counts).

init([]) ->
    {ok, #{}}.

handle_call(counts, _From, Counts) ->
    {reply, Counts, Counts}.

handle_cast({bump, Event}, Counts) ->
    {noreply, maps:update_with(Event, fun(N) -> N + 1 end, 1, Counts)}.
