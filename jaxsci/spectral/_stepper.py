"""Base class of steppers that advance a field in Fourier space."""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Complex, Shaped

from ._pde import AbstractPDE, num_channels


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
        """Check the shape of a physical field and return its Fourier coefficients."""
        pde = self.pde
        pde.domain.check_field(u, num_channels(pde), "u")
        if not pde.complex_field and jnp.iscomplexobj(u):
            raise TypeError(f"`u` must be real for {type(pde).__name__}, got dtype {u.dtype}.")
        if not jnp.issubdtype(u.dtype, jnp.inexact):
            u = u.astype(jnp.zeros(()).dtype)
        return pde.domain.fft(u, pde.complex_field)

    def from_fourier(self, u_hat: Complex[Array, "c ..."]) -> Shaped[Array, "c *shape"]:
        """Return the physical field of Fourier coefficients `u_hat`."""
        return self.pde.domain.ifft(u_hat, self.pde.complex_field)

    def __call__(self, u: Shaped[Array, "c *shape"]) -> Shaped[Array, "c *shape"]:
        """Advance the physical field `u` by one step."""
        return self.from_fourier(self.step_fourier(self.to_fourier(u)))
