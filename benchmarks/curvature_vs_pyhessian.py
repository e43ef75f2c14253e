"""jaxsci.curvature vs PyHessian and curvlinops (PyTorch, CPU) on an MLP 784-128-64-10.

Same network and weights in torch and JAX, batch 512 of random data, softmax cross-entropy.
Workloads: Hessian trace with 100 Rademacher probes; top-5 Hessian eigenvalues (PyHessian
power iteration with deflation vs Lanczos at equal or better accuracy, matvecs reported);
Hessian diagonal with 100 probes; Hutch++ GGN trace (curvlinops). Warm median timings, one
process, checks that the libraries agree, and the fraction of the machine's matmul FLOP/s
reached (FLOPs of the compiled JAX programs from XLA's cost analysis).

Run: `.venv/bin/python benchmarks/curvature_vs_pyhessian.py [--reps 5]`
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch

import jaxsci.curvature as jc

SIZES = (784, 128, 64, 10)
BATCH = 512


def timeit(fn, reps):
    fn()  # warm up (compile)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def torch_model():
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def jax_params(model):
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    return [{"w": jnp.asarray(m.weight.detach().numpy().T), "b": jnp.asarray(m.bias.detach().numpy())} for m in linears]


def mlp(params, x):
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def cross_entropy(logits, y):
    return jnp.mean(jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, y[:, None], -1)[:, 0])


def loss_fn(params, batch):
    return cross_entropy(mlp(params, batch[0]), batch[1])


def matmul_flops(reps):
    n = 2048
    a = jax.random.normal(jax.random.key(0), (n, n))
    mm = jax.jit(lambda a: a @ a)
    t, _ = timeit(lambda: mm(a), reps)
    ta = torch.randn(n, n)
    tt, _ = timeit(lambda: ta @ ta, reps)
    return 2 * n**3 / t, 2 * n**3 / tt


def compiled_flops(fn, *args):
    try:
        cost = jax.jit(fn).lower(*args).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        return float(cost.get("flops", float("nan")))
    except Exception:  # cost analysis is best effort
        return float("nan")


def main(reps):
    from pyhessian import hessian as PyHessian
    import sys

    import pyhessian.hessian  # noqa: F401

    pyh_module = sys.modules["pyhessian.hessian"]

    torch.set_grad_enabled(True)
    model = torch_model()
    crit = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(BATCH, SIZES[0], generator=gen)
    Y = torch.randint(0, SIZES[-1], (BATCH,), generator=gen)
    params = jax_params(model)
    batch = (jnp.asarray(X.numpy()), jnp.asarray(Y.numpy()))
    n = sum(p.numel() for p in model.parameters())
    peak, torch_peak = matmul_flops(reps)
    rows = []

    class _Rows(list):
        def append(self, row):
            super().append(row)
            name, tj, tp, peer, check, frac = row
            print(f"  {name}: jaxsci {tj:.4f} s, {peer} {tp:.4f} s, ratio {tp / tj:.1f}x, {frac:.1%} of matmul peak; {check}", flush=True)

    rows = _Rows()
    print(f"MLP {SIZES}, {n} parameters, batch {BATCH}; float32 CPU, {jax.devices()[0]}")
    print(f"matmul throughput (2048^2 f32): JAX {peak / 1e9:.1f} GFLOP/s, torch {torch_peak / 1e9:.1f} GFLOP/s")

    # 1. Hessian trace, 100 Rademacher probes
    def pyh_trace():
        model.zero_grad(set_to_none=True)  # PyHessian's backward accumulates into .grad
        h = PyHessian(model, crit, data=(X, Y), cuda=False)
        return np.mean(h.trace(maxIter=100, tol=-1.0))  # tol < 0: always 100 probes

    t_pyh, tr_pyh = timeit(pyh_trace, reps)
    f_trace = jax.jit(lambda p, k: jc.trace(jc.Hessian(loss_fn, p, batch), key=k, num_matvecs=100))
    key = jax.random.key(0)
    t_jax, (tr_jax, se_jax) = timeit(lambda: f_trace(params, key), reps)
    flops = compiled_flops(lambda p, k: jc.trace(jc.Hessian(loss_fn, p, batch), key=k, num_matvecs=100), params, key)
    agree = abs(tr_pyh - float(tr_jax)) < 5 * float(se_jax) * np.sqrt(2)
    rows.append(("Hessian trace, 100 probes", t_jax, t_pyh, "PyHessian", f"{float(tr_jax):.4g} vs {tr_pyh:.4g} (+-{float(se_jax):.2g}) {'ok' if agree else 'DISAGREE'}", flops / t_jax / peak))

    # 2. top-5 eigenvalues: reference by float64 Lanczos with many steps
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda x: x.astype(jnp.float64), params)
        b64 = (batch[0].astype(jnp.float64), batch[1])
        ref, _ = jc.eigenvalues(jc.Hessian(loss_fn, p64, b64), 5, num_matvecs=200, which="magnitude")
        ref = np.asarray(ref)
    count = {"n": 0}
    original = pyh_module.hessian_vector_product

    def counting(*a, **k):
        count["n"] += 1
        return original(*a, **k)

    pyh_module.hessian_vector_product = counting

    def pyh_eigs():
        count["n"] = 0
        model.zero_grad(set_to_none=True)  # PyHessian's backward accumulates into .grad
        h = PyHessian(model, crit, data=(X, Y), cuda=False)
        torch.manual_seed(0)
        return h.eigenvalues(maxIter=100, tol=1e-3, top_n=5)[0]

    t_pyh, ev_pyh = timeit(pyh_eigs, reps)
    pyh_matvecs = count["n"]
    pyh_module.hessian_vector_product = original
    ev_pyh = np.sort(np.asarray(ev_pyh))[::-1]
    err_pyh = np.max(np.abs(ev_pyh - np.sort(ref)[::-1]) / np.abs(ref).max())
    for m in (10, 15, 20, 25, 30, 40, 50, 60, 80, 100):
        f_eig = jax.jit(lambda p, m=m: jc.eigenvalues(jc.Hessian(loss_fn, p, batch), 5, num_matvecs=m, which="magnitude")[0])
        ev = np.sort(np.asarray(f_eig(params)))[::-1]
        err = np.max(np.abs(ev - np.sort(ref)[::-1]) / np.abs(ref).max())
        if err <= err_pyh:
            break
    t_jax, _ = timeit(lambda: f_eig(params), reps)
    # XLA's cost analysis counts a loop body once: count m linearised products instead
    v0 = jax.tree.map(jnp.ones_like, params)
    flops = m * compiled_flops(lambda p, v: jc.Hessian(loss_fn, p, batch).mv(v), params, v0)
    rows.append(("top-5 eigenvalues", t_jax, t_pyh, "PyHessian",
                 f"matvecs {m} vs {pyh_matvecs}; rel. err {err:.1e} vs {err_pyh:.1e}", flops / t_jax / peak))

    # 3. Hessian diagonal, 100 probes: PyHessian-style Hutchinson loop and curvlinops
    from curvlinops import GGNLinearOperator, HessianLinearOperator, hutchinson_diag, hutchpp_trace
    from pyhessian.utils import hessian_vector_product

    def pyh_diag():
        model.zero_grad(set_to_none=True)  # PyHessian's backward accumulates into .grad
        h = PyHessian(model, crit, data=(X, Y), cuda=False)
        acc = [torch.zeros_like(p) for p in h.params]
        for _ in range(100):
            v = [torch.randint_like(p, high=2) * 2 - 1 for p in h.params]
            hv = hessian_vector_product(h.gradsH, h.params, v)
            acc = [a + vi * hvi for a, vi, hvi in zip(acc, v, hv)]
        return torch.cat([a.flatten() / 100 for a in acc])

    t_pyh, d_pyh = timeit(pyh_diag, reps)
    tparams = [p for p in model.parameters()]
    H_cl = HessianLinearOperator(model, crit, tparams, [(X, Y)], check_deterministic=False)
    t_cl, _ = timeit(lambda: hutchinson_diag(H_cl, 100), reps)
    f_diag = jax.jit(lambda p, k: jc.diagonal(jc.Hessian(loss_fn, p, batch), key=k, num_matvecs=100))
    t_jax, d_jax = timeit(lambda: f_diag(params, key), reps)
    flops = compiled_flops(lambda p, k: jc.diagonal(jc.Hessian(loss_fn, p, batch), key=k, num_matvecs=100), params, key)
    # agreement: the sum of the estimated diagonal is a trace estimate for both
    s_jax = float(sum(jnp.sum(x) for x in jax.tree.leaves(d_jax)))
    rows.append(("Hessian diagonal, 100 probes", t_jax, t_pyh, "PyHessian loop",
                 f"sum {s_jax:.4g} vs {float(d_pyh.sum()):.4g}", flops / t_jax / peak))
    rows.append(("Hessian diagonal, 100 probes", t_jax, t_cl, "curvlinops", "hutchinson_diag", flops / t_jax / peak))

    # 4. Hutch++ GGN trace, 99 matvecs (curvlinops)
    G_cl = GGNLinearOperator(model, crit, tparams, [(X, Y)], check_deterministic=False)
    t_cl, tr_cl = timeit(lambda: float(hutchpp_trace(G_cl, 99)), reps)
    ggn = lambda p: jc.GGN(mlp, cross_entropy, p, batch)
    f_hpp = jax.jit(lambda p, k: jc.trace(ggn(p), key=k, num_matvecs=99, method="hutch++"))
    t_jax, (tr_hpp, se_hpp) = timeit(lambda: f_hpp(params, key), reps)
    flops = compiled_flops(lambda p, k: jc.trace(ggn(p), key=k, num_matvecs=99, method="hutch++"), params, key)
    f_gt = jax.jit(lambda p, k: jc.trace(ggn(p), key=k, num_matvecs=100))
    t_gt, (tr_g, se_g) = timeit(lambda: f_gt(params, key), reps)
    rows.append(("GGN trace Hutch++, 99 mv", t_jax, t_cl, "curvlinops",
                 f"{float(tr_hpp):.4g} vs {tr_cl:.4g}; Hutchinson qf {float(tr_g):.4g}+-{float(se_g):.2g} in {t_gt * 1e3:.0f} ms",
                 flops / t_jax / peak))

    print()
    header = f"{'workload':<30} {'jaxsci (s)':>10} {'peer (s)':>9} {'ratio':>6}  {'peer':<15} {'MXU frac':>8}  check"
    print(header)
    print("-" * len(header))
    for name, tj, tp, peer, check, frac in rows:
        print(f"{name:<30} {tj:>10.4f} {tp:>9.4f} {tp / tj:>6.1f}x  {peer:<15} {frac:>8.1%}  {check}")
    print("\nratio = peer time / jaxsci time (warm medians). 'MXU frac' = achieved FLOP/s of the "
          "compiled JAX program over the measured 2048^2 matmul FLOP/s.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    main(parser.parse_args().reps)
