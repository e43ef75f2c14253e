"""Tour section for `jaxsci.gp`: exact grid-GP regression checked against known answers."""

from __future__ import annotations

from pathlib import Path

from ._core import Demo, DemoResult
from ._plot import figure, save


def _fit_field(out: Path, quick: bool) -> DemoResult:
    """Fit a GP to a noisy 2D field drawn from a known GP; compare the posterior mean to the truth."""
    import jax
    import jax.numpy as jnp
    import optax

    from jaxsci.gp import GridGP, fit
    from jaxsci.gp.kernels import Matern52, SquaredExponential

    n1, n2 = (40, 32) if quick else (96, 80)
    grid = (jnp.linspace(0, 1, n1), jnp.linspace(0, 1.2, n2))
    truth = GridGP(grid, (SquaredExponential(0.12), Matern52(0.2)), noise=0.01)
    k_field, k_noise = jax.random.split(jax.random.key(0))
    field = truth.sample(k_field)
    y = field + 0.1 * jax.random.normal(k_noise, field.shape)
    start = GridGP(grid, (SquaredExponential(0.3), Matern52(0.3)), noise=0.2)
    model, history = fit(start, y, optax.adam(0.05), 80 if quick else 200)
    mean, var = jax.jit(lambda m: m.posterior(y))(model)
    rel = float(jnp.sqrt(jnp.mean((mean - field) ** 2) / jnp.mean(field**2)))
    coverage = float(jnp.mean(jnp.abs(mean - field) <= 2 * jnp.sqrt(var)))

    fig, axes = figure(1, 4, figsize=(14, 3.4))
    panels = (("truth", field), ("noisy data", y), ("posterior mean", mean), ("posterior std", jnp.sqrt(var)))
    for ax, (title, img) in zip(axes, panels):
        im = ax.imshow(img.T, origin="lower", extent=(0, 1, 0, 1.2), cmap="viridis")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, shrink=0.8)
    plot = save(fig, out, "gp_fit_field.png")
    return DemoResult(
        check="relative RMSE of the posterior mean vs the true field (noise std is 10% of the field)",
        error=rel,
        tolerance=0.1,
        plots=[plot],
        details=dict(
            grid=[n1, n2],
            lml_start=float(history["log_marginal_likelihood"][0]),
            lml_end=float(history["log_marginal_likelihood"][-1]),
            fitted_lengthscales=[float(model.kernels[0].lengthscale), float(model.kernels[1].lengthscale)],
            true_lengthscales=[0.12, 0.2],
            fitted_noise=float(model.noise),
            true_noise=0.01,
            coverage_2sd=coverage,
        ),
    )


def _gradients_vs_dense(out: Path, quick: bool) -> DemoResult:
    """Likelihood gradients on a grid with clustered eigenvalues vs dense Cholesky (float64)."""
    import jax
    import jax.numpy as jnp

    from jaxsci.gp import GridGP
    from jaxsci.gp.kernels import Periodic, SquaredExponential

    with jax.enable_x64(True):
        grid = (jnp.linspace(0, 1, 12), jnp.arange(10) / 10.0)
        y = jax.random.normal(jax.random.key(1), (12, 10))

        def make(theta):  # a long lengthscale and a circulant periodic factor: repeated eigenvalues
            return GridGP(grid, (SquaredExponential(theta[0]), Periodic(theta[1], 1.0)), noise=theta[2])

        def dense(theta):
            model = make(theta)
            x = jnp.stack(jnp.meshgrid(*grid, indexing="ij"), -1).reshape(-1, 2)
            cov = model.kernels[0](x[:, 0], x[:, 0]) * model.kernels[1](x[:, 1], x[:, 1]) + model.noise * jnp.eye(120)
            return jax.scipy.stats.multivariate_normal.logpdf(y.reshape(-1), jnp.zeros(120), cov)

        theta = jnp.array([4.0, 0.7, 0.05])
        fast = jax.jit(jax.grad(lambda t: make(t).log_marginal_likelihood(y)))(theta)
        ref = jax.jit(jax.grad(dense))(theta)
        err = float(jnp.max(jnp.abs(fast - ref) / jnp.abs(ref)))
    return DemoResult(
        check="max relative error of d lml / d(lengthscale, lengthscale, noise) vs dense Cholesky autodiff",
        error=err,
        tolerance=1e-8,
        details=dict(kronecker=[float(g) for g in fast], dense=[float(g) for g in ref]),
    )


