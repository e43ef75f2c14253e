"""The `jaxsci tour` showcase: one module per pillar, each exposing `DEMOS`."""

from ._core import Demo as Demo, DemoResult as DemoResult, PILLARS as PILLARS, run_tour as run_tour
