-module(shop_tax).

-export([rate_percent/0, gross/1]).

rate_percent() ->
    20.

-spec gross(non_neg_integer()) -> non_neg_integer().
gross(NetCents) ->
    NetCents + (NetCents * rate_percent() + 50) div 100.
