%% Application callback and top supervisor in one module: the app is tiny.
-module(shop_legacy_app).
-behaviour(application).
-behaviour(supervisor).

-export([start/2, stop/1, init/1]).

start(_StartType, _StartArgs) ->
    supervisor:start_link({local, shop_legacy_sup}, ?MODULE, []).

stop(_State) ->
    ok.

init([]) ->
    Child = #{id => shop_legacy_vouchers, start => {shop_legacy_vouchers, start_link, []}},
    {ok, {#{strategy => one_for_one}, [Child]}}.
