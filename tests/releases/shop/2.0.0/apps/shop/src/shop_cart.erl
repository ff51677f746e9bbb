%% The cart keeps its items as a map, a running total and a currency: state shape 3.
-module(shop_cart).
-behaviour(gen_server).
-vsn(3).

-export([start_link/0, add/2, items/0, total/0, describe/0, state/0, pid/0, code_version/0]).
-export([init/1, handle_call/3, handle_cast/2, code_change/3]).

-record(state, {items = #{} :: #{atom() => pos_integer()},
                total = 0 :: non_neg_integer(),
                currency = eur :: atom()}).

start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

add(Sku, Qty) when is_atom(Sku), is_integer(Qty), Qty > 0 ->
    gen_server:call(?MODULE, {add, Sku, Qty}).

%% Sorted {Sku, Qty} list, as in the earlier versions.
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
    3.

init([]) ->
    {ok, #state{}}.

handle_call({add, Sku, Qty}, _From, #state{items = Items} = State) ->
    NewItems = maps:update_with(Sku, fun(Old) -> Old + Qty end, Qty, Items),
    shop_stats:bump(add),
    shop_audit:log({add, Sku, Qty}),
    {reply, ok, State#state{items = NewItems, total = shop_price:total(maps:to_list(NewItems))}};
handle_call(items, _From, #state{items = Items} = State) ->
    {reply, lists:sort(maps:to_list(Items)), State};
handle_call(total, _From, #state{total = Total} = State) ->
    {reply, Total, State};
handle_call(describe, _From, #state{items = Items, total = Total, currency = Cur} = State) ->
    Lines = [iolist_to_binary(io_lib:format("~p x~b", [Sku, Qty])) || {Sku, Qty} <- lists:sort(maps:to_list(Items))],
    {reply, Lines ++ [iolist_to_binary(io_lib:format("total ~b ~p", [Total, Cur]))], State}.

handle_cast(_Msg, State) ->
    {noreply, State}.

%% Shape 1 is {state, Items}, shape 2 {state, Items, Total} (module vsn 1 and 2).
%% Going down runs before the old price library is back, so the total is kept, not recomputed.
code_change({down, 1}, #state{items = Items}, _Extra) ->
    {ok, {state, lists:sort(maps:to_list(Items))}};
code_change({down, _ToVsn}, #state{items = Items, total = Total}, _Extra) ->
    {ok, {state, lists:sort(maps:to_list(Items)), Total}};
code_change(_FromVsn, {state, Items}, _Extra) ->
    {ok, #state{items = maps:from_list(Items), total = shop_price:total(Items)}};
code_change(_FromVsn, {state, Items, _OldTotal}, _Extra) ->
    {ok, #state{items = maps:from_list(Items), total = shop_price:total(Items)}};
code_change(_FromVsn, #state{} = State, _Extra) ->
    {ok, State}.
