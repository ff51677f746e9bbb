defmodule Exshop.Greeting do
  @moduledoc "Plain module that the counter calls."
  def text(count), do: "Hello, visitor #{count}"
end
