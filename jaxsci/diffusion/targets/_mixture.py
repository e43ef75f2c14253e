"""A Gaussian mixture target with its exact noised density, score and denoiser."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..._types import Array, Float, PRNGKey, Scalar
from ._gaussian import Gaussian, _check_sigma, _concrete, check_covariances


_SAMPLES_MINOR_MAX_D = 32
"""Diagonal mixtures up to this dimension compute their score with the samples along the
minor axis (see `GaussianMixture._diagonal_score_samples_minor`)."""

_STACKED_PRODUCT_MAX_D = 4
"""Up to this dimension the samples-minor score forms its Mahalanobis terms with one product
on the stacked `[x * x; x]`; above it, with two products."""


def _unnormalised_softmax(logits, axis, *, unfused_max=False):
    """`exp(logits - max)` along `axis`, with the terms below exp(-80) flushed to zero.

    Far from a component its responsibility underflows; left as they are, those terms are
    subnormal numbers, and products with subnormals are slow on x86 CPUs: the mixture
    denoiser at sigma = 80 on samples of p_80 ran 2.5x slower. exp(-80) is below float32 and
    float64 resolution relative to the largest term (which is 1), so no result changes.

    With `unfused_max` the max is read from `where(isnan(l), nan, l)`, which is `l` itself
    (same values, same NaN propagation): written as `max(l)` after a matrix product, XLA's
    CPU backend fused the reduction into the product, and the mixture's samples-minor score
    ran 1.1-1.4x slower.
    """
    for_max = jnp.where(jnp.isnan(logits), jnp.nan, logits) if unfused_max else logits
    z = logits - jax.lax.stop_gradient(jnp.max(for_max, axis=axis, keepdims=True))
    return jnp.where(z > -80.0, jnp.exp(z), 0.0)


def _softmax(logits, axis):
    """`jax.nn.softmax` with the terms below exp(-80) flushed to zero (`_unnormalised_softmax`)."""
    e = _unnormalised_softmax(logits, axis)
    return e / jnp.sum(e, axis=axis, keepdims=True)


class GaussianMixture(eqx.Module):
    """$p_0 = \\sum_k w_k \\mathcal N(\\mu_k, C_k)$; every noised law $p_\\sigma = \\sum_k w_k
    \\mathcal N(\\mu_k, C_k + \\sigma^2 I)$ is again a mixture, so its log density, score and
    the exact (Bayes-optimal) denoiser $D(x,\\sigma) = x + \\sigma^2\\nabla\\log p_\\sigma(x)$
    are available at every noise level.

    **Arguments:**

    - `weights`: shape `(K,)`, non-negative and not all zero (normalised here).
    - `means`: shape `(K, d)`.
    - `covariances`: full `(K, d, d)` or diagonal `(K, d)` (variances; cheap in high `d`).

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.diffusion.targets import GaussianMixture
    gmm = GaussianMixture(jnp.array([0.3, 0.7]), jnp.array([[-2.0, 0.0], [2.0, 0.0]]),
                          0.25 * jnp.ones((2, 2)))
    x0 = gmm.sample(jax.random.key(0), 100)
    lp = gmm.log_prob(x0, sigma=0.5)
    ```

    Reference: the analytic testbed of Karras et al. 2022, Sec. 3 (ideal denoisers).
    """

    weights: Float[Array, " K"]
    means: Float[Array, "K d"]
    covariances: Float[Array, "K d d"] | Float[Array, "K d"]
    diagonal: bool = eqx.field(static=True)

    def __init__(self, weights, means, covariances):
        weights, means, covs = jnp.asarray(weights), jnp.asarray(means), jnp.asarray(covariances)
        if weights.ndim != 1 or means.ndim != 2 or means.shape[0] != weights.shape[0]:
            raise ValueError(f"weights must be (K,) and means (K, d); got {weights.shape} and {means.shape}.")
        if covs.shape == means.shape:
            self.diagonal = True
        elif covs.shape == means.shape + means.shape[-1:]:
            self.diagonal = False
        else:
            raise ValueError(f"covariances must be (K, d, d) or (K, d) with means {means.shape}; got {covs.shape}.")
        check_covariances("covariances", covs, self.diagonal)
        w = _concrete(weights)
        if w is not None and not (np.all(np.isfinite(w)) and np.all(w >= 0) and np.sum(w) > 0):
            raise ValueError(f"weights must be finite, non-negative and not all zero, got {w}.")
        self.weights, self.means, self.covariances = weights / jnp.sum(weights), means, covs

    def _log_terms(self, x, sigma, expanded=False):
        """Per-component log densities `(..., K)` at level sigma, the precisions (`(K, d)`
        reciprocal variances, or `(K, d, d)`), and (full covariances only; `None` for diagonal
        ones) the products `prec @ (x - mu_k)`, `(..., K, d)`.

        `expanded` (diagonal covariances): the Mahalanobis terms as matrix products about the
        centre of the means (fast, for the score), not from the `(..., K, d)` differences."""
        _check_sigma(sigma)
        s2 = jnp.asarray(sigma, self.means.dtype) ** 2
        d = self.means.shape[-1]
        if self.diagonal and expanded:
            centre, prec, prec_mu, const = self._diagonal_terms(sigma)
            # sum_d P_kd (y_d - m_kd)^2 = y^2 @ P^T - 2 y @ (P m)^T + sum_d P_kd m_kd^2 with
            # y = x - c, m = mu - c: two (..., d) x (d, K) products instead of a (..., K, d)
            # array (2.1-2.4x faster per call on the CPU). About the centre c of the means the
            # three terms stay comparable with their sum where the score needs it (without it,
            # float32 log densities near means at distance 10 lost 2 digits to cancellation).
            # HIGHEST precision: no TF32 on GPUs.
            hi = jax.lax.Precision.HIGHEST
            y = x - centre
            quad = jnp.matmul(y * y, prec.T, precision=hi) - 2.0 * jnp.matmul(y, prec_mu.T, precision=hi) + const
            prec_diff = None
        elif self.diagonal:
            var = self.covariances + s2
            prec = 1.0 / var
            quad = jnp.sum((x[..., None, :] - self.means) ** 2 * prec, -1) + jnp.sum(jnp.log(var), -1)
            prec_diff = None
        else:
            diff = x[..., None, :] - self.means
            cov = self.covariances + s2 * jnp.eye(d, dtype=self.means.dtype)
            chol = jnp.linalg.cholesky(cov)
            prec = jax.vmap(lambda c: jax.scipy.linalg.cho_solve((c, True), jnp.eye(d, dtype=c.dtype)))(chol)
            prec_diff = jnp.einsum("kde,...ke->...kd", prec, diff)
            logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)
            quad = jnp.sum(diff * prec_diff, -1) + logdet
        logp = -0.5 * (quad + d * jnp.log(2.0 * jnp.pi)) + jnp.log(self.weights)
        return logp, prec, prec_diff

    def _diagonal_terms(self, sigma):
        """Diagonal covariances at level sigma, about the centre $c$ of the means (`(d,)`,
        returned first): the precisions $P_k = 1/(C_k + \\sigma^2)$, the products
        $P_k m_k$ with $m_k = \\mu_k - c$ (both `(K, d)`), and the per-component constants
        $\\sum_d P_{kd} m_{kd}^2 + \\log\\det(C_k + \\sigma^2 I)$ of the Mahalanobis
        terms plus log-determinants, `(K,)`."""
        var = self.covariances + jnp.asarray(sigma, self.means.dtype) ** 2
        prec = 1.0 / var
        centre = 0.5 * (jnp.max(self.means, 0) + jnp.min(self.means, 0))
        m = self.means - centre
        prec_mu = prec * m
        return centre, prec, prec_mu, jnp.sum(prec_mu * m, -1) + jnp.sum(jnp.log(var), -1)

    def log_prob(self, x: Float[Array, "*batch d"], sigma: Scalar = 0.0) -> Float[Array, " *batch"]:
        """$\\log p_\\sigma(x)$."""
        return jax.nn.logsumexp(self._log_terms(x, sigma)[0], axis=-1)

    def responsibilities(self, x: Float[Array, "*batch d"], sigma: Scalar = 0.0) -> Float[Array, "*batch K"]:
        """Posterior component probabilities $P(k \\mid x)$ under $p_\\sigma$."""
        return jax.nn.softmax(self._log_terms(x, sigma)[0], axis=-1)

    def score(self, x: Float[Array, "*batch d"], sigma: Scalar) -> Float[Array, "*batch d"]:
        """$\\nabla_x\\log p_\\sigma(x) = \\sum_k P(k\\mid x)\\, \\nabla \\log \\mathcal N_k$."""
        if self.diagonal and x.shape[-1] <= _SAMPLES_MINOR_MAX_D:
            return self._diagonal_score_samples_minor(x, sigma)
        logp, prec, prec_diff = self._log_terms(x, sigma, expanded=True)
        r = _softmax(logp, axis=-1)
        if self.diagonal:
            # sum_k r_k P_k (mu_k - x) = r @ (P mu) - x * (r @ P), with P_k = 1 / (C_k + s^2):
            # one (..., K) x (K, 2d) product instead of a weighted sum over a (..., K, d) array.
            d = x.shape[-1]
            m = jnp.matmul(r, jnp.concatenate([prec * self.means, prec], axis=-1), precision=jax.lax.Precision.HIGHEST)
            return m[..., :d] - x * m[..., d:]
        return -jnp.sum(r[..., None] * prec_diff, axis=-2)

    def _diagonal_score_samples_minor(self, x, sigma):
        """The diagonal score with the samples along the minor axis: `(d, n)` and `(K, n)`
        arrays. In the `(n, d)` / `(n, K)` layout a small `d` and `K` leave the vector lanes
        mostly empty; at d = 2, K = 8 this layout is 2.1x faster per call on the CPU, at
        d = 32 still 1.15x, and at d = 64, K = 16 1.15x slower (the two transposes). Reading
        x back in its own layout instead would let a sampler's update overwrite x in place
        (no copy of x a step), but the `(n, 2d)` product it needs made the call 1.5x slower at
        d = 2 against a copy of x that costs about 1% of it.

        Three more choices, each measured on one CPU core (d = 2, K = 8, n = 100000 unless
        said): together 1.6x (d = 8) to 2.2-2.5x (d = 2) faster per call than the plain form.

        - Up to d = 4 the Mahalanobis terms are one `(K, 2d) x (2d, n)` product on the stacked
          `[x * x; x]`; a contraction over d = 2 uses the matrix unit poorly. From d = 8 the
          two separate products are faster.
        - The softmax is not normalised before the product that weights the components: a
          row of ones in that product gives the normaliser, so the `(K, n)` weights are
          written once.
        - The max of the logits is kept out of the matrix product's fusion
          (`_unnormalised_softmax(..., unfused_max=True)`); fused, the call ran 1.1-1.4x
          slower.
        """
        _check_sigma(sigma)
        d = x.shape[-1]
        centre, prec, prec_mu, const = self._diagonal_terms(sigma)
        xt = (x - centre).reshape(-1, d).T
        hi = jax.lax.Precision.HIGHEST
        # the terms of `_log_terms`, transposed; the constant d log(2 pi) cancels in softmax
        if d <= _STACKED_PRODUCT_MAX_D:
            stacked = jnp.concatenate([xt * xt, xt], axis=0)
            quad = jnp.matmul(jnp.concatenate([prec, -2.0 * prec_mu], axis=-1), stacked, precision=hi)
        else:
            quad = jnp.matmul(prec, xt * xt, precision=hi) - 2.0 * jnp.matmul(prec_mu, xt, precision=hi)
        logits = -0.5 * (quad + const[:, None]) + jnp.log(self.weights)[:, None]
        e = _unnormalised_softmax(logits, axis=0, unfused_max=True)
        ones = jnp.ones_like(prec[:, :1])
        m = jnp.matmul(jnp.concatenate([prec_mu, prec, ones], axis=-1).T, e, precision=hi)
        return ((m[:d] - xt * m[d : 2 * d]) / m[2 * d]).T.reshape(x.shape)

    def denoiser(self, x: Float[Array, "*batch d"], sigma: Scalar) -> Float[Array, "*batch d"]:
        """The exact denoiser $E[x_0 \\mid x]$ via Tweedie's formula."""
        return x + jnp.asarray(sigma, x.dtype) ** 2 * self.score(x, sigma)

    def component(self, k: int) -> Gaussian:
        """Component `k` as a `jaxsci.diffusion.targets.Gaussian` (e.g. a conditional model)."""
        cov = self.covariances[k]
        return Gaussian(self.means[k], jnp.diag(cov) if self.diagonal else cov)

    def sample(self, key: PRNGKey, n: int) -> Float[Array, "n d"]:
        """`n` exact samples of $p_0$."""
        kc, kz = jax.random.split(key)
        comp = jax.random.choice(kc, self.weights.shape[0], (n,), p=self.weights)
        z = jax.random.normal(kz, (n, self.means.shape[1]), self.means.dtype)
        if self.diagonal:
            return self.means[comp] + jnp.sqrt(self.covariances[comp]) * z
        chol = jnp.linalg.cholesky(self.covariances)
        return self.means[comp] + jnp.einsum("nde,ne->nd", chol[comp], z)
