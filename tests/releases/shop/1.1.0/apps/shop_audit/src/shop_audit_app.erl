-module(shop_audit_app).
-behaviour(application).

-export([start/2, stop/1]).

start(_StartType, _StartArgs) ->
    shop_audit_sup:start_link(application:get_env(shop_audit, keep, 100)).

stop(_State) ->
    ok.
