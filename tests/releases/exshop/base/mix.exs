defmodule Exshop.MixProject do
  use Mix.Project

  # Each version directory supplies VERSION; the application and release share it.
  @version __DIR__ |> Path.join("VERSION") |> File.read!() |> String.trim()

  def project do
    [
      app: :exshop,
      version: @version,
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      deps: [],
      releases: [
        exshop: [
          applications: [sasl: :permanent],
          include_executables_for: [:unix],
          steps: [:assemble, :tar]
        ]
      ]
    ]
  end

  def application do
    [extra_applications: [:logger], mod: {Exshop.Application, []}]
  end
end
