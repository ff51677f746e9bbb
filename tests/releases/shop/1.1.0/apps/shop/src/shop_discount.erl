-module(shop_discount).

-export([apply/2]).

%% Ten percent off from ten pieces on.
-spec apply(non_neg_integer(), non_neg_integer()) -> non_neg_integer().
apply(Cents, Pieces) when Pieces >= 10 ->
    Cents - Cents div 10;
apply(Cents, _Pieces) ->
    Cents.
