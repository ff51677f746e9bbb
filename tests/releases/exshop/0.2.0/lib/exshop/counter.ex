defmodule Exshop.Counter do
  @moduledoc "Counts visits. State shape 2: a map with the count and the newest visit times."
  use GenServer
  @vsn 2
  @keep 5

  def start_link(_arg), do: GenServer.start_link(__MODULE__, 0, name: __MODULE__)

  def bump, do: GenServer.call(__MODULE__, :bump)
  def value, do: GenServer.call(__MODULE__, :value)
  def recent, do: GenServer.call(__MODULE__, :recent)
  def greeting, do: Exshop.Greeting.text(value())

  @doc "The raw state, so tests can see which shape the running process holds."
  def state, do: :sys.get_state(__MODULE__)
  def pid, do: Process.whereis(__MODULE__)
  def code_version, do: 2

  @impl true
  def init(count), do: {:ok, %{count: count, recent: []}}

  @impl true
  def handle_call(:bump, _from, %{count: count, recent: recent} = state) do
    now = System.system_time(:millisecond)
    {:reply, count + 1, %{state | count: count + 1, recent: Enum.take([now | recent], @keep)}}
  end

  def handle_call(:value, _from, state), do: {:reply, state.count, state}
  def handle_call(:recent, _from, state), do: {:reply, state.recent, state}

  @impl true
  def code_change({:down, _to_vsn}, %{count: count}, _extra), do: {:ok, count}
  def code_change(_from_vsn, count, _extra) when is_integer(count), do: {:ok, %{count: count, recent: []}}
  def code_change(_from_vsn, state, _extra), do: {:ok, state}
end
