"""jaxsci.spectral vs exponax: throughput at equal error and gradient memory.

Run: `.venv/bin/python benchmarks/spectral_vs_exponax.py [--steps-scale 0.2] [--repeats 3]`

Both libraries run in one process on identical problems (same PDE, grid, dt, ETDRK order,
same dealiasing mask); the script checks that their final states agree (so the error
against any reference is equal) and prints warm median wall times and the ratio
exponax / jaxsci (> 1 means jaxsci is faster). The gradient workload also reports the
temporary memory of the compiled gradient from `jax.jit(f).lower(...).compile()
.memory_analysis()`.
"""

from __future__ import annotations

import sys

if "--single-thread" in sys.argv:  # must be set before jax is imported
    from _threads import single_thread

    THREADS = single_thread()
else:
    THREADS = "default XLA threads"

import argparse
import math
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxsci.spectral as sp

try:
    import exponax as ex
except ImportError:  # pragma: no cover
    ex = None


def _frac(n: int) -> float:
    """jaxsci dealiasing fraction giving exponax's 2/3 mask (|m| <= 2/3 (N//2) - 1)."""
    return (math.floor(2 / 3 * (n // 2) - 1) + 1) / (n / 2)


def _alternate(*fns, args: tuple, repeats: int) -> tuple[float, ...]:
    """Warm medians of the functions (jaxsci's first, exponax's last) timed alternately, so
    that all see the same load of a shared machine; their ratio is far steadier than
    separate medians. Wall time, or process CPU time with `--cpu-time` (more robust on a
    shared machine; equal to wall time when single-threaded on an idle core)."""
    clock = time.process_time if _CPU_TIME else time.perf_counter
    for fn in fns:
        jax.block_until_ready(fn(*args))
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t0 = clock()
            jax.block_until_ready(fn(*args))
            ts.append(clock() - t0)
    return tuple(statistics.median(ts) for ts in times)


_CPU_TIME = False


def _rel(a, b) -> float:
    return float(jnp.linalg.norm((a - b).ravel()) / jnp.linalg.norm(b.ravel()))


def ks_ensemble(steps: int, repeats: int, batch: int = 256, n: int = 256):
    length, dt = 32 * np.pi, 0.25
    d = sp.PeriodicDomain(n, length)
    u0 = jax.vmap(lambda k: sp.random_fourier_series(k, d, max_wavenumber=6))(
        jax.random.split(jax.random.key(0), batch)
    )
    ours = sp.ETDRK(sp.KuramotoSivashinskyConservative(d), dt, 4, dealiasing=_frac(n))
    theirs = ex.stepper.KuramotoSivashinskyConservative(1, length, n, dt, order=4)
    # KS is chaotic: float32 round-off differences grow to O(1) by t = 250, so agreement
    # (hence equal error) is checked over the first 40 steps.
    short = min(steps, 40)
    ref = jax.vmap(ex.repeat(theirs, short))(u0)
    agree = _rel(jax.vmap(lambda u: sp.rollout(ours, u, short, save_every=short)[-1])(u0), ref)
    agree_pair = _rel(sp.ensemble_rollout(ours, u0, short, save_every=short, pair=True)[:, -1], ref)
    # jaxsci two ways: the vmapped rollout (the same FFTs as exponax) and ensemble_rollout
    # (pairs of real members evolved as one complex field: half as many, complex, FFTs).
    f_ours = jax.jit(jax.vmap(lambda u: sp.rollout(ours, u, steps, save_every=steps)[-1]))
    f_pair = jax.jit(lambda u: sp.ensemble_rollout(ours, u, steps, save_every=steps, pair=True)[:, -1])
    f_theirs = jax.jit(jax.vmap(ex.repeat(theirs, steps)))
    t_o, t_p, t_t = _alternate(f_ours, f_pair, f_theirs, args=(u0,), repeats=repeats)
    return (t_o, t_t, agree), (t_p, t_t, agree_pair)


def ns2d(steps: int, repeats: int, n: int = 256):
    d = sp.PeriodicDomain((n, n))
    w0 = sp.gaussian_random_field(jax.random.key(1), d, exponent=4.0)  # vorticity of unit mean square in expectation
    ours = sp.ETDRK(sp.NavierStokes2D(d, 1e-3), 5e-3, 4, dealiasing=_frac(n))
    # exponax's vorticity has the opposite sign convention: run it on -w0 and negate.
    f_ours = jax.jit(lambda w: sp.rollout(ours, w, steps, save_every=steps)[-1])
    theirs = ex.stepper.NavierStokesVorticity(2, 2 * np.pi, n, 5e-3, diffusivity=1e-3, order=4)
    f_theirs = jax.jit(lambda w: -ex.repeat(theirs, steps)(-w))
    agree = _rel(f_ours(w0), f_theirs(w0))
    return (*_alternate(f_ours, f_theirs, args=(w0,), repeats=repeats), agree)


def ks_gradient(steps: int, repeats: int, checkpoint, n: int = 256):
    # dt = 0.05 keeps the horizon (t <= 80) short enough for float32 gradients of this
    # chaotic system to be meaningful, so both libraries' gradients can be compared.
    length, dt = 32 * np.pi, 0.05
    d = sp.PeriodicDomain(n, length)
    u0 = sp.random_fourier_series(jax.random.key(2), d, max_wavenumber=6)
    ours = sp.ETDRK(sp.KuramotoSivashinskyConservative(d), dt, 4, dealiasing=_frac(n))
    theirs = ex.stepper.KuramotoSivashinskyConservative(1, length, n, dt, order=4)

    def loss_ours(u):
        return jnp.sum(sp.rollout(ours, u, steps, save_every=steps, checkpoint=checkpoint)[-1] ** 2)

    def loss_theirs(u):
        return jnp.sum(ex.repeat(theirs, steps)(u) ** 2)

    g_ours, g_theirs = jax.jit(jax.grad(loss_ours)), jax.jit(jax.grad(loss_theirs))
    mem = lambda g: g.lower(u0).compile().memory_analysis().temp_size_in_bytes  # noqa: E731
    agree = _rel(g_ours(u0), g_theirs(u0))
    t_o, t_t = _alternate(g_ours, g_theirs, args=(u0,), repeats=repeats)
    return t_o, t_t, agree, mem(g_ours), mem(g_theirs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps-scale", type=float, default=1.0, help="scale all step counts")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip", nargs="*", default=[], help="workloads to skip: ks ns grad")
    p.add_argument("--single-thread", action="store_true", help="one XLA CPU thread")
    p.add_argument("--cpu-time", action="store_true", help="report process CPU time, not wall time")
    a = p.parse_args(argv)
    global _CPU_TIME
    _CPU_TIME = a.cpu_time
    if ex is None:
        raise SystemExit("exponax is not installed")
    jax.config.update("jax_enable_x64", False)
    s = lambda k: max(1, int(round(k * a.steps_scale)))  # noqa: E731
    clock = "process CPU time" if a.cpu_time else "wall time"
    threads = THREADS
    print(f"device: {jax.devices()[0]}, {threads}; median {clock} of {a.repeats} warm runs, "
          "jaxsci and exponax timed alternately")
    print(f"{'workload':<60} {'jaxsci s':>9} {'exponax s':>10} {'ratio':>6} {'rel.diff':>9}")
    if "ks" not in a.skip:
        n = s(1000)
        rows = ks_ensemble(n, a.repeats)
        for how, (t_o, t_t, agree) in zip(("vmap(rollout)", "ensemble_rollout(pair=True)"), rows):
            label = f"KS N=256 batch=256 {n} ETDRK4, {how}"
            print(f"{label:<60} {t_o:9.3f} {t_t:10.3f} {t_t / t_o:6.2f} {agree:9.1e}")
    if "ns" not in a.skip:
        n = s(100)
        t_o, t_t, agree = ns2d(n, a.repeats)
        print(f"{f'NS2D vorticity 256^2 {n} ETDRK4 steps':<60} {t_o:9.3f} {t_t:10.3f} {t_t / t_o:6.2f} {agree:9.1e}")
    if "grad" not in a.skip:
        print(f"\n{'grad of KS rollout (N=256, ETDRK4, dt=.05)':<40} {'jaxsci s':>9} {'exponax s':>10} "
              f"{'ratio':>6} {'jaxsci MiB':>11} {'exponax MiB':>12} {'rel.diff':>9}")
        for n in (s(100), s(400), s(1600)):
            for ck in (None, "sqrt"):
                t_o, t_t, agree, m_o, m_t = ks_gradient(n, a.repeats, ck)
                label = f"{n} steps, checkpoint={ck}"
                print(f"{label:<40} {t_o:9.3f} {t_t:10.3f} {t_t / t_o:6.2f} {m_o / 2**20:11.2f} "
                      f"{m_t / 2**20:12.2f} {agree:9.1e}")


if __name__ == "__main__":
    main()
