"""The abstract semilinear PDE $u_t = \\mathcal{L} u + \\mathcal{N}(u)$ on a periodic domain."""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Complex, Shaped

from ._domain import PeriodicDomain


def coefficient(value: ArrayLike, name: str, *, shape: tuple[int, ...] | None = None) -> Array:
    """Convert a PDE coefficient to a floating array leaf, rejecting non-finite values.

    The finiteness check runs on concrete values; traced values (inside `jit`/`vmap`/`grad`)
    pass through unchanged so that coefficients stay differentiable and vmappable.
    """
    arr = jnp.asarray(value)
    if not jnp.issubdtype(arr.dtype, jnp.inexact):
        arr = arr.astype(jnp.zeros(()).dtype)
    if shape is not None and arr.shape != shape:
        raise ValueError(f"`{name}` must have shape {shape}, got {arr.shape}.")
    if not isinstance(arr, jax.core.Tracer) and not bool(np.all(np.isfinite(np.asarray(arr)))):
        raise ValueError(f"`{name}` must be finite, got {value!r}.")
    return arr


class AbstractPDE(eqx.Module):
    r"""A semilinear PDE $\partial_t u = \mathcal{L} u + \mathcal{N}(u)$ on a periodic domain.

    Subclasses define the `domain` field, their coefficients (array leaves), the Fourier
    symbol of the stiff linear part and the Fourier-space nonlinear term; integrators such
    as [`jaxsci.spectral.ETDRK`][] do the rest.

    - `linear()` returns the symbol $\hat{\mathcal{L}}$ with shape `(C, *fourier_shape)`
      for a channel-diagonal linear part, or `(C, C, *fourier_shape)` when it couples
      channels ($\widehat{\mathcal{L}u}_i = \sum_j \hat{\mathcal{L}}_{ij}\hat u_j$).
    - `nonlinear(u_hat)` maps $\hat u$ (shape `(C, *fourier_shape)`) to
      $\widehat{\mathcal{N}(u)}$. Integrators dealias its input and output, so it may
      simply transform to physical space, multiply, and transform back.
    - `complex_field` (class variable) selects `fftn` instead of `rfftn`.
    - `pairable` (class variable, default `False`) declares that the PDE may be evolved
      two real fields per complex field by [`jaxsci.spectral.ensemble_rollout`][]. Set it on
      a real-field PDE only if, on the paired layout of its domain,
        - `linear()` maps real fields to real fields: build it from the domain's symbols
          (`derivative` zeroes odd orders at the Nyquist mode; a hand-made `1j * k` does not);
        - `nonlinear` reaches physical space only through `self.domain` (`fft`, `ifft`),
          treats Fourier coefficients only by multiplying them with such symbols and adding
          them, adds constants in Fourier space through `domain.fourier_constant`, and
          combines physical fields elementwise (products, powers, sums, indexing channels,
          broadcasting with fixed arrays of shape `domain.shape`, without a channel axis).
          `.real`, `abs`, or sums over modes or grid points would mix the two fields.
      Every real PDE of the library is pairable. A subclass that redefines `linear` or
      `nonlinear` is not, unless it sets `pairable = True` itself.

    **Example** (a user-defined PDE, $u_t = \nu u_{xx} - u^3$):

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp

    class Cubic(sp.AbstractPDE):
        domain: sp.PeriodicDomain
        nu: jnp.ndarray

        def linear(self):
            return self.nu * self.domain.laplacian()[None]

        def nonlinear(self, u_hat):
            u = self.domain.ifft(u_hat)
            return -self.domain.fft(u**3)

    pde = Cubic(sp.PeriodicDomain(64), jnp.asarray(0.1))
    ```
    """

    domain: eqx.AbstractVar[PeriodicDomain]
    complex_field: ClassVar[bool] = False
    pairable: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Pairability is a property of the code of `linear` and `nonlinear`: a subclass that
        # redefines either must declare it again.
        redefines = "linear" in cls.__dict__ or "nonlinear" in cls.__dict__
        if redefines and "pairable" not in cls.__dict__:
            cls.pairable = False

    @abc.abstractmethod
    def linear(self) -> Shaped[Array, "..."]:
        """Fourier symbol of the linear part, `(C, *fourier_shape)` or `(C, C, *fourier_shape)`."""

    @abc.abstractmethod
    def nonlinear(self, u_hat: Complex[Array, "c ..."]) -> Complex[Array, "c ..."]:
        """Fourier transform of the nonlinear term evaluated at $\\hat u$."""


def num_channels(pde: AbstractPDE) -> int:
    """Number of field channels of `pde` (read from the shape of its linear symbol)."""
    return int(jax.eval_shape(pde.linear).shape[0])


def is_coupled(pde: AbstractPDE) -> bool:
    """Whether the linear symbol of `pde` couples channels (`(C, C, ...)` layout)."""
    shape = jax.eval_shape(pde.linear).shape
    fshape = pde.domain.fourier_shape(pde.complex_field)
    if tuple(shape[1:]) == fshape:
        return False
    if len(shape) == len(fshape) + 2 and tuple(shape[2:]) == fshape and shape[0] == shape[1]:
        return True
    raise ValueError(
        f"`{type(pde).__name__}.linear()` must have shape (C, *{fshape}) or (C, C, *{fshape}), "
        f"got {tuple(shape)}."
    )


def paired_pde(pde: AbstractPDE) -> AbstractPDE:
    """`pde` on the paired layout of its domain (two real fields as one complex field).

    Raises `ValueError` if `pde` is a complex-field PDE or does not declare `pairable`."""
    if pde.complex_field or not pde.pairable:
        why = "is a complex-field PDE" if pde.complex_field else "does not set `pairable = True`"
        raise ValueError(f"`{type(pde).__name__}` {why}, so its fields cannot be paired.")
    d = pde.domain
    return eqx.tree_at(lambda p: p.domain, pde, PeriodicDomain(d.shape, d.extent, paired=True))