def _pde_poisson(out: Path, quick: bool) -> DemoResult:
    """GP-HM: a 2D Poisson problem solved by the exact Kronecker MAP path (float64)."""
    import math

    import jax
    import jax.numpy as jnp

    from jaxsci.gp import PDEProblem, solve_pde
    from jaxsci.gp.kernels import SquaredExponential

    def exact(x):
        return jnp.sin(math.pi * x[..., 0]) * jnp.sin(2 * math.pi * x[..., 1]) + 0.5 * jnp.sin(3 * math.pi * x[..., 0])

    def residual(u, d, x):
        forcing = -5 * math.pi**2 * jnp.sin(math.pi * x[..., 0]) * jnp.sin(2 * math.pi * x[..., 1])
        forcing = forcing - 4.5 * math.pi**2 * jnp.sin(3 * math.pi * x[..., 0])
        return d[(2, 0)] + d[(0, 2)] - forcing

    n = 20 if quick else 32
    with jax.enable_x64(True):
        problem = PDEProblem([(0.0, 1.0), (0.0, 1.0)], [n, n], residual, exact)
        sol = solve_pde(problem, kernel=SquaredExponential(0.2), method="map")
        xt = jnp.linspace(0.0, 1.0, 100)
        u = sol.on_grid(xt, xt)
        ref = exact(jnp.stack(jnp.meshgrid(xt, xt, indexing="ij"), -1))
        rel = float(jnp.linalg.norm(u - ref) / jnp.linalg.norm(ref))
        cg_steps = int(sol.history["cg_steps"][0])
    fig, axes = figure(1, 2, figsize=(9, 3.6))
    for ax, (title, img) in zip(axes, (("GP-HM solution", u), ("error", u - ref))):
        im = ax.imshow(img.T, origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, shrink=0.8)
    plot = save(fig, out, "gp_pde_poisson.png")
    return DemoResult(
        check="relative L2 error vs the analytic solution of a 2D Poisson problem (100^2 test grid)",
        error=rel,
        tolerance=1e-4,
        plots=[plot],
        details=dict(grid=[n, n], method="map (Kronecker CG)", cg_steps=cg_steps),
    )


def _pde_collocation(out: Path, quick: bool) -> DemoResult:
    """GP collocation: a high-frequency 1D Poisson problem, kernel spectrum learned by marginal likelihood."""
    import math

    import jax
    import jax.numpy as jnp

    from jaxsci.gp import PDEProblem, solve_pde

    w, n, q = (10.0, 60, 6) if quick else (40.0, 200, 12)

    def exact(x):
        return jnp.sin(w * x[..., 0])

    with jax.enable_x64(True):
        problem = PDEProblem([(0.0, 2 * math.pi)], [n], lambda u, d, x: d[(2,)] + w**2 * exact(x), exact)
        sol = solve_pde(problem, method="collocation", num_components=q, max_frequency=1.5 * w / (2 * math.pi))
        xt = jnp.linspace(0.0, 2 * math.pi, 1000)
        u, ref = sol.on_grid(xt), exact(xt[:, None])
        rel = float(jnp.linalg.norm(u - ref) / jnp.linalg.norm(ref))
        k = sol.kernels[0]
        freqs, weights = jnp.abs(k.frequencies), k.weights
        top = float(freqs[jnp.argmax(weights)])
    fig, axes = figure(1, 2, figsize=(10, 3.4))
    axes[0].plot(xt, u, label="GP collocation")
    axes[0].plot(xt, ref, "--", label="exact")
    axes[0].set_xlim(0, 2 * math.pi * 8 / w)
    axes[0].legend()
    axes[0].set_title(f"u = sin({w:g}x), {n} grid points (zoom)")
    axes[1].stem(freqs, weights)
    axes[1].axvline(w / (2 * math.pi), color="r", ls=":", label="true frequency")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("frequency (cycles / unit)")
    axes[1].legend()
    axes[1].set_title("learned Matern-cosine mixture weights")
    plot = save(fig, out, "gp_pde_collocation.png")
    return DemoResult(
        check=f"relative L2 error of u'' = f, u = sin({w:g}x) on [0, 2pi], kernel learned from f and g only",
        error=rel,
        tolerance=1e-5,
        plots=[plot],
        details=dict(grid=n, components=q, ml_steps=50, top_frequency=top),
    )


DEMOS = [
    Demo("grid GP fit of a 2D field", _fit_field),
    Demo("exact gradients with clustered eigenvalues", _gradients_vs_dense),
    Demo("GP-HM PDE solve (2D Poisson, MAP)", _pde_poisson),
    Demo("GP collocation PDE solve (high-frequency 1D Poisson)", _pde_collocation),
]
