"""Base class of steppers that advance a field in Fourier space."""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Complex, Shaped

from ._pde import AbstractPDE, num_channels


def as_field(u, name: str = "u") -> Array:
    """`u` as a JAX array of a dtype the FFT takes: integers and bools become the default float
    type, floats narrower than float32 (bfloat16, float16) float32. A `ValueError` naming `name`
    if `u` is no array."""
    try:
        u = jnp.asarray(u)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{name}` must be an array (channels, *shape), got a {type(u).__name__}: {e}") from None
    if not jnp.issubdtype(u.dtype, jnp.inexact):
        return u.astype(jnp.zeros(()).dtype)
    if jnp.issubdtype(u.dtype, jnp.floating) and jnp.finfo(u.dtype).bits < 32:
        return u.astype(jnp.float32)
    return u


def checked_state(pde: AbstractPDE, u, name: str = "u") -> Array:
    """`u` converted by `as_field`, checked to be a field `(channels, *domain.shape)` of `pde`:
    a `ValueError` for a wrong shape, a `TypeError` for a complex field of a real PDE, both
    naming `name`."""
    u = as_field(u, name)
    pde.domain.check_field(u, num_channels(pde), name)
    if not pde.complex_field and jnp.iscomplexobj(u):
        raise TypeError(f"`{name}` must be real for {type(pde).__name__}, got dtype {u.dtype}.")
    return u


class AbstractSpectralStepper(eqx.Module):
    """A time stepper of a PDE whose state can live in Fourier space between steps.

    `stepper(u)` advances a physical field `(channels, *domain.shape)` by one step;
    `step_fourier(u_hat)` does the same on its Fourier coefficients, and `to_fourier` /
    `from_fourier` convert. [`jaxsci.spectral.rollout`][] uses the Fourier form so that a
    rollout transforms only the fields it saves.
    """

    pde: eqx.AbstractVar[AbstractPDE]

    @abc.abstractmethod
    def step_fourier(self, u_hat: Complex[Array, "c ..."]) -> Complex[Array, "c ..."]:
        """Advance Fourier coefficients by one step."""

    def to_fourier(self, u: Shaped[Array, "c *shape"]) -> Complex[Array, "c ..."]:
        """Check a physical field and return its Fourier coefficients.

        `u` may be any array-like (`jnp.asarray` converts it); integers become the default
        float type, and floats narrower than float32 (bfloat16, float16), which the FFT does
        not take, are computed in float32. A wrong shape is a `ValueError`, a complex field of
        a real PDE a `TypeError`."""
        u = checked_state(self.pde, u, "u")
        return self.pde.domain.fft(u, self.pde.complex_field)

    def from_fourier(self, u_hat: Complex[Array, "c ..."]) -> Shaped[Array, "c *shape"]:
        """Return the physical field of Fourier coefficients `u_hat`."""
        return self.pde.domain.ifft(u_hat, self.pde.complex_field)

    def __call__(self, u: Shaped[Array, "c *shape"]) -> Shaped[Array, "c *shape"]:
        """Advance the physical field `u` by one step."""
        return self.from_fourier(self.step_fourier(self.to_fourier(u)))
