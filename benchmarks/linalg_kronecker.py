"""jaxsci.linalg.KroneckerPlusDiagonal vs dense Cholesky vs GPyTorch (linear_operator).

Run: `.venv/bin/python benchmarks/linalg_kronecker.py [--repeats 3] [--quick]`

Workload (float64): the Gaussian negative log marginal likelihood
$L = \\tfrac12 y^\\top (K + \\sigma^2 I)^{-1} y + \\tfrac12 \\log\\det(K + \\sigma^2 I)$,
$K = K_1 \\otimes \\cdots \\otimes K_d$, and its gradient with respect to every factor $K_j$
and $\\sigma^2$. The same factors (exponential kernels on uniform grids), noise and data go
to three implementations in one process:

- jaxsci: `jax.jit(jax.value_and_grad(...))` of `KroneckerPlusDiagonal.quad_logdet` (the fused
  value and VJP; `solve` + `logdet` separately cost one more eigendecomposition per factor);
- dense: `jnp.kron` + Cholesky with JAX autodiff, where the $N \\times N$ matrix fits
  ($N \\le 4096$: 32^2, 64^2 and 16^3; the $N = 4096$ ones are timed once after warm-up);
- GPyTorch: `KroneckerProductLinearOperator(...) + ConstantDiagLinearOperator(...)` (a
  `KroneckerProductAddedDiagLinearOperator`), `inv_quad_logdet` and `backward()`.

The script checks that the values and gradients agree and prints warm medians and the ratio
peer / jaxsci (> 1 means jaxsci is faster).
"""

from __future__ import annotations

# Both libraries run single-threaded (LAPACK, XLA's CPU thread pool, torch intra-op). On a
# shared 2-core machine threaded eigh spin-waits badly (a 128 x 128 LAPACK eigh went from 4 ms
# to 300 ms, GPyTorch's 32^2 workload from 3 ms to 500 ms), which would measure the machine,
# not the libraries. Set before numpy/jax/torch load.
from _threads import single_thread

THREADS = single_thread()

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from jaxsci.linalg import KroneckerPlusDiagonal  # noqa: E402

try:
    import torch
    from linear_operator.operators import (
        ConstantDiagLinearOperator,
        DenseLinearOperator,
        KroneckerProductLinearOperator,
    )
except ImportError:  # pragma: no cover
    torch = None
else:
    torch.set_num_threads(1)

NOISE = 0.05


def _factor(n: int, lengthscale: float) -> np.ndarray:
    x = np.linspace(0.0, 1.0, n)
    return np.exp(-np.abs(x[:, None] - x[None, :]) / lengthscale)


def _median(fn, repeats: int) -> float:
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _ours(factors, noise, y):
    quad, logdet = KroneckerPlusDiagonal(factors, noise).quad_logdet(y)  # one eigh per factor
    return 0.5 * quad + 0.5 * logdet


def _dense(factors, noise, y):
    k = factors[0]
    for f in factors[1:]:
        k = jnp.kron(k, f)
    chol = jnp.linalg.cholesky(k + noise * jnp.eye(y.shape[0], dtype=y.dtype))
    alpha = jax.scipy.linalg.cho_solve((chol, True), y)
    return 0.5 * y @ alpha + jnp.sum(jnp.log(jnp.diagonal(chol)))


