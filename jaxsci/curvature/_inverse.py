"""Damped inverse-curvature products: CG on $A + \\lambda I$ (any operator)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx

from .. import linalg
from .._checks import checked, checked_int
from ._base import AbstractCurvatureOperator, check_vector, matvec_of
from ._tree import check_like


def damped_solve(
    op: lx.AbstractLinearOperator,
    b,
    *,
    damping,
    tol: float = 1e-6,
    maxiter: int | None = None,
    preconditioner=None,
):
    """Solve $(A + \\lambda I) x = b$ by conjugate gradients, matrix-free.

    The damped Newton / natural-gradient step: with `A` a `GGN` or `Fisher` and any
    $\\lambda > 0$ the system is positive definite. With a `Hessian` the damping must exceed
    $-\\lambda_{\\min}(H)$ (CG needs a positive definite matrix). Goes through
    `jaxsci.linalg.cg` (lineax, implicit gradients).

    **Arguments:**

    - `op`: a curvature operator (any symmetric lineax operator).
    - `b`: right-hand side, shaped like the parameters (e.g. the gradient).
    - `damping`: $\\lambda \\ge 0$, a finite scalar (an array leaf: differentiable; a traced
      value is checked with `equinox.error_if`). It acts in each parameter leaf's dtype.
    - `tol`, `maxiter`, `preconditioner`: passed to `jaxsci.linalg.cg` (`tol` may be traced).
      A NaN in the operator or `b` raises an error there, not a zero solution.

    **Returns:**

    $x = (A + \\lambda I)^{-1} b$, shaped like `b`.

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.curvature import Hessian, damped_solve

    loss = lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2)
    H = Hessian(loss, {"w": jnp.ones(3)}, jnp.array([1.0, 2.0, 3.0]))
    damped_solve(H, {"w": jnp.ones(3)}, damping=1.0)  # {"w": 1 / [2, 3, 4]}
    ```

    Reference: Martens, "Deep learning via Hessian-free optimization", ICML 2010.
    """
    if not isinstance(op, lx.AbstractLinearOperator):
        raise TypeError(f"`op` must be a lineax operator, got {type(op).__name__}.")
    if isinstance(op, AbstractCurvatureOperator):
        b = check_vector(op, b, "b")
    damping = _check_damping(damping, positive=False)
    op_mv = matvec_of(op)
    # the damping in each leaf's dtype: a float64 (or float32 for bfloat16 parameters) damping
    # would promote the product, which lineax then rejects as a different output structure
    mv = lambda v: jax.tree.map(lambda a, x: a + damping.astype(x.dtype) * x, op_mv(v), v)
    damped = lx.FunctionLinearOperator(mv, op.in_structure(), lx.positive_semidefinite_tag)
    return linalg.cg(damped, b, tol=tol, maxiter=maxiter, preconditioner=preconditioner)


def _check_damping(damping, positive: bool = True):
    """$\\lambda$ as a scalar array: a concrete value must be finite and > 0 (M-FAC) or >= 0
    (`damped_solve`), else `ValueError`; a traced one is checked when the program runs, with
    `equinox.error_if`. A NaN damping would otherwise reach CG as a silent zero solution."""
    damping = jnp.asarray(damping)
    if jnp.ndim(damping) != 0:
        raise ValueError(f"`damping` must be a scalar, got shape {jnp.shape(damping)}.")
    if positive:
        bad = ~(jnp.isfinite(damping) & (damping > 0))
        return checked(damping, bad, "`damping` must be finite and > 0 (M-FAC solves with M = damping * I + G^T G / m)")
    return checked(damping, ~(jnp.isfinite(damping) & (damping >= 0)), "`damping` must be finite and >= 0")


def _stack_dot(grads, v):
    """$G v$: one inner product per stored gradient (leading axis m)."""
    parts = jax.tree.leaves(jax.tree.map(lambda g, x: g.reshape(g.shape[0], -1) @ x.reshape(-1), grads, v))
    return sum(parts[1:], parts[0])


def _stack_tdot(grads, w):
    """$G^\\top w$ as a pytree shaped like one gradient."""
    return jax.tree.map(lambda g: jnp.tensordot(w, g, axes=1), grads)


class MFAC(eqx.Module):
    """M-FAC: products with $M = \\lambda I + \\frac1m \\sum_{i=1}^m g_i g_i^\\top$ and its inverse.

    Holds a sliding window of the last $m$ gradients $G$ (a pytree with a leading axis
    $m$) and the Cholesky factor of $\\frac{\\lambda}{c} I + G G^\\top$, $c = 1/m_{\\text{filled}}$.
    By the Woodbury identity
    $M^{-1} v = \\frac1\\lambda \\big(v - G^\\top (\\tfrac{\\lambda}{c} I + G G^\\top)^{-1} G v\\big)$:
    two passes over $G$, $O(dm)$ per product, and `update(g)` replaces the oldest gradient
    in $O(dm + m^3)$ (one new row of the Gram matrix).

    **Arguments:**

    - `like`: a pytree shaped like one gradient (arrays or `jax.ShapeDtypeStruct`).
    - `window`: $m$, the number of gradients kept.
    - `damping`: $\\lambda > 0$, a scalar (an array leaf; a traced value is checked with
      `equinox.error_if`).

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.curvature import MFAC

    m = MFAC({"w": jnp.zeros(3)}, window=2, damping=1.0)
    m = m.update({"w": jnp.array([1.0, 0.0, 0.0])})
    m.solve({"w": jnp.ones(3)})  # {"w": [0.5, 1, 1]}: M = I + e1 e1^T
    ```

    Reference: Frantar, Kurtic & Alistarh, "M-FAC: efficient matrix-free approximations of
    second-order information", NeurIPS 2021.
    """

    grads: object
    gram: jax.Array
    count: jax.Array
    damping: jax.Array

    def __init__(self, like, window: int, damping, *, grads=None, gram=None, count=None):
        window = checked_int(window, f"`window` must be a positive int, got {window!r}.")
        if grads is None:  # a fresh window; `update` passes on the damping checked here
            if not jax.tree.leaves(like):
                raise ValueError("`like` has no array leaves: M-FAC needs a gradient with at least one entry.")
            damping = _check_damping(damping)
            grads = jax.tree.map(lambda x: jnp.zeros((window,) + tuple(x.shape), x.dtype), like)
            dtype = jax.tree.leaves(grads)[0].dtype
            gram, count = jnp.zeros((window, window), dtype), jnp.zeros((), jnp.int32)
        self.grads, self.gram, self.count = grads, gram, count
        self.damping = jnp.asarray(damping)

    @property
    def window(self) -> int:
        return jax.tree.leaves(self.grads)[0].shape[0]

    def _like(self):
        """The structure of one gradient (the window's without its leading axis)."""
        return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape[1:], s.dtype), self.grads)

    def _check(self, v, name: str):
        """`v` shaped like one gradient (else `ValueError` naming `name`), cast to its dtypes."""
        like = self._like()
        check_like(v, like, name)
        return jax.tree.map(lambda x, s: jnp.asarray(x, s.dtype), v, like)

    def update(self, g) -> "MFAC":
        """Replace the oldest gradient in the window with `g` ($O(dm)$)."""
        g = self._check(g, "g")
        slot = self.count % self.window
        grads = jax.tree.map(lambda s, x: s.at[slot].set(x), self.grads, g)
        row = _stack_dot(grads, g)
        gram = self.gram.at[slot, :].set(row).at[:, slot].set(row)
        return MFAC(None, self.window, self.damping, grads=grads, gram=gram, count=self.count + 1)

    def _scale(self):
        filled = jnp.minimum(self.count, self.window)
        return 1.0 / jnp.maximum(filled, 1).astype(self.gram.dtype)

    def mv(self, v):
        """$M v = \\lambda v + c\\, G^\\top (G v)$, in the dtype of the gradients."""
        v = self._check(v, "v")
        w = self._scale() * _stack_dot(self.grads, v)
        return jax.tree.map(lambda x, y: self.damping.astype(x.dtype) * x + y, v, _stack_tdot(self.grads, w))

    def solve(self, v):
        """$M^{-1} v$ by Woodbury: $O(dm)$ plus an $O(m^3)$ factor of the $m \\times m$ system."""
        v = self._check(v, "v")
        # the m x m system in at least float32 (no Cholesky in bfloat16), the result in the
        # gradients' dtype: a float64 damping must not promote it
        dtype = self.gram.dtype
        wide = jnp.promote_types(dtype, jnp.float32)
        damping = self.damping.astype(wide)
        inner = self.gram.astype(wide) + (damping / self._scale().astype(wide)) * jnp.eye(self.window, dtype=wide)
        factor = jax.scipy.linalg.cho_factor(inner)
        w = jax.scipy.linalg.cho_solve(factor, _stack_dot(self.grads, v).astype(wide)).astype(dtype)
        return jax.tree.map(lambda x, y: (x - y) / damping.astype(x.dtype), v, _stack_tdot(self.grads, w))
