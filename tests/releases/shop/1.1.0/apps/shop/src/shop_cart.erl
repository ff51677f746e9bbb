%% The cart keeps its items and a running total: state shape 2.
-module(shop_cart).
-behaviour(gen_server).
-vsn(2).

-export([start_link/0, add/2, items/0, total/0, describe/0, state/0, pid/0, code_version/0]).
-export([init/1, handle_call/3, handle_cast/2, code_change/3]).

-record(state, {items = [] :: [{atom(), pos_integer()}],
                total = 0 :: non_neg_integer()}).

start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

add(Sku, Qty) when is_atom(Sku), is_integer(Qty), Qty > 0 ->
    gen_server:call(?MODULE, {add, Sku, Qty}).

items() ->
    gen_server:call(?MODULE, items).

total() ->
    gen_server:call(?MODULE, total).

describe() ->
    gen_server:call(?MODULE, describe).

%% The raw state record, so tests can see which shape the running process holds.
state() ->
    sys:get_state(?MODULE).

pid() ->
    whereis(?MODULE).

code_version() ->
    2.

init([]) ->
    {ok, #state{}}.

handle_call({add, Sku, Qty}, _From, #state{items = Items} = State) ->
    Old = proplists:get_value(Sku, Items, 0),
    NewItems = lists:keystore(Sku, 1, Items, {Sku, Old + Qty}),
    shop_stats:bump(add),
    {reply, ok, State#state{items = NewItems, total = shop_price:total(NewItems)}};
handle_call(items, _From, #state{items = Items} = State) ->
    {reply, Items, State};
handle_call(total, _From, #state{total = Total} = State) ->
    {reply, Total, State};
handle_call(describe, _From, #state{items = Items, total = Total} = State) ->
    Lines = [iolist_to_binary(io_lib:format("~p x~b", [Sku, Qty])) || {Sku, Qty} <- Items],
    {reply, Lines ++ [iolist_to_binary(io_lib:format("total ~b", [Total]))], State}.

handle_cast(_Msg, State) ->
    {noreply, State}.

%% Shape 1 is {state, Items}; shape 2 adds the total, which the new price library computes.
code_change({down, _ToVsn}, #state{items = Items}, _Extra) ->
    {ok, {state, Items}};
code_change(_FromVsn, {state, Items}, _Extra) ->
    {ok, #state{items = Items, total = shop_price:total(Items)}};
code_change(_FromVsn, #state{} = State, _Extra) ->
    {ok, State}.