def _gpytorch(factors, noise, y):
    ts = [torch.tensor(f, requires_grad=True) for f in factors]
    s2 = torch.tensor([noise], dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(np.asarray(y))

    def run():
        for t in (*ts, s2):
            t.grad = None
        op = KroneckerProductLinearOperator(*[DenseLinearOperator(t) for t in ts])
        op = op + ConstantDiagLinearOperator(s2, diag_shape=yt.shape[0])
        inv_quad, logdet = op.inv_quad_logdet(inv_quad_rhs=yt.unsqueeze(-1), logdet=True)
        loss = 0.5 * inv_quad + 0.5 * logdet
        loss.backward()
        return loss.detach(), [t.grad for t in ts], s2.grad

    return run


def _rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _sym(g):
    g = np.asarray(g)
    return 0.5 * (g + g.T)


def bench(sizes, repeats: int, dense_max: int = 4096):
    rows = []
    for sizes_ in sizes:
        factors = [jnp.asarray(_factor(n, 0.2 + 0.1 * j)) for j, n in enumerate(sizes_)]
        n_total = int(np.prod(sizes_))
        y = jax.random.normal(jax.random.key(0), (n_total,), jnp.float64)
        noise = jnp.asarray(NOISE)
        ours = jax.jit(jax.value_and_grad(_ours, argnums=(0, 1)))
        value, (g_f, g_s) = ours(factors, noise, y)
        t_ours = _median(lambda: jax.block_until_ready(ours(factors, noise, y)), repeats)
        label = "x".join(map(str, sizes_))
        row = {"grid": label, "N": n_total, "jaxsci": t_ours}
        if n_total <= dense_max:
            dense = jax.jit(jax.value_and_grad(_dense, argnums=(0, 1)))
            d_value, (d_f, d_s) = dense(factors, noise, y)
            err = max(_rel(value, d_value), _rel(g_s, d_s), *(_rel(a, _sym(b)) for a, b in zip(g_f, d_f)))
            # An N = 4096 dense Cholesky gradient takes seconds: time it once after warm-up.
            dense_repeats = repeats if n_total <= 1024 else 1
            row["dense"] = _median(lambda: jax.block_until_ready(dense(factors, noise, y)), dense_repeats)
            row["dense_err"] = err
        if torch is not None:
            run = _gpytorch([np.asarray(f) for f in factors], float(noise), y)
            t_value, t_f, t_s = run()
            err = max(
                _rel(value, t_value.numpy()),
                _rel(g_s, t_s.numpy()[0]),
                *(_rel(a, _sym(b.numpy())) for a, b in zip(g_f, t_f)),
            )
            row["gpytorch"] = _median(run, repeats)
            row["gpytorch_err"] = err
        rows.append(row)
        _print_row(row)
        for key in ("dense_err", "gpytorch_err"):
            if row.get(key, 0.0) > 1e-8:
                print(f"WARNING: {key} = {row[key]:.2e} at {label}: implementations disagree", flush=True)
    return rows


def _print_row(row):
    def cell(key):
        return f"{row[key] * 1e3:10.1f}" if key in row else f"{'-':>10}"

    def ratio(key):
        return f"{row[key] / row['jaxsci']:8.1f}x" if key in row else f"{'-':>9}"

    def err(key):
        return f"{row[key]:9.1e}" if key in row else f"{'-':>9}"

    print(
        f"{row['grid']:>9} {row['N']:>7} {cell('jaxsci')} {cell('dense')} {ratio('dense')} {err('dense_err')}"
        f" {cell('gpytorch')} {ratio('gpytorch')} {err('gpytorch_err')}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="only the small grids")
    parser.add_argument("--dense-max", type=int, default=4096, help="largest N for the dense column")
    args = parser.parse_args()
    sizes = [(32, 32), (64, 64), (16, 16, 16), (128, 128), (256, 256), (512, 512), (32, 32, 32), (64, 64, 64)]
    if args.quick:
        sizes = sizes[:2]
    print("NLL value + gradient w.r.t. all factors and the noise, float64, warm median (ms)")
    print(f"{THREADS}, jax {jax.__version__}"
          + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch is not None else ""))
    print("dense/gpytorch columns: time, ratio peer/jaxsci, max relative difference vs jaxsci")
    print(f"{'grid':>9} {'N':>7} {'jaxsci':>10} {'dense':>10} {'ratio':>9} {'diff':>9} {'gpytorch':>10} {'ratio':>9} {'diff':>9}")
    bench(sizes, args.repeats, args.dense_max)
    if torch is None:
        print("(gpytorch / linear_operator not installed: peer columns skipped)")


if __name__ == "__main__":
    main()
