"""GridGP vs GPyTorch: log marginal likelihood + gradient on grids, float64, one process.

Workloads (identical grids, data and hyperparameters in both libraries):
- exact Kronecker path: 64^2, 128^2, 256^2, 512^2, 32^3, 64^3 (GPyTorch:
  KroneckerProductAddedDiagLinearOperator + MultivariateNormal.log_prob + backward);
  dense Cholesky (JAX) where N <= 4096; the "eigh-only limit" is the time of the per-axis
  eigendecompositions alone, and "fraction" is that time over jaxsci's time;
- masked data (10% missing): jaxsci's default exact Schur path (exact value; gradient exact without
  `key`, or with its rank-m correction estimated by 8 probes given `key`; CG + SLQ value and
  gradient errors printed too) vs GPyTorch's generic CG/Lanczos path on the observed
  covariance (the only route GPyTorch has once the Kronecker structure is broken); gradient
  errors are relative to jaxsci's exact gradient;
- a batch of 16 hyperparameter settings: jaxsci `vmap` vs a GPyTorch loop.

Prints warm median timings (jaxsci and GPyTorch interleaved, so both see the same load) and the
ratio GPyTorch / jaxsci. Run:
`.venv/bin/python benchmarks/gp_vs_gpytorch.py [--quick] [--single-thread]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

if "--single-thread" in sys.argv:  # before JAX starts: one XLA thread (and one torch thread below)
    from _threads import single_thread

    single_thread()

import jax

jax.config.update("jax_enable_x64", True)

import gpytorch  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from linear_operator.operators import (  # noqa: E402
    ConstantDiagLinearOperator,
    KroneckerProductAddedDiagLinearOperator,
    KroneckerProductLinearOperator,
)

from jaxsci.gp import GridGP  # noqa: E402
from jaxsci.gp.kernels import SquaredExponential  # noqa: E402


def warm_median(fn, repeats):
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_medians(fns, repeats):
    """Warm median times of several callables run interleaved, so all see the same machine load."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def problem(shape, seed=0):
    grid = tuple(np.linspace(0.0, 1.0, n) for n in shape)
    y = np.random.default_rng(seed).standard_normal(shape)
    theta = np.array([0.1 + 0.05 * i for i in range(len(shape))] + [0.05])
    return grid, y, theta


def jax_lml(grid, y, mask=None, key=None, method=None):
    grid = tuple(jnp.asarray(x) for x in grid)

    def lml(theta):
        model = GridGP(grid, tuple(SquaredExponential(t) for t in theta[:-1]), noise=theta[-1])
        if mask is None:
            return model.log_marginal_likelihood(y)
        return model.log_marginal_likelihood(jnp.where(mask, y, 0.0), mask, method=method, key=key, num_probes=8)

    return jax.jit(jax.value_and_grad(lml))


def jax_dense_lml(grid, y):
    grid = tuple(jnp.asarray(x) for x in grid)
    mesh = jnp.stack(jnp.meshgrid(*grid, indexing="ij"), -1).reshape(-1, len(grid))

    def lml(theta):
        cov = 1.0
        for i, t in enumerate(theta[:-1]):
            cov = cov * SquaredExponential(t)(mesh[:, i], mesh[:, i])
        cov = cov + theta[-1] * jnp.eye(mesh.shape[0])
        return jax.scipy.stats.multivariate_normal.logpdf(y.reshape(-1), jnp.zeros(mesh.shape[0]), cov)

    return jax.jit(jax.value_and_grad(lml))


def jax_eigh_only(grid, theta):
    grid = tuple(jnp.asarray(x) for x in grid)

    @jax.jit
    def eighs(theta):
        return [jnp.linalg.eigh(SquaredExponential(t).grid_matrix(x.shape[0], x[1] - x[0]))[0]
                for t, x in zip(theta[:-1], grid)]

    return eighs


