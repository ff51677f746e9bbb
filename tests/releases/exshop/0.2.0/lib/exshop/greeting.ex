defmodule Exshop.Greeting do
  @moduledoc "Plain module that the counter calls."
  def text(1), do: "Welcome, first visitor"
  def text(count), do: "Welcome back, visitor number #{count}"
end
