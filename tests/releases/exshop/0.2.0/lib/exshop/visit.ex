defmodule Exshop.Visit do
  @moduledoc "A visit, new in 0.2.0: implements the application's protocol and Elixir's String.Chars."
  defstruct at: 0
end

defimpl Exshop.Describe, for: Exshop.Visit do
  def describe(%Exshop.Visit{at: at}), do: "visit at #{at}"
end

defimpl String.Chars, for: Exshop.Visit do
  def to_string(%Exshop.Visit{at: at}), do: "visit@#{at}"
end
