%% The cart keeps a list of {Sku, Qty}: state shape 1.
-module(shop_cart).
-behaviour(gen_server).
-vsn(1).

-export([start_link/0, add/2, items/0, describe/0, state/0, pid/0, code_version/0]).
-export([init/1, handle_call/3, handle_cast/2, code_change/3]).

-record(state, {items = [] :: [{atom(), pos_integer()}]}).

start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

add(Sku, Qty) when is_atom(Sku), is_integer(Qty), Qty > 0 ->
    gen_server:call(?MODULE, {add, Sku, Qty}).

items() ->
    gen_server:call(?MODULE, items).

describe() ->
    gen_server:call(?MODULE, describe).

%% The raw state record, so tests can see which shape the running process holds.
state() ->
    sys:get_state(?MODULE).

pid() ->
    whereis(?MODULE).

code_version() ->
    1.

init([]) ->
    {ok, #state{}}.

handle_call({add, Sku, Qty}, _From, #state{items = Items} = State) ->
    Old = proplists:get_value(Sku, Items, 0),
    NewItems = lists:keystore(Sku, 1, Items, {Sku, Old + Qty}),
    {reply, ok, State#state{items = NewItems}};
handle_call(items, _From, #state{items = Items} = State) ->
    {reply, Items, State};
handle_call(describe, _From, #state{items = Items} = State) ->
    Lines = [shop_format:line(Sku, Qty, shop_price:price(Sku)) || {Sku, Qty} <- Items],
    {reply, Lines, State}.

handle_cast(_Msg, State) ->
    {noreply, State}.

code_change(_OldVsn, State, _Extra) ->
    {ok, State}.
