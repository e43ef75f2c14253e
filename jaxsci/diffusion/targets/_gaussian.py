"""A Gaussian target with its exact noised density, score and denoiser."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..._types import Array, Float, PRNGKey, Scalar


def _check_sigma(sigma):
    try:
        if float(jnp.min(jnp.asarray(sigma))) < 0:
            raise ValueError(f"sigma must be non-negative, got {sigma}.")
    except (TypeError, jax.errors.ConcretizationTypeError):
        pass


def _concrete(a) -> np.ndarray | None:
    """`a` as a NumPy array, or `None` when it is traced (checks apply to concrete values only)."""
    try:
        return np.asarray(a)
    except (TypeError, jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def check_covariances(name: str, cov, diagonal: bool = False) -> None:
    """`ValueError` naming `name` unless the (batch of) covariance matrices is finite,
    symmetric and positive semi-definite, or, with `diagonal`, the variances are finite and
    non-negative (when concrete)."""
    c = _concrete(cov)
    if c is None:
        return
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{name} must be finite.")
    if diagonal:
        if np.any(c < 0):
            raise ValueError(f"{name} (diagonal variances) must be non-negative, got min {c.min()}.")
        return
    c = c.astype(np.float64)
    scale = max(float(np.max(np.abs(c))), np.finfo(np.float64).tiny)
    tol = 100 * np.finfo(np.asarray(cov).dtype).eps * scale * c.shape[-1]
    if np.max(np.abs(c - np.swapaxes(c, -1, -2))) > tol:
        raise ValueError(f"{name} must be symmetric.")
    low = float(np.min(np.linalg.eigvalsh(c)))
    if low < -tol:
        raise ValueError(f"{name} must be positive semi-definite, got an eigenvalue {low:.3g}.")


class Gaussian(eqx.Module):
    """The law $\\mathcal N(\\mu, C)$ and its noised versions $p_\\sigma = \\mathcal N(\\mu, C +
    \\sigma^2 I)$ in closed form.

    The exact denoiser $D(x, \\sigma) = \\mu + C (C + \\sigma^2 I)^{-1}(x - \\mu)$ is affine in
    $x$, so a deterministic sampler maps Gaussians to Gaussians: the testbed for orders.

    **Arguments:**

    - `mean`: shape `(d,)`; `covariance`: symmetric positive semi-definite, shape `(d, d)`
      (positive definite for `log_prob` and `score` at `sigma = 0`).

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
        check_covariances("covariance", covariance)
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
