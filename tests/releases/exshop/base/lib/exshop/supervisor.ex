defmodule Exshop.Supervisor do
  @moduledoc "Top supervisor of the exshop application."
  use Supervisor

  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg, name: __MODULE__)

  @impl true
  def init(_arg) do
    Supervisor.init([Exshop.Counter], strategy: :one_for_one)
  end
end
