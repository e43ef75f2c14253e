"""`jaxsci tour` section for `jaxsci.diffusion`: samplers checked on exact targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._core import Demo, DemoResult
from ._plot import figure, save

SIGMA_MAX = 80.0


def _gaussian_kl(target, sampler, n):
    """Exact KL of a deterministic sampler's output law (an affine map of a Gaussian)."""
    import jax.numpy as jnp

    from jaxsci import diffusion as jd

    sigmas = jd.karras_sigmas(n, 0.002, SIGMA_MAX)
    inputs = jnp.concatenate([jnp.zeros((1, 2)), jnp.eye(2)])
    y = np.asarray(jd.sample(target.denoiser, inputs, sigmas, sampler=sampler), np.float64)
    b, a = y[0], (y[1:] - y[0]).T
    m0, s0 = np.asarray(target.mean, np.float64), np.asarray(target.covariance, np.float64)
    m1, s1 = a @ m0 + b, a @ (s0 + SIGMA_MAX**2 * np.eye(2)) @ a.T
    s0i = np.linalg.inv(s0)
    logdet = np.linalg.slogdet(s0)[1] - np.linalg.slogdet(s1)[1]
    return 0.5 * (np.trace(s0i @ s1) + (m0 - m1) @ s0i @ (m0 - m1) - 2 + logdet)


def _mixture():
    import jax.numpy as jnp

    from jaxsci import diffusion as jd

    return jd.targets.GaussianMixture(
        jnp.array([0.2, 0.3, 0.5]),
        jnp.array([[-3.0, 0.0], [2.0, 2.0], [2.0, -2.0]]),
        jnp.array([[0.3, 0.3], [0.5, 0.2], [0.2, 0.4]]),
    )


def _orders(out: Path, quick: bool) -> DemoResult:
    import jax.numpy as jnp

    from jaxsci import diffusion as jd

    target = jd.targets.Gaussian(jnp.array([1.0, -0.5]), jnp.array([[1.0, 0.3], [0.3, 0.5]]))
    steps = (16, 32) if quick else (8, 16, 32, 64)
    samplers = {"Heun (EDM)": jd.Heun()}
    if not quick:
        samplers.update({"Euler": jd.Euler(), "DPM++ 2M": jd.DPMpp2M()})
    kls = {name: [_gaussian_kl(target, s, n) for n in steps] for name, s in samplers.items()}
    fig, ax = figure(figsize=(5, 3.6))
    for name, values in kls.items():
        ax.loglog(steps, values, "o-", label=name)
    ax.set(xlabel="steps", ylabel="KL(output || target)", title="exact output law on a Gaussian")
    ax.legend()
    slope = float(np.polyfit(np.log(steps), np.log(kls["Heun (EDM)"]), 1)[0])
    return DemoResult(
        check="Heun KL slope vs -4 (2nd order), exact Gaussian output law",
        error=abs(slope + 4.0),
        tolerance=0.8,
        plots=[save(fig, out, "diffusion_orders.png")],
        details={"steps": list(steps), "kl": {k: [float(v) for v in vals] for k, vals in kls.items()}},
    )


def _mixture_demo(out: Path, quick: bool) -> DemoResult:
    import jax

    from jaxsci import diffusion as jd

    target = _mixture()
    n = 2000 if quick else 10000
    x = SIGMA_MAX * jax.random.normal(jax.random.key(0), (n, 2))
    sigmas = jd.karras_sigmas(20, 0.002, SIGMA_MAX)
    guided = jd.ClassifierFreeGuidance(target.component(0).denoiser, target.denoiser, scale=3.0)
    run = jax.jit(lambda den, x: jd.sample(den, x, sigmas, sampler=jd.DPMpp2M()))
    y, yg = np.asarray(run(target.denoiser, x)), np.asarray(run(guided, x))
    labels = np.argmax(np.asarray(target.responsibilities(y)), 1)
    weights = np.bincount(labels, minlength=3) / n
    guided_frac = float(np.mean(np.argmax(np.asarray(target.responsibilities(yg)), 1) == 0))
    fig, axes = figure(1, 2, figsize=(8, 3.6), sharex=True, sharey=True)
    axes[0].scatter(y[:, 0], y[:, 1], s=1, alpha=0.4)
    axes[0].set_title("DPM++ 2M, 20 steps")
    axes[1].scatter(yg[:, 0], yg[:, 1], s=1, alpha=0.4, color="C1")
    axes[1].set_title("CFG towards component 0 (w = 3)")
    err = float(np.abs(weights - np.asarray(target.weights)).max())
    return DemoResult(
        check="mixture weights vs exact; CFG mass on guided component",
        error=max(err, 1.0 - guided_frac - 0.03),
        tolerance=0.04,
        plots=[save(fig, out, "diffusion_mixture.png")],
        details={"weights": weights.tolist(), "guided_fraction": guided_frac},
    )


def _likelihood(out: Path, quick: bool) -> DemoResult:
    import jax

    from jaxsci import diffusion as jd

    target = _mixture()
    x = target.sample(jax.random.key(1), 16 if quick else 64)
    ll = jd.log_likelihood(
        target.denoiser,
        x,
        sigma_min=0.01,
        sigma_max=20.0,
        prior_log_prob=lambda z: target.log_prob(z, 20.0),
        rtol=1e-5,
        atol=1e-5,
    )
    exact = target.log_prob(x, 0.01)
    err = float(np.max(np.abs(np.asarray(ll) - np.asarray(exact))))
    fig, ax = figure(figsize=(4, 3.6))
    ax.plot(np.asarray(exact), np.asarray(ll), "o")
    ax.plot([float(exact.min()), float(exact.max())], [float(exact.min()), float(exact.max())], "k--", lw=1)
    ax.set(xlabel="exact log p", ylabel="probability-flow ODE", title="log-likelihood")
    return DemoResult(
        check="log_likelihood (diffrax, exact divergence) vs exact mixture density",
        error=err,
        tolerance=1e-3,
        plots=[save(fig, out, "diffusion_likelihood.png")],
        details={"max_abs_error": err},
    )


DEMOS = [
    Demo("sampler orders on a Gaussian", _orders),
    Demo("2-D mixture and guidance", _mixture_demo),
    Demo("probability-flow likelihood", _likelihood),
]
