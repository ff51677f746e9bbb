-module(shop_legacy_vouchers).
-behaviour(gen_server).

-export([start_link/0, redeem/1]).
-export([init/1, handle_call/3, handle_cast/2]).

start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, #{}, []).

%% The first redemption of a code succeeds, any later one is refused.
redeem(Code) ->
    gen_server:call(?MODULE, {redeem, Code}).

init(Redeemed) ->
    {ok, Redeemed}.

handle_call({redeem, Code}, _From, Redeemed) when is_map_key(Code, Redeemed) ->
    {reply, {error, already_redeemed}, Redeemed};
handle_call({redeem, Code}, _From, Redeemed) ->
    {reply, ok, Redeemed#{Code => true}}.

handle_cast(_Msg, Redeemed) ->
    {noreply, Redeemed}.