def torch_lml(grid, y, theta, observed=None):
    """GPyTorch's value and gradient (w.r.t. lengthscales and noise)."""
    kernels = [gpytorch.kernels.RBFKernel().double() for _ in grid]
    for k, t in zip(kernels, theta[:-1]):
        k.lengthscale = float(t)
    noise = torch.tensor([float(theta[-1])], dtype=torch.float64, requires_grad=True)
    xs = [torch.tensor(x, dtype=torch.float64)[:, None] for x in grid]
    target = torch.tensor(y.reshape(-1), dtype=torch.float64)
    kron = KroneckerProductLinearOperator(*[k(x).to_dense() for k, x in zip(kernels, xs)])
    if observed is None:
        cov = KroneckerProductAddedDiagLinearOperator(kron, ConstantDiagLinearOperator(noise, diag_shape=kron.shape[-1]))
    else:
        idx = torch.as_tensor(observed)
        sub = kron[..., idx, :][..., :, idx]
        cov = sub.add_diagonal(noise.expand(idx.numel()))
        target = target[idx]
    lml = gpytorch.distributions.MultivariateNormal(torch.zeros_like(target), cov).log_prob(target)
    lml.backward()
    grads = [k.raw_lengthscale.grad / torch.sigmoid(k.raw_lengthscale) for k in kernels] + [noise.grad]
    return float(lml.detach()), np.array([float(g.detach()) for g in grads])


