-module(shop_format).

-export([line/3]).

-spec line(atom(), pos_integer(), pos_integer()) -> binary().
line(Sku, Qty, Cents) ->
    iolist_to_binary(io_lib:format("~p x~b @ ~b", [Sku, Qty, Cents])).
