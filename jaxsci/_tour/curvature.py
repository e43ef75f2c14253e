"""Tour section for `jaxsci.curvature`: Hessian spectra, per-layer traces, edge of stability."""

from __future__ import annotations

from pathlib import Path

from ._core import Demo, DemoResult
from ._plot import figure, save


def _mlp_problem(sizes, n, seed=0):
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(jax.random.key(seed), len(sizes) + 1)
    params = {
        f"layer{i}": {"w": jax.random.normal(keys[i], (a, b)) / jnp.sqrt(a), "b": jnp.zeros(b)}
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
    }
    x = jax.random.normal(keys[-1], (n, sizes[0]))
    y = jnp.argmax(x[:, : sizes[-1]], axis=1)  # a learnable labelling

    def loss(p, batch):
        h, labels = batch
        for i in range(len(p)):
            h = h @ p[f"layer{i}"]["w"] + p[f"layer{i}"]["b"]
            if i < len(p) - 1:
                h = jnp.tanh(h)
        return jnp.mean(jax.nn.logsumexp(h, -1) - jnp.take_along_axis(h, labels[:, None], -1)[:, 0])

    return params, (x, y), loss


def _dense(loss, params, batch):
    import jax
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(params)
    return jax.jit(jax.hessian(lambda f: loss(unravel(f), batch)))(flat)


def _spectrum(out: Path, quick: bool) -> DemoResult:
    """Top-5 Hessian eigenvalues of a small MLP by Lanczos vs dense eigvalsh; SLQ density."""
    import jax
    import jax.numpy as jnp

    from jaxsci.curvature import Hessian, eigenvalues, spectral_density

    with jax.enable_x64(True):
        params, batch, loss = _mlp_problem((8, 16, 12, 4) if quick else (16, 48, 32, 4), 64)
        H = Hessian(loss, params, batch)
        ref = jnp.linalg.eigvalsh(_dense(loss, params, batch))
        vals, _ = eigenvalues(H, 5, num_matvecs=50, key=jax.random.key(1))
        err = float(jnp.max(jnp.abs(vals - ref[::-1][:5]) / jnp.abs(ref[-1])))
        sd = spectral_density(H, key=jax.random.key(2), num_probes=8, num_steps=40)
        density_mean, trace_over_n = float(sd.mean()), float(jnp.mean(ref))

    fig, ax = figure(figsize=(6, 3.6))
    ax.hist(ref, bins=80, density=True, alpha=0.4, label="dense eigvalsh (histogram)")
    ax.plot(sd.grid, sd.density, label="stochastic Lanczos quadrature")
    for v in vals:
        ax.axvline(float(v), color="k", lw=0.6, ls=":")
    ax.set_yscale("log")
    ax.set_ylim(1e-3, None)
    ax.set_xlabel("eigenvalue")
    ax.legend(fontsize=8)
    plot = save(fig, out, "curvature_spectrum.png")
    return DemoResult(
        check="top-5 Hessian eigenvalues (Lanczos, 50 matvecs) vs dense eigvalsh, relative to lambda_max",
        error=err,
        tolerance=1e-8,
        plots=[plot],
        details=dict(num_params=int(ref.size), top5=[float(v) for v in vals], density_mean=density_mean,
                     trace_over_n=trace_over_n),
    )


def _per_layer_trace(out: Path, quick: bool) -> DemoResult:
    """Per-layer Hessian traces (HAWQ-V2 style) from shared Hutchinson probes vs dense blocks."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.flatten_util import ravel_pytree

    from jaxsci.curvature import Hessian, trace

    with jax.enable_x64(True):
        params, batch, loss = _mlp_problem((8, 24, 16, 4), 64, seed=3)
        dense = _dense(loss, params, batch)
        per_layer, errs = trace(Hessian(loss, params, batch), key=jax.random.key(0),
                                num_matvecs=200 if quick else 1000, blocks=lambda p: dict(p))
        # dense block traces: flat index ranges of each layer in ravel order
        sizes = [ravel_pytree(params[k])[0].size for k in sorted(params)]
        bounds = np.cumsum([0] + sizes)
        exact = {k: float(jnp.trace(dense[a:b, a:b])) for k, a, b in zip(sorted(params), bounds[:-1], bounds[1:])}
        # plain floats, so nothing float64 is touched once x64 is off again
        per_layer = {k: float(v) for k, v in per_layer.items()}
        errs = {k: float(v) for k, v in errs.items()}
        dense_total = float(jnp.trace(dense))
    z = max(abs(float(per_layer[k]) - exact[k]) / float(errs[k]) for k in exact)
    fig, ax = figure(figsize=(5, 3.2))
    names = sorted(exact)
    ax.bar(np.arange(3) - 0.2, [exact[k] for k in names], 0.4, label="dense")
    ax.bar(np.arange(3) + 0.2, [float(per_layer[k]) for k in names], 0.4,
           yerr=[2 * float(errs[k]) for k in names], label="Hutchinson (+-2 s.e.)")
    ax.set_xticks(range(3), names)
    ax.set_ylabel("tr(H_layer)")
    ax.legend(fontsize=8)
    plot = save(fig, out, "curvature_per_layer_trace.png")
    return DemoResult(
        check="largest z-score of per-layer Hutchinson traces vs dense block traces",
        error=z,
        tolerance=4.0,
        plots=[plot],
        details=dict(estimates={k: float(v) for k, v in per_layer.items()}, exact=exact,
                     total=sum(per_layer.values()), dense_total=dense_total),
    )


def _edge_of_stability(out: Path, quick: bool) -> DemoResult:
    """Gradient descent on a quadratic diverges exactly when lr > 2/lambda_max; the monitor agrees."""
    import jax
    import jax.numpy as jnp

    from jaxsci.curvature import Hessian, stability

    n = 10
    q, _ = jnp.linalg.qr(jax.random.normal(jax.random.key(0), (n, n)))
    A = (q * jnp.linspace(0.2, 5.0, n)) @ q.T
    loss = lambda p, b: 0.5 * p @ A @ p
    x0 = jax.random.normal(jax.random.key(1), (n,))
    H = Hessian(loss, x0, None)
    fig, ax = figure(figsize=(5.5, 3.4))
    mismatches = 0
    rows = []
    monitor = jax.jit(lambda lr: stability(H, learning_rate=lr, key=jax.random.key(2), num_matvecs=n))

    @jax.jit
    def gd(lr):
        step = lambda x, _: (x - lr * (A @ x), loss(x, None))
        return jax.lax.scan(step, x0, None, length=150)[1]

    for factor in (0.9, 0.98, 1.02, 1.1):
        lr = jnp.asarray(factor * 2 / 5.0)
        losses = gd(lr)
        diverged = bool(losses[-1] > losses[0])
        report = monitor(lr)
        mismatches += int(bool(report.stable) == diverged)
        rows.append(dict(lr=float(lr), sharpness=float(report.sharpness), two_over_lr=float(report.threshold),
                         monitor_stable=bool(report.stable), diverged=diverged))
        ax.semilogy(losses, label=f"lr = {factor:.2f} x 2/lambda_max")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    plot = save(fig, out, "curvature_edge_of_stability.png")
    return DemoResult(
        check="runs where the stability monitor disagrees with GD divergence (lr around 2/lambda_max)",
        error=float(mismatches),
        tolerance=0.0,
        plots=[plot],
        details=dict(runs=rows),
    )


DEMOS = [
    Demo("hessian-spectrum", _spectrum),
    Demo("per-layer-trace", _per_layer_trace),
    Demo("edge-of-stability", _edge_of_stability),
]
