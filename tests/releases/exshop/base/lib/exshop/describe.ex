defprotocol Exshop.Describe do
  @moduledoc "A protocol of the application itself: its consolidated module changes when 0.2.0 adds an implementation."
  def describe(value)
end

defimpl Exshop.Describe, for: Integer do
  def describe(count), do: "#{count} visits"
end
