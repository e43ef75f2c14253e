"""The abstract semilinear PDE $u_t = \\mathcal{L} u + \\mathcal{N}(u)$ on a periodic domain."""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Complex, Shaped

from .._checks import runtime_check
from ._domain import PeriodicDomain


_SIGNS = {"positive": (lambda a: a > 0, "positive"), "non-negative": (lambda a: a >= 0, "non-negative")}


def coefficient(
    value: ArrayLike,
    name: str,
    *,
    shape: tuple[int, ...] | None = (),
    sign: str | None = None,
    complex_ok: bool = False,
) -> Array:
    """Convert a PDE coefficient to a floating array leaf, rejecting values that make the
    problem meaningless.

    - The value must have shape `shape`: by default `()`, a scalar. A coefficient multiplies
      a Fourier symbol, so an array would silently become a per-mode coefficient (or fail
      later with an unnamed broadcasting error); a spatially varying coefficient is not
      diagonal in Fourier space at all. To run several values, `jax.vmap` over the
      coefficient (inside the vmapped function it is a scalar). `shape=None` skips the check
      (for callers that validate the shape themselves).
    - Complex values raise `ValueError` unless `complex_ok` (coefficients of complex-field
      PDEs); a complex coefficient of a real-field PDE would silently make its field complex.
    - `sign="positive"` or `sign="non-negative"` constrains the value (a negative viscosity
      or diffusivity makes the problem ill-posed: its high modes grow without bound).
    - Concrete values must be finite and of the right sign (`ValueError` naming `name`).
      Traced values (inside `jit`/`vmap`/`grad`) stay differentiable and vmappable; a sign
      constraint on them is checked at run time with `equinox.error_if` (skipped for
      per-device values inside `shard_map`).
    """
    arr = jnp.asarray(value)
    if jnp.iscomplexobj(arr) and not complex_ok:
        raise ValueError(f"`{name}` must be real, got {value!r} (dtype {arr.dtype}).")
    if not jnp.issubdtype(arr.dtype, jnp.inexact):
        arr = arr.astype(jnp.zeros(()).dtype)
    if shape is not None and arr.shape != shape:
        what = "a scalar (shape ())" if shape == () else f"of shape {shape}"
        raise ValueError(
            f"`{name}` must be {what}, got shape {arr.shape}; to run several values, jax.vmap over `{name}`."
        )
    if sign is not None and sign not in _SIGNS:
        raise ValueError(f"`sign` must be None or one of {tuple(_SIGNS)}, got {sign!r}.")
    ok, word = _SIGNS[sign] if sign is not None else (None, "")
    if not isinstance(arr, jax.core.Tracer):
        concrete = np.asarray(arr)
        if not bool(np.all(np.isfinite(concrete))):
            raise ValueError(f"`{name}` must be finite, got {value!r}.")
        if ok is not None and not bool(np.all(ok(concrete))):
            raise ValueError(f"`{name}` must be {word}, got {value!r}.")
    elif ok is not None:
        # `~ok` is also true for NaN.
        arr = runtime_check(arr, ~jnp.all(ok(arr)), f"`{name}` must be {word} (and finite): pass a {word} value.")
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
    - `source()` (optional; not defined on this base class) returns a constant source term
      $\hat f$ of shape `(C, *fourier_shape)`, for $u_t = \mathcal L u + \mathcal N(u) + f$,
      or `None`. Keep forcings there rather than in `nonlinear`: integrators treat it as a
      part of $\mathcal N$ that is never dealiased (it is no product), so a forcing at any
      resolved mode survives. Each Runge-Kutta stage gets its exact share (a whole step
      gets $\Delta t\,\varphi_1(\Delta t\hat{\mathcal L})\hat f$), so forced problems keep
      the integrator's order. Build it with `domain.fourier_constant`.
    - Coefficients: the library's PDEs take scalar coefficients (array leaves of shape `()`;
      an array-valued one is a `ValueError` naming it), except the advection velocity (a
      scalar or one entry per axis). To run several values, `jax.vmap` over them.
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
          `.real`, `abs`, or sums over modes or grid points would mix the two fields;
        - `source()`, if defined, is built with `domain.fourier_constant`.
      Every real PDE of the library is pairable. A subclass that redefines `linear`,
      `nonlinear` or `source` is not, unless it sets `pairable = True` itself.

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
        # Pairability is a property of the code of `linear`, `nonlinear` and `source`: a
        # subclass that redefines any of them must declare it again.
        redefines = any(name in cls.__dict__ for name in ("linear", "nonlinear", "source"))
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


def constant_source(pde: AbstractPDE) -> Complex[Array, "c ..."] | None:
    """The constant source term $\\hat f$ of `pde` (its optional `source()` method), or `None`."""
    source = getattr(pde, "source", None)
    return None if source is None else source()


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
