"""Stochastic diagonal estimation: Hutchinson (Bekas et al.) and XDiag."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import PyTree

from .._checks import checked_int
from .._types import PRNGKey
from ._matvec import flat_matvec
from ._probes import check_sampler, probes
from ._trace import xtrace_terms

METHODS = ("hutchinson", "xdiag")


def _xdiag(mv, key, m, n, dtype, sampler):
    # Average over i of diag(Q_i Q_i^T A) + omega_i * (I - Q_i Q_i^T) A omega_i, where Q_i is
    # the sketch without probe i (Epperly, Tropp & Webber 2024); A symmetric so A^T Q = A Q.
    omega, y, q, s = xtrace_terms(mv, key, m, n, dtype, sampler)
    k = omega.shape[1]
    z = jax.vmap(mv)(q.T).T  # A Q = (Q^T A)^T
    t = z.T @ omega  # Q^T A omega
    qs, zs = q @ s, z @ s
    top = jnp.sum(q * z, axis=1) - jnp.sum(qs * zs, axis=1) / k
    resid = y - q @ t + qs * jnp.sum(s * t, axis=0)
    return top + jnp.sum(omega * resid, axis=1) / k


def diagonal(
    matvec,
    like: PyTree,
    *,
    key: PRNGKey,
    num_matvecs: int,
    method: str = "hutchinson",
    sampler: str = "rademacher",
) -> PyTree:
    r"""Estimate $\operatorname{diag}(A)$ from `num_matvecs` products with $A$.

    - `"hutchinson"`: $\frac1m \sum_i z_i \odot A z_i$; exact for diagonal $A$ with
      Rademacher probes, entry $j$ has variance $\sum_{k \ne j} A_{jk}^2 / m$.
    - `"xdiag"`: exchangeable low-rank-plus-Hutchinson estimator for symmetric $A$ on
      $k = \lfloor m/2 \rfloor$ sketch probes; exact when $\operatorname{rank} A < \lfloor m/2 \rfloor$
      (each leave-one-out sketch has rank $k - 1$). It uses $2k$ products, so for odd $m$ one
      product goes unused.

    **Arguments:**

    - `matvec`: a callable `v -> A v` on pytrees shaped like `like`, or a lineax operator.
    - `like`: a pytree of arrays or `jax.ShapeDtypeStruct`s (`None` for a lineax operator).
    - `key`: a JAX random key.
    - `num_matvecs`: the total number of products with $A$.
    - `method`: `"hutchinson"` or `"xdiag"`.
    - `sampler`: `"rademacher"`, `"gaussian"` or `"sphere"`.

    **Returns:**

    The estimated diagonal, a pytree shaped like `like`.

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.linalg import diagonal

    a = jnp.diag(jnp.arange(5.0))
    diagonal(lambda v: a @ v, jnp.zeros(5), key=jax.random.key(0), num_matvecs=4)
    ```

    References: Bekas, Kokiopoulou & Saad, "An estimator for the diagonal of a matrix",
    Appl. Numer. Math. 57 (2007); Epperly, Tropp & Webber, SIMAX (2024), XDiag.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}")
    check_sampler(sampler)
    minimum = 1 if method == "hutchinson" else 4
    message = f"`num_matvecs` must be an int >= {minimum} for method={method!r}, got {num_matvecs!r}"
    num_matvecs = checked_int(num_matvecs, message, minimum)
    mv = flat_matvec(matvec, like)
    n, dtype = mv.size, mv.dtype
    if method == "hutchinson":
        z = probes(key, num_matvecs, n, dtype, sampler)
        diag = jnp.mean(z * jax.vmap(mv)(z), axis=0)
    else:
        if num_matvecs // 2 > n:
            raise ValueError(f"`num_matvecs` // 2 must be <= the dimension {n} for xdiag, got {num_matvecs}")
        diag = _xdiag(mv, key, num_matvecs, n, dtype, sampler)
    return mv.unravel(diag)
