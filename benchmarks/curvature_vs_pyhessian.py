"""jaxsci.curvature vs PyHessian and curvlinops (PyTorch, CPU) on an MLP 784-128-64-10.

Same network and weights in torch and JAX, batch 512 of random data, softmax cross-entropy.
Workloads: Hessian trace with 100 Rademacher probes; top-5 Hessian eigenvalues (PyHessian
power iteration with deflation vs Lanczos at equal or better accuracy, matvecs reported);
Hessian diagonal with 100 probes; Hutch++ GGN trace (curvlinops).

Timing: one process; the libraries are timed alternately (jaxsci, peer, jaxsci, peer, ...)
so both see the same machine load, and the table reports the median of each and the median
of the paired ratios. `--threads 1` (the default) runs both libraries on one thread (XLA's
Eigen/YNN thread pool off, `torch.set_num_threads(1)`), the cleanest comparison on a shared
machine; `--threads 0` leaves both libraries' defaults. "share of matmul peak" is the
achieved FLOP/s of the JAX program (FLOPs from XLA's cost analysis) over a 2048^2 matmul's
FLOP/s, timed in the same alternation as each workload (so under the same load) and with
the same threads.

Run: `.venv/bin/python benchmarks/curvature_vs_pyhessian.py [--reps 7] [--threads 1]`
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

SIZES = (784, 128, 64, 10)
BATCH = 512


def _configure_threads(threads: int):
    # Must run before jax and torch are imported.
    if threads == 1:
        from _threads import single_thread

        single_thread()


def paired(fns: dict, reps: int):
    """Warm every function once, then time them alternately `reps` times.

    Returns `{name: (median seconds, list of seconds, last output)}`.
    """
    import jax

    outs = {name: jax.block_until_ready(fn()) for name, fn in fns.items()}
    times = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            outs[name] = jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(ts), ts, outs[name]) for name, ts in times.items()}


def ratio(peer_times, jax_times):
    """Median of the paired ratios peer / jaxsci."""
    return statistics.median(p / j for p, j in zip(peer_times, jax_times))


def main(reps: int, threads: int):
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch

    import jaxsci
    import jaxsci.curvature as jc

    if threads == 1:
        torch.set_num_threads(1)

    from curvlinops import GGNLinearOperator, HessianLinearOperator, hutchinson_diag, hutchpp_trace
    from pyhessian import hessian as PyHessian
    from pyhessian.utils import hessian_vector_product

    import pyhessian.hessian  # noqa: F401

    pyh_module = sys.modules["pyhessian.hessian"]

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

    def compiled_flops(fn, *args):
        try:
            cost = jax.jit(fn).lower(*args).compile().cost_analysis()
            cost = cost[0] if isinstance(cost, (list, tuple)) else cost
            return float(cost.get("flops", float("nan")))
        except Exception:  # cost analysis is best effort
            return float("nan")

    torch.set_grad_enabled(True)
    model = torch_model()
    crit = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(BATCH, SIZES[0], generator=gen)
    Y = torch.randint(0, SIZES[-1], (BATCH,), generator=gen)
    params = jax_params(model)
    batch = (jnp.asarray(X.numpy()), jnp.asarray(Y.numpy()))
    n = sum(p.numel() for p in model.parameters())
    key = jax.random.key(0)

    n_mm = 2048
    a = jax.random.normal(jax.random.key(0), (n_mm, n_mm))
    mm = jax.jit(lambda a: a @ a)
    ta = torch.randn(n_mm, n_mm)
    res = paired({"jax": lambda: mm(a), "torch": lambda: ta @ ta}, reps)
    peak, torch_peak = 2 * n_mm**3 / res["jax"][0], 2 * n_mm**3 / res["torch"][0]

    print(f"jaxsci from {os.path.dirname(jaxsci.__file__)}")
    print(f"MLP {SIZES}, {n} parameters, batch {BATCH}; float32 CPU, {jax.devices()[0]}, "
          f"threads: {'1 (both libraries)' if threads == 1 else 'library defaults'}, {reps} paired repeats")
    print(f"matmul throughput (2048^2 f32): JAX {peak / 1e9:.1f} GFLOP/s, torch {torch_peak / 1e9:.1f} GFLOP/s")
    rows = []

    def timed(fns):
        # The reference matmul is timed in the same alternation, so the share of peak is
        # measured against the throughput available at that moment.
        return paired({**fns, "matmul": lambda: mm(a)}, reps)

    def add(name, res, jax_name, peer_name, peer_label, check, flops):
        tj, tsj, _ = res[jax_name]
        tp, tsp, _ = res[peer_name]
        local_peak = 2 * n_mm**3 / res["matmul"][0]
        check = f"{check}; {flops / 1e9:.1f} GFLOP"
        row = (name, tj, tp, ratio(tsp, tsj), peer_label, flops / tj / local_peak, check)
        rows.append(row)
        print(f"  {name}: jaxsci {tj:.4f} s, {peer_label} {tp:.4f} s, paired ratio {row[3]:.2f}x, "
              f"{row[5]:.0%} of matmul peak; {check}", flush=True)

    # 1. Hessian trace, 100 Rademacher probes
    def pyh_trace():
        model.zero_grad(set_to_none=True)  # PyHessian's backward accumulates into .grad
        h = PyHessian(model, crit, data=(X, Y), cuda=False)
        return np.mean(h.trace(maxIter=100, tol=-1.0))  # tol < 0: always 100 probes

    trace_fn = lambda p, k: jc.trace(jc.Hessian(loss_fn, p, batch), key=k, num_matvecs=100)
    f_trace = jax.jit(trace_fn)
    res = timed({"jax": lambda: f_trace(params, key), "pyh": pyh_trace})
    tr_jax, se_jax = res["jax"][2]
    tr_pyh = res["pyh"][2]
    agree = abs(tr_pyh - float(tr_jax)) < 5 * float(se_jax) * np.sqrt(2)
    add("Hessian trace, 100 probes", res, "jax", "pyh", "PyHessian",
        f"{float(tr_jax):.4g} vs {tr_pyh:.4g} (+-{float(se_jax):.2g}) {'ok' if agree else 'DISAGREE'}",
        compiled_flops(trace_fn, params, key))

    # 2. top-5 eigenvalues: reference by float64 Lanczos with many steps
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda x: x.astype(jnp.float64), params)
        b64 = (batch[0].astype(jnp.float64), batch[1])
        ref, _ = jc.eigenvalues(jc.Hessian(loss_fn, p64, b64), 5, num_matvecs=200, which="magnitude")
        ref = np.sort(np.asarray(ref))[::-1]
    count = {"n": 0}
    original = pyh_module.hessian_vector_product

    def counting(*a, **k):
        count["n"] += 1
        return original(*a, **k)

    def pyh_eigs():
        count["n"] = 0
        model.zero_grad(set_to_none=True)
        h = PyHessian(model, crit, data=(X, Y), cuda=False)
        torch.manual_seed(0)
        pyh_module.hessian_vector_product = counting
        try:
            return h.eigenvalues(maxIter=100, tol=1e-3, top_n=5)[0]
        finally:
            pyh_module.hessian_vector_product = original

    ev_pyh = np.sort(np.asarray(pyh_eigs()))[::-1]
    pyh_matvecs = count["n"]
    err_pyh = np.max(np.abs(ev_pyh - ref) / np.abs(ref).max())
    for m in (8, 10, 12, 14, 16, 18, 20, 22, 25, 30, 40, 50, 60, 80, 100):
        eig_fn = lambda p, m=m: jc.eigenvalues(jc.Hessian(loss_fn, p, batch), 5, num_matvecs=m, which="magnitude")[0]
        f_eig = jax.jit(eig_fn)
        ev = np.sort(np.asarray(f_eig(params)))[::-1]
        err = np.max(np.abs(ev - ref) / np.abs(ref).max())
        if err <= err_pyh:
            break
    res = timed({"jax": lambda: f_eig(params), "pyh": pyh_eigs})
    # XLA's cost analysis counts a loop body once: primal pass + m tangent products +
    # the reorthogonalisation (2 passes of 2 matrix-vector products against m + 1 rows).
    v0 = jax.tree.map(jnp.ones_like, params)

    def lin(p, vs):
        f = jc.Hessian(loss_fn, p, batch).linearise()
        return [f(v) for v in vs]

    v1 = jax.tree.map(lambda x: 2 * x, v0)  # distinct vectors, so XLA cannot merge the products
    one, two = compiled_flops(lin, params, [v0]), compiled_flops(lin, params, [v0, v1])
    flops = (one - (two - one)) + m * (two - one) + m * 2 * 2 * 2 * (m + 1) * n
    add("top-5 eigenvalues", res, "jax", "pyh", "PyHessian",
        f"matvecs {m} vs {pyh_matvecs}; rel. err {err:.1e} vs {err_pyh:.1e}", flops)

    # 3. Hessian diagonal, 100 probes: PyHessian-style Hutchinson loop and curvlinops
    def pyh_diag():
        model.zero_grad(set_to_none=True)
        h = PyHessian(model, crit, data=(X, Y), cuda=False)
        acc = [torch.zeros_like(p) for p in h.params]
        for _ in range(100):
            v = [torch.randint_like(p, high=2) * 2 - 1 for p in h.params]
            hv = hessian_vector_product(h.gradsH, h.params, v)
            acc = [a + vi * hvi for a, vi, hvi in zip(acc, v, hv)]
        return torch.cat([a.flatten() / 100 for a in acc])

    tparams = list(model.parameters())
    H_cl = HessianLinearOperator(model, crit, tparams, [(X, Y)], check_deterministic=False)
    diag_fn = lambda p, k: jc.diagonal(jc.Hessian(loss_fn, p, batch), key=k, num_matvecs=100)
    f_diag = jax.jit(diag_fn)
    res = timed({"jax": lambda: f_diag(params, key), "pyh": pyh_diag, "cl": lambda: hutchinson_diag(H_cl, 100)})
    # The default CPU path scans over chunks of probes, and XLA's cost analysis counts a loop
    # body once: count the FLOPs of the same computation with all probes in one vmap.
    flops = compiled_flops(lambda p, k: jc.diagonal(jc.Hessian(loss_fn, p, batch), key=k, num_matvecs=100, chunk_size=100), params, key)
    s_jax = float(sum(jnp.sum(x) for x in jax.tree.leaves(res["jax"][2])))
    add("Hessian diagonal, 100 probes", res, "jax", "pyh", "PyHessian loop",
        f"sums {s_jax:.4g} vs {float(res['pyh'][2].sum()):.4g}", flops)
    add("Hessian diagonal, 100 probes", res, "jax", "cl", "curvlinops", "hutchinson_diag", flops)

    # 4. Hutch++ GGN trace, 99 matvecs (curvlinops)
    G_cl = GGNLinearOperator(model, crit, tparams, [(X, Y)], check_deterministic=False)
    hpp_fn = lambda p, k: jc.trace(jc.GGN(mlp, cross_entropy, p, batch), key=k, num_matvecs=99, method="hutch++")
    f_hpp = jax.jit(hpp_fn)
    res = timed({"jax": lambda: f_hpp(params, key), "cl": lambda: float(hutchpp_trace(G_cl, 99))})
    add("GGN trace Hutch++, 99 mv", res, "jax", "cl", "curvlinops",
        f"{float(res['jax'][2][0]):.4g} vs {res['cl'][2]:.4g}", compiled_flops(hpp_fn, params, key))

    print()
    header = f"{'workload':<30} {'jaxsci (s)':>10} {'peer (s)':>9} {'ratio':>6}  {'peer':<15} {'peak':>5}  check"
    print(header)
    print("-" * len(header))
    for name, tj, tp, r, peer, frac, check in rows:
        print(f"{name:<30} {tj:>10.4f} {tp:>9.4f} {r:>5.2f}x  {peer:<15} {frac:>5.0%}  {check}")
    print("\nratio = median of paired (peer / jaxsci) warm timings; 'peak' = achieved FLOP/s of the "
          "compiled JAX program over the 2048^2 matmul FLOP/s timed alongside it (same threads).")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, choices=(0, 1),
                        help="1: one thread for both libraries (default); 0: library defaults")
    args = parser.parse_args()
    _configure_threads(args.threads)
    main(args.reps, args.threads)
