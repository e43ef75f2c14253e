"""Stochastic trace estimation: Hutchinson, Hutch++ and XTrace at a fixed matvec budget."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._checks import checked_int
from .._types import PRNGKey
from ._matvec import flat_matvec
from ._probes import check_sampler, probes

METHODS = ("hutchinson", "hutch++", "xtrace")
_MIN_MATVECS = {"hutchinson": 2, "hutch++": 4, "xtrace": 4}  # >= 2 terms for a std error


def _hutchinson(mv, z):
    samples = jnp.sum(z * jax.vmap(mv)(z), axis=1)
    return samples


def _hutchpp(mv, key, m, n, dtype, sampler):
    # Meyer, Musco, Musco & Woodruff (2021): a third of the budget sketches the range,
    # a third projects A onto it exactly, the rest runs Hutchinson on the deflated rest.
    k = m // 3
    key_s, key_g = jax.random.split(key)
    s = probes(key_s, k, n, dtype, sampler)
    q, _ = jnp.linalg.qr(jax.vmap(mv)(s).T)  # (n, k)
    top = jnp.trace(q.T @ jax.vmap(mv)(q.T).T)
    g = probes(key_g, m - 2 * k, n, dtype, sampler)
    g = g - (g @ q) @ q.T
    return top + _hutchinson(mv, g)


def xtrace_terms(mv, key, m, n, dtype, sampler):
    """The leave-one-out pieces shared by XTrace and XDiag (Epperly, Tropp & Webber 2024)."""
    k = m // 2
    omega = probes(key, k, n, dtype, sampler).T  # (n, k)
    y = jax.vmap(mv)(omega.T).T
    q, r = jnp.linalg.qr(y)
    # Column i of R^{-T} is orthogonal to every column of R except the i-th: normalised, it
    # is the direction that dropping probe i removes from the sketch's range.
    s = jax.scipy.linalg.solve_triangular(r, jnp.eye(k, dtype=r.dtype), trans="T", lower=False)
    s = s / jnp.linalg.norm(s, axis=0, keepdims=True)
    return omega, y, q, s


def _xtrace(mv, key, m, n, dtype, sampler):
    omega, y, q, s = xtrace_terms(mv, key, m, n, dtype, sampler)
    z = jax.vmap(mv)(q.T).T  # A Q
    h = q.T @ z
    w = q.T @ omega
    # Projector onto the sketch without probe i: Q (I - s_i s_i^T) Q^T.
    c = w - s * jnp.sum(s * w, axis=0)
    resid = omega - q @ c  # (I - P_i) omega_i
    a_resid = y - z @ c  # A (I - P_i) omega_i
    return jnp.trace(h) - jnp.sum(s * (h @ s), axis=0) + jnp.sum(resid * a_resid, axis=0)


def trace(
    matvec,
    like: PyTree,
    *,
    key: PRNGKey,
    num_matvecs: int,
    method: str = "hutchinson",
    sampler: str = "rademacher",
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    r"""Estimate $\operatorname{tr}(A)$ from `num_matvecs` products with $A$.

    - `"hutchinson"`: $\frac1m \sum_i z_i^\top A z_i$. For Rademacher probes the variance
      is $2(\|A\|_F^2 - \sum_i A_{ii}^2)/m$, for Gaussian probes $2\|A\|_F^2/m$ (symmetric $A$).
    - `"hutch++"`: sketch the top of the spectrum with $m/3$ products, take its trace
      exactly ($m/3$ more), and Hutchinson on the deflated remainder; error $O(1/m)$ for
      quickly decaying spectra, exact when $\operatorname{rank} A \le m/3$.
    - `"xtrace"`: the exchangeable leave-one-out estimator (symmetric $A$) on $k = \lfloor m/2 \rfloor$
      sketch probes; exact when $\operatorname{rank} A < \lfloor m/2 \rfloor$ (each leave-one-out
      sketch has rank $k - 1$). It uses $2k$ products, so for odd $m$ one product goes unused.

    **Arguments:**

    - `matvec`: a callable `v -> A v` on pytrees shaped like `like`, or a lineax operator.
    - `like`: a pytree of arrays or `jax.ShapeDtypeStruct`s (the vectors $A$ acts on);
        may be `None` for a lineax operator.
    - `key`: a JAX random key.
    - `num_matvecs`: the total number of products with $A$ (a Python int).
    - `method`: `"hutchinson"`, `"hutch++"` or `"xtrace"`.
    - `sampler`: `"rademacher"`, `"gaussian"` or `"sphere"` (norm $\sqrt n$).

    **Returns:**

    `(estimate, standard_error)`: the standard error is the sample standard deviation of
    the per-probe terms over $\sqrt{\#\text{probes}}$.

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.linalg import trace

    a = jnp.diag(jnp.arange(1.0, 101.0))
    est, err = trace(lambda v: a @ v, jnp.zeros(100), key=jax.random.key(0),
                     num_matvecs=30, method="hutch++")
    ```

    References: Hutchinson (1990), Commun. Stat. Simul. Comput. 19(2); Meyer et al.,
    "Hutch++: optimal stochastic trace estimation", SOSA (2021); Epperly, Tropp & Webber,
    "XTrace: making the most of every sample in stochastic trace estimation", SIMAX (2024).
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}")
    check_sampler(sampler)
    message = f"`num_matvecs` must be an int >= {_MIN_MATVECS[method]} for method={method!r}, got {num_matvecs!r}"
    num_matvecs = checked_int(num_matvecs, message, _MIN_MATVECS[method])
    mv = flat_matvec(matvec, like)
    n, dtype = mv.size, mv.dtype
    if method == "hutchinson":
        samples = _hutchinson(mv, probes(key, num_matvecs, n, dtype, sampler))
    elif method == "hutch++":
        samples = _hutchpp(mv, key, num_matvecs, n, dtype, sampler)
    else:
        if num_matvecs // 2 > n:
            raise ValueError(f"`num_matvecs` // 2 must be <= the dimension {n} for xtrace, got {num_matvecs}")
        samples = _xtrace(mv, key, num_matvecs, n, dtype, sampler)
    estimate = jnp.mean(samples)
    stderr = jnp.std(samples, ddof=1) / jnp.sqrt(samples.shape[0])
    return estimate, stderr
