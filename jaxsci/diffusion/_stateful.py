"""Denoisers that carry state across sampler steps (guidance with momentum)."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx

from .._types import Array


class AbstractStatefulDenoiser(eqx.Module):
    """A denoiser with a state threaded through the sampler's scan.

    `sample` calls `init_state(x)` once, then `apply(x, sigma, state) -> (x0_hat, state)` at
    every denoiser evaluation, in evaluation order, carrying the state in the `lax.scan`
    carry. Calling the object directly, `denoiser(x, sigma)`, uses a fresh state.
    """

    @abc.abstractmethod
    def init_state(self, x: Array) -> Any:
        """The state before the first denoiser call."""

    @abc.abstractmethod
    def apply(self, x: Array, sigma: Array, state: Any) -> tuple[Array, Any]:
        """One denoiser evaluation and the updated state."""

    def __call__(self, x: Array, sigma: Array) -> Array:
        return self.apply(x, sigma, self.init_state(x))[0]
