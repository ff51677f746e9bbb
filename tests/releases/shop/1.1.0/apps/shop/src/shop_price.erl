-module(shop_price).

-export([price/1, total/1]).

%% Unit price in cents.
-spec price(atom()) -> pos_integer().
price(apple) -> 35;
price(pear) -> 45;
price(plum) -> 20;
price(_) -> 100.

%% Total of a list of {Sku, Qty} in cents, discounts applied.
-spec total([{atom(), pos_integer()}]) -> non_neg_integer().
total(Items) ->
    Gross = lists:sum([price(Sku) * Qty || {Sku, Qty} <- Items]),
    shop_discount:apply(Gross, lists:sum([Qty || {_, Qty} <- Items])).
