defmodule Exshop.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    Exshop.Supervisor.start_link([])
  end
end
