defmodule Exshop.Counter do
  @moduledoc "Counts visits. State shape 1: a bare integer."
  use GenServer
  @vsn 1

  def start_link(_arg), do: GenServer.start_link(__MODULE__, 0, name: __MODULE__)

  def bump, do: GenServer.call(__MODULE__, :bump)
  def value, do: GenServer.call(__MODULE__, :value)
  def greeting, do: Exshop.Greeting.text(value())

  @doc "The raw state, so tests can see which shape the running process holds."
  def state, do: :sys.get_state(__MODULE__)
  def pid, do: Process.whereis(__MODULE__)
  def code_version, do: 1

  @impl true
  def init(count), do: {:ok, count}

  @impl true
  def handle_call(:bump, _from, count), do: {:reply, count + 1, count + 1}
  def handle_call(:value, _from, count), do: {:reply, count, count}

  @impl true
  def code_change(_old_vsn, state, _extra), do: {:ok, state}
end
