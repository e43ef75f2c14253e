import sys; sys.path.insert(0, "notebooks/src")
from _make import write

write("notebooks/02_gp.ipynb", [
 ("md", """# Spectral-mixture GP on a 2D field with missing data

`jaxsci.gp.GridGP` does exact Gaussian-process inference on grids through Kronecker
structure: the covariance of an $n_1 \\times n_2$ grid is $K_1 \\otimes K_2$, so the
log-likelihood, its gradients, the posterior and exact samples cost
$O(n_1^3 + n_2^3 + N(n_1 + n_2))$ instead of $O(N^3)$.

Here we

1. draw a quasi-periodic field from a known spectral-mixture GP,
2. hide a rectangular block and 20% of the remaining pixels,
3. fit a spectral-mixture GP to the observed pixels (CG + stochastic Lanczos quadrature),
4. look at the posterior mean, exact posterior samples and the posterior uncertainty."""),
 ("code", """import os
import jax, jax.numpy as jnp, optax
import matplotlib.pyplot as plt
jax.config.update("jax_enable_x64", True)   # CG on ill-conditioned GP systems is happier in float64
from jaxsci.gp import GridGP, fit
from jaxsci.gp.kernels import SpectralMixture

TEST = os.environ.get("JAXSCI_NOTEBOOK_TEST") == "1"   # shrink the problem under the test suite
n = 20 if TEST else 64
steps = 12 if TEST else 150
grid = (jnp.linspace(0, 1, n), jnp.linspace(0, 1, n))"""),
 ("md", """## A field with a known answer

Each axis gets a two-component spectral mixture $k(\\tau) = \\sum_q w_q e^{-2\\pi^2\\tau^2 s_q^2}\\cos(2\\pi\\mu_q\\tau)$
(Wilson & Adams, 2013): a smooth trend plus an oscillation at 4 (resp. 3) cycles per unit length."""),
 ("code", """def sm(w, mu, s):
    return SpectralMixture(jnp.array(w), jnp.array(mu), jnp.array(s))

truth = GridGP(grid, (sm([1.0, 0.6], [0.0, 4.0], [0.6, 0.3]), sm([1.0, 0.5], [0.0, 3.0], [0.5, 0.4])), noise=0.01)
k_field, k_noise, k_mask = jax.random.split(jax.random.key(0), 3)
field = truth.sample(k_field)
y = field + 0.1 * jax.random.normal(k_noise, field.shape)

mask = jax.random.uniform(k_mask, field.shape) > 0.2                 # 20% of pixels missing at random
block = (slice(n // 3, n // 3 + n // 4), slice(n // 2, n // 2 + n // 4))
mask = mask.at[block].set(False)                                       # and a whole block
y_obs = jnp.where(mask, y, jnp.nan)
print(f"{int(mask.sum())} of {mask.size} pixels observed")"""),
 ("md", """## Fit the hyperparameters on the observed pixels

With a mask, `log_marginal_likelihood` solves $(K_{oo} + \\sigma^2 I)^{-1} y_o$ by conjugate
gradients preconditioned with the exact inverse of the fully observed covariance, and
estimates the log-determinant by stochastic Lanczos quadrature (a fresh set of probes each
step, so the gradient is an unbiased estimate). `fit` optimises the log of every positive
parameter with optax."""),
 ("code", """start = GridGP(grid, (sm([1.0, 0.3], [0.0, 3.0], [1.0, 0.5]), sm([1.0, 0.3], [0.0, 2.5], [1.0, 0.5])), noise=0.1)
model, history = fit(start, y_obs, optax.adam(0.03), steps, mask=mask, key=jax.random.key(1), num_probes=8)
plt.plot(history["log_marginal_likelihood"]); plt.xlabel("step"); plt.ylabel("log marginal likelihood (SLQ)")
print("fitted means (axis 0):", model.kernels[0].means, " truth:", truth.kernels[0].means)
print("fitted noise:", float(model.noise), " truth: 0.01")"""),
 ("md", """## Posterior mean, exact samples and uncertainty

The posterior mean needs one CG solve. Exact posterior samples use Matheron's rule
$f \\mid y = f + K_{\\cdot o}(K_{oo} + \\sigma^2 I)^{-1}(y_o - f_o - \\sigma\\varepsilon)$ with a prior
draw $f$ from the Kronecker eigenbasis; their spread is the posterior uncertainty, largest in
the hidden block."""),
 ("code", """mean, _ = model.posterior(y_obs, mask, variance=False)
samples = model.sample(jax.random.key(2), y_obs, mask, num_samples=8 if TEST else 32)
std = jnp.std(samples, axis=0)
fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
for ax, (title, img) in zip(axes, [("truth", field), ("observed", y_obs), ("posterior mean", mean), ("posterior std (samples)", std)]):
    im = ax.imshow(img.T, origin="lower", cmap="viridis"); ax.set_title(title); fig.colorbar(im, ax=ax, shrink=0.8)
rel = float(jnp.sqrt(jnp.mean((mean - field) ** 2) / jnp.mean(field ** 2)))
print(f"relative RMSE of the posterior mean: {rel:.3f}")
assert rel < 0.35"""),
 ("md", """## Exact variance along a transect through the gap

`posterior(..., points=...)` gives the exact mean and variance at arbitrary locations (with a
mask, one preconditioned CG solve per location), and `derivative=` gives them for derivatives of
the field."""),
 ("code", """t = jnp.linspace(0, 1, 60 if not TEST else 20)
row = float(grid[0][n // 3 + n // 8])
points = jnp.stack([jnp.full_like(t, row), t], axis=1)
m_line, v_line = model.posterior(y_obs, mask, points=points)
sd = jnp.sqrt(v_line)
plt.figure(figsize=(8, 3))
plt.fill_between(t, m_line - 2 * sd, m_line + 2 * sd, alpha=0.3, label="posterior ±2 sd")
plt.plot(t, m_line, label="posterior mean")
i = n // 3 + n // 8
plt.plot(grid[1], field[i], "k--", label="truth (grid row)")
plt.axvspan(float(grid[1][n // 2]), float(grid[1][n // 2 + n // 4 - 1]), color="grey", alpha=0.2, label="hidden block")
plt.legend(); plt.xlabel("x_2")
assert bool(jnp.all(v_line >= 0))"""),
])
