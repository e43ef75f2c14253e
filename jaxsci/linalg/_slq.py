"""Stochastic Lanczos quadrature: tr f(A) and spectral densities."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._checks import checked_int
from .._types import PRNGKey
from ._lanczos import check_steps, lanczos_flat, tridiagonal_eigh
from ._matvec import flat_matvec
from ._probes import probes


def _gauss_rule(alphas, betas):
    """Nodes and weights of the Gauss rule of a Lanczos run that may have broken down.

    Without restarts, the steps after a breakdown ($\\beta_j = 0$: the Krylov space is
    invariant, e.g. more steps than distinct eigenvalues) hold zero vectors, so $T$ is
    block diagonal with a zero block: its Ritz values 0 have zero weight but lie outside the
    spectrum (log 0 = -inf, and 0 * -inf = NaN in `slq`), and they are equal, which makes the
    gradient of `eigh` NaN (its derivative divides by eigenvalue gaps). Those diagonal entries
    are replaced by distinct constants just above $\\alpha_1$, the Rayleigh quotient of the
    probe, which lies inside the spectrum's hull: the weights stay exactly zero (the block
    is decoupled), and the live block's nodes and weights are unchanged.
    """
    dead = jnp.concatenate([jnp.zeros(1, bool), jnp.cumsum(betas == 0) > 0])
    k, dtype = alphas.shape[0], alphas.dtype
    info = jnp.finfo(dtype)
    spread = jnp.sqrt(info.eps) * jnp.maximum(jnp.max(jnp.abs(alphas)), info.tiny / info.eps)
    filler = jax.lax.stop_gradient(alphas[0] + spread * jnp.arange(1, k + 1, dtype=dtype))
    theta, u = tridiagonal_eigh(jnp.where(dead, filler, alphas), betas)
    return theta, u[0] ** 2


def _quadrature(matvec, like, key, num_probes, num_steps, sampler):
    mv = flat_matvec(matvec, like)
    num_steps = check_steps(num_steps, mv.size)
    num_probes = checked_int(num_probes, f"`num_probes` must be a positive int, got {num_probes!r}")
    z = probes(key, num_probes, mv.size, mv.dtype, sampler)

    def one(v0):
        alphas, betas, _ = lanczos_flat(mv, v0, num_steps, restart=False)
        return _gauss_rule(alphas, betas)

    nodes, weights = jax.vmap(one)(z)
    return nodes, weights, jnp.sum(z**2, axis=1)


def slq_quadrature(
    matvec,
    like: PyTree,
    *,
    key: PRNGKey,
    num_probes: int,
    num_steps: int,
    sampler: str = "rademacher",
) -> tuple[Float[Array, "p k"], Float[Array, "p k"]]:
    r"""Gauss quadrature nodes and weights of the spectral density of a symmetric $A$.

    For each probe $z_p$, `num_steps` Lanczos steps give $T = U \Theta U^\top$; the nodes are
    $\theta_{p,k}$ and the weights $U_{1k}^2$ (summing to one), so
    $z^\top f(A) z / \|z\|^2 \approx \sum_k U_{1k}^2 f(\theta_k)$, exactly for polynomials
    of degree $\le 2k - 1$. The spectral density estimate is
    $\frac1P \sum_{p,k} w_{p,k} \delta(\lambda - \theta_{p,k})$.

    **Arguments:**

    - `matvec`: a callable `v -> A v` on pytrees shaped like `like`, or a lineax operator.
    - `like`: a pytree of arrays or `jax.ShapeDtypeStruct`s (`None` for a lineax operator).
    - `key`: a JAX random key for the probes.
    - `num_probes`: number of probe vectors $P$.
    - `num_steps`: Lanczos steps per probe ($\le n$).
    - `sampler`: probe distribution (`"rademacher"`, `"gaussian"`, `"sphere"`).

    **Returns:**

    `(nodes, weights)`, both of shape `(num_probes, num_steps)`.

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.linalg import slq_quadrature

    a = jnp.diag(jnp.linspace(0.0, 1.0, 50))
    nodes, weights = slq_quadrature(lambda v: a @ v, jnp.zeros(50), key=jax.random.key(0),
                                    num_probes=4, num_steps=10)
    ```

    Reference: Golub & Meurant, *Matrices, Moments and Quadrature* (2010); Lin, Saad & Yang,
    "Approximating spectral densities of large matrices", SIAM Review 58 (2016).
    """
    nodes, weights, _ = _quadrature(matvec, like, key, num_probes, num_steps, sampler)
    return nodes, weights


def slq(
    matvec,
    like: PyTree,
    fn: Callable[[Array], Array],
    *,
    key: PRNGKey,
    num_probes: int,
    num_steps: int,
    sampler: str = "rademacher",
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    r"""Estimate $\operatorname{tr} f(A)$ by stochastic Lanczos quadrature.

    $\operatorname{tr} f(A) \approx \frac1P \sum_p \|z_p\|^2 \sum_k w_{p,k} f(\theta_{p,k})$
    with the nodes and weights of `slq_quadrature`. For example `fn=jnp.log` estimates
    $\log\det A$ of a positive definite $A$.

    **Arguments:**

    - `matvec`, `like`, `key`, `num_probes`, `num_steps`, `sampler`: as in `slq_quadrature`.
    - `fn`: an elementwise function applied to the Ritz values (e.g. `jnp.log`).

    **Returns:**

    `(estimate, standard_error)` over the probes (the error is `nan` for one probe).

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.linalg import slq

    a = jnp.diag(jnp.linspace(1.0, 2.0, 50))
    logdet, err = slq(lambda v: a @ v, jnp.zeros(50), jnp.log, key=jax.random.key(0),
                      num_probes=8, num_steps=10)
    ```

    Reference: Ubaru, Chen & Saad, "Fast estimation of tr(f(A)) via stochastic Lanczos
    quadrature", SIMAX 38 (2017).
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {type(fn).__name__}")
    nodes, weights, norms = _quadrature(matvec, like, key, num_probes, num_steps, sampler)
    samples = norms * jnp.sum(weights * fn(nodes), axis=1)
    stderr = jnp.std(samples, ddof=1) / jnp.sqrt(num_probes) if num_probes > 1 else jnp.nan
    return jnp.mean(samples), jnp.asarray(stderr, samples.dtype)
