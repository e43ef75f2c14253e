"""A Gaussian target with its exact noised density, score and denoiser."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..._types import Array, Float, PRNGKey, Scalar


def _check_sigma(sigma):
    try:
        if float(jnp.min(jnp.asarray(sigma))) < 0:
            raise ValueError(f"sigma must be non-negative, got {sigma}.")
    except (TypeError, jax.errors.ConcretizationTypeError):
        pass


class Gaussian(eqx.Module):
    """The law $\\mathcal N(\\mu, C)$ and its noised versions $p_\\sigma = \\mathcal N(\\mu, C +
    \\sigma^2 I)$ in closed form.

    The exact denoiser $D(x, \\sigma) = \\mu + C (C + \\sigma^2 I)^{-1}(x - \\mu)$ is affine in
    $x$, so a deterministic sampler maps Gaussians to Gaussians: the testbed for orders.

    **Arguments:**

    - `mean`: shape `(d,)`; `covariance`: symmetric positive definite, shape `(d, d)`.

    ```python
    import jax.numpy as jnp
    from jaxsci.diffusion.targets import Gaussian
    g = Gaussian(jnp.zeros(2), jnp.eye(2))
    g.denoiser(jnp.ones((1, 2)), 1.0)   # [[0.5, 0.5]]
    ```
    """

    mean: Float[Array, " d"]
    covariance: Float[Array, "d d"]

    def __init__(self, mean, covariance):
        mean, covariance = jnp.asarray(mean), jnp.asarray(covariance)
        if mean.ndim != 1 or covariance.shape != mean.shape * 2:
            raise ValueError(f"mean must be (d,) and covariance (d, d); got {mean.shape} and {covariance.shape}.")
        self.mean, self.covariance = mean, covariance

    def _noised(self, sigma):
        d = self.mean.shape[0]
        return self.covariance + jnp.asarray(sigma, self.covariance.dtype) ** 2 * jnp.eye(d, dtype=self.covariance.dtype)

    def log_prob(self, x: Float[Array, "*batch d"], sigma: Scalar = 0.0) -> Float[Array, " *batch"]:
        """$\\log p_\\sigma(x)$."""
        _check_sigma(sigma)
        chol = jnp.linalg.cholesky(self._noised(sigma))
        diff = (x - self.mean).reshape(-1, self.mean.shape[0])
        z = jax.scipy.linalg.solve_triangular(chol, diff.T, lower=True).T.reshape(x.shape)
        logdet = 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
        d = self.mean.shape[0]
        return -0.5 * (jnp.sum(z**2, -1) + logdet + d * jnp.log(2.0 * jnp.pi))

    def score(self, x: Float[Array, "*batch d"], sigma: Scalar) -> Float[Array, "*batch d"]:
        """$\\nabla_x \\log p_\\sigma(x) = -(C + \\sigma^2 I)^{-1}(x - \\mu)$."""
        _check_sigma(sigma)
        diff = (x - self.mean).reshape(-1, self.mean.shape[0])
        sol = jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(self._noised(sigma)), True), diff.T)
        return -sol.T.reshape(x.shape)

    def denoiser(self, x: Float[Array, "*batch d"], sigma: Scalar) -> Float[Array, "*batch d"]:
        """$E[x_0 \\mid x_0 + \\sigma n = x] = x + \\sigma^2 \\nabla\\log p_\\sigma(x)$ (Tweedie)."""
        return x + jnp.asarray(sigma, x.dtype) ** 2 * self.score(x, sigma)

    def sample(self, key: PRNGKey, n: int) -> Float[Array, "n d"]:
        """`n` exact samples of $p_0$."""
        z = jax.random.normal(key, (n, self.mean.shape[0]), self.mean.dtype)
        return self.mean + z @ jnp.linalg.cholesky(self.covariance).T
