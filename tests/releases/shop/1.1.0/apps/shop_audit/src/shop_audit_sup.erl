-module(shop_audit_sup).
-behaviour(supervisor).

-export([start_link/1, init/1]).

start_link(Keep) ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, Keep).

init(Keep) ->
    Log = #{id => shop_audit, start => {shop_audit, start_link, [Keep]}},
    {ok, {#{strategy => one_for_all, intensity => 3, period => 60}, [Log]}}.