def exact_rows(shapes, repeats):
    rows = []
    for shape in shapes:
        grid, y, theta = problem(shape)
        fn = jax_lml(grid, jnp.asarray(y))
        value, grad = fn(jnp.asarray(theta))
        ref_value, ref_grad = torch_lml(grid, y, theta)
        agree = max(abs(float(value) - ref_value) / abs(ref_value), float(np.max(np.abs(np.asarray(grad) - ref_grad) / np.abs(ref_grad))))
        eighs = jax_eigh_only(grid, jnp.asarray(theta))
        t_jax, t_torch, t_eigh = paired_medians(
            [lambda: jax.block_until_ready(fn(jnp.asarray(theta))), lambda: torch_lml(grid, y, theta),
             lambda: jax.block_until_ready(eighs(jnp.asarray(theta)))], repeats)
        t_dense, dense_err = float("nan"), float("nan")
        if np.prod(shape) <= 4096:
            dense = jax_dense_lml(grid, jnp.asarray(y))
            d_value, d_grad = dense(jnp.asarray(theta))
            dense_err = float(jnp.max(jnp.abs(grad - d_grad) / jnp.abs(d_grad)))
            t_dense = warm_median(lambda: jax.block_until_ready(dense(jnp.asarray(theta))), max(1, repeats // 2))
        rows.append(("x".join(map(str, shape)), t_jax, t_torch, t_dense, t_eigh, agree, dense_err))
    return rows


def masked_row(shape, repeats):
    grid, y, theta = problem(shape, seed=1)
    mask = np.random.default_rng(2).uniform(size=shape) > 0.1
    # default method: the exact Schur path; with key= its gradient's rank-m term uses 8 probes
    fn = jax_lml(grid, jnp.asarray(y), mask, jax.random.key(0))
    exact = jax_lml(grid, jnp.asarray(y), mask)  # no key: exact gradient too
    value, grad = exact(jnp.asarray(theta))
    _, probe_grad = fn(jnp.asarray(theta))
    observed = np.flatnonzero(mask.reshape(-1))
    with gpytorch.settings.max_cholesky_size(0):
        ref_value, ref_grad = torch_lml(grid, y, theta, observed)
        t_jax, t_torch, t_exact = paired_medians(
            [lambda: jax.block_until_ready(fn(jnp.asarray(theta))), lambda: torch_lml(grid, y, theta, observed),
             lambda: jax.block_until_ready(exact(jnp.asarray(theta)))], repeats)
    slq = jax_lml(grid, jnp.asarray(y), mask, jax.random.key(0), method="slq")
    slq_value, slq_grad = slq(jnp.asarray(theta))
    grad = np.asarray(grad)
    rel = lambda g: float(np.max(np.abs(np.asarray(g) - grad) / np.abs(grad)))  # noqa: E731
    return ("x".join(map(str, shape)) + " 10% missing", t_jax, t_torch, t_exact, float(value), ref_value,
            float(slq_value), rel(ref_grad), rel(slq_grad), rel(probe_grad))


def batch_row(shape, batch, repeats):
    grid, y, theta = problem(shape)
    thetas = jnp.asarray(theta) * jnp.linspace(0.8, 1.2, batch)[:, None]
    fn = jax.jit(jax.vmap(jax_lml(grid, jnp.asarray(y))))
    t_jax, t_torch = paired_medians(
        [lambda: jax.block_until_ready(fn(thetas)), lambda: [torch_lml(grid, y, np.asarray(t)) for t in thetas]],
        max(5, repeats // 2))
    vals, _ = fn(thetas)
    ref0, _ = torch_lml(grid, y, np.asarray(thetas[0]))
    return (f"{'x'.join(map(str, shape))} batch {batch}", t_jax, t_torch, abs(float(vals[0]) - ref0) / abs(ref0))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small grids only")
    parser.add_argument("--single-thread", action="store_true", help="one thread for XLA, BLAS and torch")
    args = parser.parse_args()
    if args.single_thread:
        torch.set_num_threads(1)
    repeats = 3 if args.quick else 7
    shapes = [(64, 64), (32, 32, 32)] if args.quick else [(64, 64), (128, 128), (256, 256), (512, 512), (32, 32, 32), (64, 64, 64)]
    print(f"devices: {jax.devices()}, torch threads: {torch.get_num_threads()} (float64, warm medians)")
    print("\nlog marginal likelihood + gradient (exact)")
    print(f"{'grid':>10} {'jaxsci ms':>10} {'gpytorch ms':>12} {'ratio':>6} {'dense ms':>9} {'eigh ms':>8} {'eigh frac':>9} {'agree':>8} {'vs dense':>8}")
    for name, tj, tt, td, te, agree, derr in exact_rows(shapes, repeats):
        print(f"{name:>10} {1e3*tj:10.2f} {1e3*tt:12.2f} {tt/tj:6.2f} {1e3*td:9.1f} {1e3*te:8.2f} {te/tj:9.2f} {agree:8.1e} {derr:8.1e}")
    print("\nmasked data: lml + gradient (jaxsci: exact Schur path, the default, gradient with 8 probes /"
          " exact; GPyTorch: CG/Lanczos on the observed block). Gradient errors relative to the exact one.")
    print(f"{'problem':>22} {'jaxsci ms':>10} {'gpytorch ms':>12} {'ratio':>6} {'exact-grad ms':>13} {'ratio':>6}"
          f" {'jaxsci lml':>12} {'gpytorch':>12} {'slq (8)':>12} {'gpyt grad':>9} {'slq grad':>9} {'probe grad':>10}")
    for shape in ([(32, 32)] if args.quick else [(64, 64), (128, 128)]):
        name, tj, tt, te, vj, vt, vs, et, es, ep = masked_row(shape, repeats)
        print(f"{name:>22} {1e3*tj:10.1f} {1e3*tt:12.1f} {tt/tj:6.2f} {1e3*te:13.1f} {tt/te:6.2f}"
              f" {vj:12.2f} {vt:12.2f} {vs:12.2f} {et:9.1e} {es:9.1e} {ep:10.1e}")
    print("\nbatch of hyperparameters: lml + gradient (jaxsci vmap vs GPyTorch loop)")
    print(f"{'problem':>20} {'jaxsci ms':>10} {'gpytorch ms':>12} {'ratio':>6} {'agree':>8}")
    for shape in ([(32, 32)] if args.quick else [(64, 64), (128, 128)]):
        name, tj, tt, agree = batch_row(shape, 16, repeats)
        print(f"{name:>20} {1e3*tj:10.1f} {1e3*tt:12.1f} {tt/tj:6.2f} {agree:8.1e}")


if __name__ == "__main__":
    main()
