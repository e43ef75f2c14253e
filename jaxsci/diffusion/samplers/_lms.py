"""Linear multistep (Adams-Bashforth in sigma) on the probability-flow ODE."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..._checks import checked_int
from ..._types import Array
from ._base import AbstractSampler, to_d
from ._history import History


def _order(value) -> int:
    return checked_int(value, f"LMS: order must be a positive integer, got {value!r}.")


def _lagrange_weights(m: int, nodes: Array, a: Array, b: Array) -> Array:
    """$\\int_a^b \\ell_j(\\tau) d\\tau$ for the Lagrange basis on `nodes[:m]`, padded to len(nodes).

    Gauss-Legendre with `m` points is exact for the degree `m - 1` basis polynomials.
    """
    gx, gw = np.polynomial.legendre.leggauss(max(m, 1))
    tau = 0.5 * (b - a) * jnp.asarray(gx, nodes.dtype) + 0.5 * (a + b)
    w = 0.5 * (b - a) * jnp.asarray(gw, nodes.dtype)
    out = []
    for j in range(m):
        basis = jnp.ones_like(tau)
        for k in range(m):
            if k != j:
                basis = basis * (tau - nodes[k]) / (nodes[j] - nodes[k])
        out.append(jnp.sum(w * basis))
    out += [jnp.zeros((), nodes.dtype)] * (nodes.shape[0] - m)
    return jnp.stack(out)


class LMS(AbstractSampler):
    """Linear multistep method of order `order` in $\\sigma$ (k-diffusion's `sample_lms`).

    $x' = x + \\sum_{j<m} c_j d_{i-j}$ where $c_j = \\int_{\\sigma_i}^{\\sigma_{i+1}}\\ell_j$ are
    the integrals of the Lagrange basis on the last $m = \\min(i+1, \\text{order})$ levels,
    computed exactly by Gauss-Legendre quadrature (inside the scan, so `sigmas` may be
    traced). One denoiser call per step; the derivatives live in a `History` in the state.

    **Arguments:**

    - `order`: a static integer $\\ge 1$ (NumPy integers are accepted, bools are not).

    ```python
    from jaxsci import diffusion as jd
    sampler = jd.LMS(order=4)
    ```

    Reference: Karras et al. 2022 / Crowson, k-diffusion; Hairer, Nørsett and Wanner,
    *Solving ODEs I*, III.1.
    """

    order: int = eqx.field(static=True, default=4, converter=_order)

    @property
    def stochastic(self) -> bool:
        return False

    def init(self, x: Array, sigmas: Array):
        # distinct dummy levels keep unused Lagrange rows finite
        levels = sigmas[0] * (2.0 + jnp.arange(self.order, dtype=sigmas.dtype))
        return History.empty(self.order, x), levels, jnp.zeros((), jnp.int32)

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        ds, levels, count = state
        ds = ds.push(to_d(x, sigma, denoiser(x, sigma)))
        levels = jnp.concatenate([sigma[None], levels[:-1]])
        count = jnp.minimum(count + 1, self.order)
        branches = [
            (lambda m: lambda lv: _lagrange_weights(m, lv, sigma, sigma_next))(m)
            for m in range(1, self.order + 1)
        ]
        coeffs = jax.lax.switch(count - 1, branches, levels)  # in the dtype of sigmas
        x = x + sum(coeffs[j] * ds[j] for j in range(self.order))
        return x, (ds, levels, count)
