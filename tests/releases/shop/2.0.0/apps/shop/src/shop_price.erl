-module(shop_price).

-export([price/1, total/1]).

%% Net unit price in cents.
-spec price(atom()) -> pos_integer().
price(apple) -> 35;
price(pear) -> 40;
price(plum) -> 20;
price(_) -> 100.

%% Total of a list of {Sku, Qty} in cents, tax included.
-spec total([{atom(), pos_integer()}]) -> non_neg_integer().
total(Items) ->
    shop_tax:gross(lists:sum([price(Sku) * Qty || {Sku, Qty} <- Items])).
