"""Operators that are diagonal in Fourier space on a periodic grid."""

from __future__ import annotations

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
from jaxtyping import Array, ArrayLike, Float, Inexact

from .._checks import checked_int
from ._registration import register_operator


def _check_shape(shape) -> tuple[int, ...]:
    message = f"`shape` must be a non-empty tuple of positive ints, got {shape!r}"
    if not isinstance(shape, Sequence) or isinstance(shape, str) or len(shape) == 0:
        raise ValueError(message)
    return tuple(checked_int(n, message) for n in shape)


class FourierMultiplier(lx.AbstractLinearOperator):
    r"""A real operator diagonal in the discrete Fourier basis: $A v = \mathcal F^{-1}(s \odot \mathcal F v)$.

    Acts on real arrays of shape `shape` on a periodic grid (all axes transformed). This is
    a circulant (convolution) operator: derivatives ($s = (ik)^m$), heat kernels
    ($s = e^{-t|k|^2}$), blurs and their inverses.

    Two layouts of the symbol are accepted:

    - the `rfftn` half spectrum, shape `shape[:-1] + (shape[-1] // 2 + 1,)`: the operator
      is `irfftn(symbol * rfftn(v))` (the symbol's implicit Hermitian extension);
    - the full `fftn` spectrum, shape `shape`: the operator is
      `real(ifftn(symbol * fftn(v)))`, i.e. only the Hermitian part of the symbol acts.

    When both layouts have the same shape (last axis of length 1 or 2) the half spectrum
    is assumed. The symbol is an array leaf (differentiable).

    **Arguments:**

    - `symbol`: the Fourier multiplier (real or complex), in one of the layouts above.
    - `shape`: the grid shape (a tuple of ints).

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.linalg import FourierMultiplier

    n = 64
    k = jnp.fft.rfftfreq(n, 1.0 / n)  # integer wavenumbers on [0, 2 pi)
    heat = FourierMultiplier(jnp.exp(-0.01 * k**2), (n,))
    x = jnp.linspace(0, 2 * jnp.pi, n, endpoint=False)
    heat.mv(jnp.sin(3 * x))  # == exp(-0.09) * sin(3 x)
    ```

    Reference: Davis, *Circulant Matrices* (1979); Trefethen, *Spectral Methods in MATLAB* (2000).
    """

    symbol: Inexact[Array, "..."]
    shape: tuple[int, ...] = eqx.field(static=True)
    half: bool = eqx.field(static=True)

    def __init__(self, symbol: Inexact[ArrayLike, "..."], shape: Sequence[int]):
        self.shape = _check_shape(shape)
        symbol = jnp.asarray(symbol)
        if not jnp.issubdtype(symbol.dtype, jnp.inexact):
            symbol = symbol.astype(jnp.result_type(float))
        half_shape = self.shape[:-1] + (self.shape[-1] // 2 + 1,)
        if symbol.shape == half_shape:
            self.half = True
        elif symbol.shape == self.shape:
            self.half = False
        else:
            raise ValueError(
                f"`symbol` must have the rfftn shape {half_shape} or the fftn shape {self.shape}, got {symbol.shape}"
            )
        self.symbol = symbol

    @property
    def dtype(self):
        return jnp.finfo(self.symbol.dtype).dtype

    def mv(self, vector: Float[Array, "..."]) -> Float[Array, "..."]:
        vector = jnp.asarray(vector)
        if vector.shape != self.shape:
            raise ValueError(f"`vector` must have shape {self.shape}, got {vector.shape}")
        if self.half:
            return jnp.fft.irfftn(self.symbol * jnp.fft.rfftn(vector), s=self.shape).astype(self.dtype)
        return jnp.real(jnp.fft.ifftn(self.symbol * jnp.fft.fftn(vector))).astype(self.dtype)

    def as_matrix(self) -> Float[Array, "N N"]:
        n = math.prod(self.shape)
        eye = jnp.eye(n, dtype=self.dtype).reshape(n, *self.shape)
        return jax.vmap(self.mv)(eye).reshape(n, n).T

    def transpose(self) -> "FourierMultiplier":
        if self.half:
            return FourierMultiplier(jnp.conj(self.symbol), self.shape)
        # real(F^-1 D F)^T has the reflected symbol D(-k).
        axes = tuple(range(len(self.shape)))
        return FourierMultiplier(jnp.roll(jnp.flip(self.symbol, axes), 1, axes), self.shape)

    def in_structure(self) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(self.shape, self.dtype)

    def out_structure(self) -> jax.ShapeDtypeStruct:
        return self.in_structure()


def _fourier_diagonal(operator: FourierMultiplier) -> Array:
    # A circulant operator has a constant diagonal: the zeroth entry of A e_0.
    e0 = jnp.zeros(operator.shape, operator.dtype).reshape(-1).at[0].set(1.0).reshape(operator.shape)
    return jnp.full(math.prod(operator.shape), operator.mv(e0).reshape(-1)[0])


register_operator(
    FourierMultiplier,
    symmetric=lambda op: op.half and not jnp.iscomplexobj(op.symbol),
    positive_semidefinite=lambda op: False,
    diagonal=_fourier_diagonal,
)
