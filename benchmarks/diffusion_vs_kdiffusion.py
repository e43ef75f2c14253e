"""jaxsci.diffusion vs k-diffusion on analytic Gaussian-mixture denoisers.

The mixture denoiser (diagonal covariances) is written once in JAX
(`jaxsci.diffusion.targets.GaussianMixture`) and once in torch (below: the same algorithm, in
whichever of its three forms is fastest for torch on the workload), and both samplers
run in this process on identical inputs and sigmas. k-diffusion is not a jaxsci dependency
(its package pulls in torchvision, wandb, kornia, ...): when `k_diffusion` is not importable
its column is reported as missing, never estimated. What is always measured:

- jaxsci's warm median time of the jitted `sample` call;
- the sampler overhead: total - NFE x (one denoiser call), as a fraction of total, where the
  NFE calls are timed as one jitted loop of chained denoiser calls (no per-call dispatch),
  run alternately with the sampler so that both see the same machine load;
- the torch denoiser's time per call x NFE, a lower bound on any eager torch sampler
  (k-diffusion included) that evaluates the same denoiser NFE times.

k-diffusion's stochastic samplers are fed jaxsci's per-step noise through `noise_sampler`,
precomputed before timing: that run checks identical numbers, and its time (which holds no
noise generation at all) lower-bounds k-diffusion's. Two more runs time k-diffusion drawing its
own noise: with `torch.randn_like` each step (its `default_noise_sampler`; the same amount
of Gaussian noise as jaxsci draws), and with no `noise_sampler` at all (its default for the
DPM++ SDE samplers, a `torchsde` Brownian tree; reported missing without `torchsde`).

Both libraries run with `_threads.steady_allocator()` (freed memory is kept in the process):
with glibc's defaults, whether a buffer of a few MB costs fresh page faults depends on what
the process freed before, which moved both libraries' times by up to 15-25% between runs.

Two overhead figures are printed. `overhead` subtracts NFE chained denoiser calls in one
jitted loop (no dispatch, no fresh output buffers: the strict one). `overhead/call`
subtracts NFE times one standalone jitted call, the issue's definition, which also counts
each call's dispatch and output allocation as denoiser time.

Run: `python benchmarks/diffusion_vs_kdiffusion.py [--repeats 5] [--quick] [--only SDE]
[--single-thread] [--cpu-time] [--extra]`. `--extra` adds workloads outside the issue's list:
a network denoiser (an MLP in both libraries, same weights) and small batches. `--single-thread` runs XLA and torch on one thread each;
`--cpu-time` reports process CPU time (use it with `--single-thread` on a loaded machine).
"""

from __future__ import annotations

import sys

if "--single-thread" in sys.argv:  # must be set before jax (and torch) are imported
    from _threads import single_thread

    single_thread()

import argparse
import statistics
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from _threads import steady_allocator

from jaxsci import diffusion as jd

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
try:
    from k_diffusion import sampling as kd_sampling
except Exception:  # k-diffusion (or one of its many dependencies) is not installed
    kd_sampling = None


def mixture(d, k, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, k).astype(np.float32)
    mu = (3.0 * rng.standard_normal((k, d))).astype(np.float32)
    var = rng.uniform(0.1, 0.5, (k, d)).astype(np.float32)
    return w / w.sum(), mu, var


TORCH_FORMS = ("(n, K)", "(K, n)", "(K, n) fused")


def torch_denoiser(w, mu, var, form):
    """The mixture denoiser in torch: the algorithm of `jaxsci.diffusion.targets.GaussianMixture`
    (diagonal case), in one of `TORCH_FORMS`: the samples along the major axis (`"(n, K)"`
    arrays), along the minor one (`"(K, n)"`, as jaxsci does for d <= 32), or jaxsci's
    present samples-minor form (`"(K, n) fused"`: one product on the stacked `[x * x; x]` up
    to d = 4, and the softmax's normaliser from a row of ones in the output product). `run`
    gives torch the fastest of the three."""
    if form not in TORCH_FORMS:
        raise ValueError(f"form must be one of {TORCH_FORMS}, got {form!r}.")
    w, mu, var0 = (torch.tensor(a) for a in (w, mu, var))
    log_w = torch.log(w)
    centre = 0.5 * (mu.amax(0) + mu.amin(0))  # as jaxsci: the expansion about the means' centre
    mu_c = mu - centre

    def unnormalised_softmax(logits, dim):  # jaxsci's: terms below exp(-80) are zero, not subnormal
        z = logits - logits.amax(dim, keepdim=True)
        return torch.where(z > -80.0, torch.exp(z), 0.0)

    def softmax(logits, dim):
        e = unnormalised_softmax(logits, dim)
        return e / e.sum(dim, keepdim=True)

    def denoiser(x, sigma):
        s2 = sigma.reshape(-1)[0] ** 2
        var = var0 + s2  # (K, d)
        prec = 1.0 / var
        prec_mu = prec * mu_c
        const = (prec_mu * mu_c).sum(-1) + torch.log(var).sum(-1)
        d = x.shape[1]
        if form == "(K, n) fused":
            xt = (x - centre).T
            if d <= 4:
                maha = torch.cat([prec, -2.0 * prec_mu], dim=1) @ torch.cat([xt * xt, xt], dim=0)
            else:
                maha = prec @ (xt * xt) - 2.0 * (prec_mu @ xt)
            e = unnormalised_softmax(-0.5 * (maha + const[:, None]) + log_w[:, None], 0)
            m = torch.cat([prec_mu, prec, torch.ones_like(prec[:, :1])], dim=1).T @ e  # (2d + 1, n)
            return x + s2 * ((m[:d] - xt * m[d : 2 * d]) / m[2 * d]).T
        if form == "(K, n)":
            xt = (x - centre).T
            maha = prec @ (xt * xt) - 2.0 * (prec_mu @ xt)  # (K, n)
            r = softmax(-0.5 * (maha + const[:, None]) + log_w[:, None], 0)
            m = torch.cat([prec_mu, prec], dim=1).T @ r  # (2d, n)
            return x + s2 * (m[:d] - xt * m[d:]).T
        y = x - centre
        maha = (y * y) @ prec.T - 2.0 * (y @ prec_mu.T)  # (n, K) by products
        r = softmax(-0.5 * (maha + const) + log_w, 1)
        m = r @ torch.cat([prec * mu, prec], dim=1)  # sum_k r_k P_k (mu_k - x), as one product
        return x + s2 * (m[:, :d] - x * m[:, d:])

    return denoiser


def fastest_torch_denoiser(w, mu, var, x, sigma, repeats):
    """The fastest form of `torch_denoiser` on this workload (timed at one level)."""
    options = [(form, torch_denoiser(w, mu, var, form)) for form in TORCH_FORMS]
    with torch.no_grad():
        times = [best_threads(lambda: median_time(lambda: f(x, sigma), repeats)) for _, f in options]
    return options[int(np.argmin(times))]


def mlp_weights(d, hidden, seed=0):
    """Random weights of a 3-layer SiLU network `(d + 1) -> hidden -> hidden -> d`."""
    rng = np.random.default_rng(seed)
    sizes = [d + 1, hidden, hidden, d]
    return [((rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32), np.zeros(n, np.float32))
            for m, n in zip(sizes[:-1], sizes[1:])]


def jax_mlp_denoiser(weights):
    """An EDM-preconditioned network denoiser (sigma_data = 1): D = c_skip x + c_out F(c_in x,
    log(sigma) / 4). The network stands in for a trained model: what matters here is that each
    call costs matrix products, as a real denoiser's does."""
    params = [(jnp.asarray(a), jnp.asarray(b)) for a, b in weights]
    hi = jax.lax.Precision.HIGHEST

    def denoiser(x, sigma):
        s2 = sigma**2
        h = jnp.concatenate([x / jnp.sqrt(s2 + 1.0), jnp.full(x.shape[:1] + (1,), jnp.log(sigma) / 4)], -1)
        for i, (a, b) in enumerate(params):
            h = jnp.matmul(h, a, precision=hi) + b
            h = jax.nn.silu(h) if i < len(params) - 1 else h
        return x / (s2 + 1.0) + sigma / jnp.sqrt(s2 + 1.0) * h

    return denoiser


def torch_mlp_denoiser(weights):
    """The same network in torch."""
    params = [(torch.tensor(a), torch.tensor(b)) for a, b in weights]

    def denoiser(x, sigma):
        sigma = sigma.reshape(-1)[0]
        s2 = sigma**2
        h = torch.cat([x / torch.sqrt(s2 + 1.0), torch.full((x.shape[0], 1), float(torch.log(sigma) / 4))], -1)
        for i, (a, b) in enumerate(params):
            h = torch.addmm(b, h, a)
            h = torch.nn.functional.silu(h) if i < len(params) - 1 else h
        return x / (s2 + 1.0) + sigma / torch.sqrt(s2 + 1.0) * h

    return denoiser


def jax_denoiser(w, mu, var):
    return jd.targets.GaussianMixture(jnp.asarray(w), jnp.asarray(mu), jnp.asarray(var)).denoiser


def _clock():
    """Wall time, or process CPU time with `--cpu-time` (steadier on a loaded, shared
    machine; equal to wall time for single-threaded work on an idle core)."""
    return time.process_time() if CPU_TIME else time.perf_counter()


def median_time(fn, repeats):
    fn()  # warm-up / compile
    times = []
    for _ in range(repeats):
        t0 = _clock()
        fn()
        times.append(_clock() - t0)
    return statistics.median(times)


def paired_median_times(f, g, repeats):
    """Warm median times of `f` and `g`, run alternately, so that both see the same load of
    a shared machine (their ratio is then far steadier than two separate medians)."""
    f()
    g()
    tf, tg = [], []
    for _ in range(repeats):
        for fn, ts in ((f, tf), (g, tg)):
            t0 = _clock()
            fn()
            ts.append(_clock() - t0)
    return statistics.median(tf), statistics.median(tg)


def best_threads(measure):
    """The peer's better time of 1 thread and its default thread count (on a shared, loaded
    2-core machine torch's default intra-op threading can be 100x slower on small ops)."""
    if SINGLE_THREAD:
        return measure()
    default = torch.get_num_threads()
    times = []
    for n in sorted({1, default}):
        torch.set_num_threads(n)
        times.append(measure())
    torch.set_num_threads(default)
    return min(times)


WORKLOADS = [
    # name, d, K, batch, steps, jaxsci sampler, NFE, k-diffusion function, kwargs, stochastic
    ("Euler d=2 B=100000 20 steps", 2, 8, 100_000, 20, jd.Euler(), 20, "sample_euler", {}, False),
    ("DPM++ 2M d=64 K=16 B=10000 10 steps", 64, 16, 10_000, 10, jd.DPMpp2M(), 10, "sample_dpmpp_2m", {}, False),
    ("DPM++ 2M d=64 K=16 B=10000 20 steps", 64, 16, 10_000, 20, jd.DPMpp2M(), 20, "sample_dpmpp_2m", {}, False),
    # the final step to sigma = 0 is an Euler step (its second stage is skipped): 35 calls
    ("Heun EDM d=3072 B=256 18 steps", 3072, 8, 256, 18, jd.Heun(), 35, "sample_heun", {}, False),
    ("DPM++ 2M SDE d=256 B=4096 50 steps", 256, 8, 4096, 50, jd.DPMpp2MSDE(), 50, "sample_dpmpp_2m_sde", {}, True),
]


# Not the workloads (`--extra`): the two ends of the trade-off between its goals. A
# network denoiser leaves the sampler's overhead a small share but the ratio near the two
# frameworks' matrix-product speeds; a small batch makes eager torch's per-op cost dominate.
# "K" = "mlp-H" is a network of width H in place of the mixture.
EXTRA_WORKLOADS = [
    ("extra: DPM++ 2M MLP d=64 h=512 B=2048 20 steps", 64, "mlp-512", 2048, 20, jd.DPMpp2M(), 20, "sample_dpmpp_2m", {}, False),
    ("extra: Heun MLP d=64 h=512 B=2048 18 steps", 64, "mlp-512", 2048, 18, jd.Heun(), 35, "sample_heun", {}, False),
    ("extra: DPM++ 2M d=64 K=16 B=64 20 steps", 64, 16, 64, 20, jd.DPMpp2M(), 20, "sample_dpmpp_2m", {}, False),
    ("extra: Euler d=2 K=8 B=256 20 steps", 2, 8, 256, 20, jd.Euler(), 20, "sample_euler", {}, False),
]

SINGLE_THREAD = False
CPU_TIME = False


def run(repeats, quick, only=None, extra=False):
    if SINGLE_THREAD and torch is not None:
        torch.set_num_threads(1)
    print(f"allocator: {steady_allocator()}")
    print(f"threads: {'one (XLA and torch)' if SINGLE_THREAD else 'default (torch: best of 1 and default)'}; "
          f"clock: {'process CPU time' if CPU_TIME else 'wall time'}")
    print(f"devices: {jax.devices()}; torch: {torch.__version__ if torch else 'missing'}; "
          f"k-diffusion: {'installed' if kd_sampling else 'MISSING (column skipped)'}")
    header = ("workload", "NFE", "jaxsci s", "overhead", "overhead/call", "torch NFE x call s", "k-diffusion s",
              "ratio kd/jaxsci", "max |diff|")
    rows, noise_rows = [], []
    for name, d, k, batch, steps, sampler, nfe, kd_name, kd_kwargs, stochastic in WORKLOADS + (EXTRA_WORKLOADS if extra else []):
        if only and not any(o.lower() in name.lower() for o in only):
            continue
        if quick:
            batch = max(batch // 16, 16)
        if isinstance(k, str):  # a network denoiser
            weights = mlp_weights(d, int(k.split("-")[1]))
            den = jax_mlp_denoiser(weights)
        else:
            w, mu, var = mixture(d, k)
            den = jax_denoiser(w, mu, var)
        sigmas = jd.karras_sigmas(steps, 0.002, 80.0)
        x = 80.0 * jax.random.normal(jax.random.key(0), (batch, d))
        key = jax.random.key(1) if stochastic else None
        sample = jax.jit(lambda x: jd.sample(den, x, sigmas, sampler=sampler, key=key))
        call = jax.jit(lambda x, s: den(x, s))
        # NFE chained denoiser calls in one jitted loop: the cost of the calls alone, without
        # per-call dispatch (each call feeds the next, so XLA cannot hoist it out of the loop).
        # Call i takes the level sigmas[i mod steps], as a standalone call takes sigma as an
        # argument: with one fixed level XLA would hoist the mixture's per-level (K, d)
        # precomputations out of the loop, which the sampler cannot do.
        chain = jax.jit(lambda x, s: jax.lax.fori_loop(0, nfe, lambda i, y: den(y, s[i % steps]), x))
        s_mid = sigmas[0]  # x is a typical point of p_sigma at sigma_max
        t_total, t_calls = paired_median_times(
            lambda: sample(x).block_until_ready(), lambda: chain(x, sigmas).block_until_ready(), repeats
        )
        overhead = (t_total - t_calls) / t_total
        t_call = median_time(lambda: call(x, s_mid).block_until_ready(), 3 * repeats)
        overhead_call = (t_total - nfe * t_call) / t_total
        t_torch = kd = ratio = diff = float("nan")
        if torch is not None:
            x_t = torch.tensor(np.asarray(x))
            s_t = torch.tensor(np.asarray(sigmas))
            s_mid_t = s_t[0]
            if isinstance(k, str):
                tden = torch_mlp_denoiser(weights)
            else:
                layout, tden = fastest_torch_denoiser(w, mu, var, x_t, s_mid_t, repeats)
                print(f"  torch denoiser layout {name}: {layout}", flush=True)
            with torch.no_grad():
                t_torch = nfe * best_threads(lambda: median_time(lambda: tden(x_t, s_mid_t), repeats))
                # the two denoisers agree (same analytic mixture, JAX vs torch, float32): per sample,
                # relative to its norm (at sigma = 80 and d = 3072, float32 rounding of the
                # Mahalanobis terms moves single elements by about 1e-2 in either library)
                a, b = tden(x_t, s_mid_t).numpy(), np.asarray(call(x, s_mid))
                err = np.max(np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1))
                print(f"  denoiser agreement {name}: {err:.1e}", flush=True)
                assert err < 1e-2, err
            if kd_sampling is not None:
                kwargs = dict(kd_kwargs, disable=True)
                if stochastic:
                    kwargs["noise_sampler"] = _noise_sampler(key, x, sigmas)
                fn = getattr(kd_sampling, kd_name)
                kd = best_threads(lambda: median_time(lambda: fn(tden, x_t, s_t, **kwargs), repeats))
                ratio = kd / t_total
                out = fn(tden, x_t, s_t, **kwargs).numpy()
                diff = float(np.max(np.abs(out - np.asarray(sample(x)))))
                if stochastic:
                    noise_rows.append((name, t_total, kd, *_own_noise_times(fn, tden, x_t, s_t, kd_kwargs, repeats)))
        rows.append((name, str(nfe), f"{t_total:.4f}", f"{overhead:.1%}", f"{overhead_call:.1%}", f"{t_torch:.4f}",
                     "missing" if kd_sampling is None else f"{kd:.4f}",
                     "-" if kd_sampling is None else f"{ratio:.1f}x",
                     "-" if kd_sampling is None else f"{diff:.1e}"))
        print("  done:", name, flush=True)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*header))
    print(fmt.format(*("-" * w for w in widths)))
    for r in rows:
        print(fmt.format(*r))
    print("overhead = (jaxsci total - time of NFE chained jitted denoiser calls) / total; overhead/call uses NFE x "
          "one standalone jitted call; 'torch NFE x call' lower-bounds any eager torch sampler on the same denoiser.")
    if noise_rows:
        print("\nstochastic samplers, k-diffusion drawing its own noise (ratio = k-diffusion / jaxsci):")
        for name, t_total, fed, randn, tree in noise_rows:
            print(f"  {name}: jaxsci {t_total:.4f} s | fed precomputed noise {fed:.4f} s ({fed / t_total:.1f}x) | "
                  f"torch.randn_like each step {randn:.4f} s ({randn / t_total:.1f}x) | default noise_sampler "
                  + ("missing (no torchsde)" if tree is None else f"{tree:.4f} s ({tree / t_total:.1f}x)"))


def _own_noise_times(fn, tden, x_t, s_t, kd_kwargs, repeats):
    """k-diffusion's time drawing its own noise: `torch.randn_like` each step, and its
    default `noise_sampler` (a Brownian tree for the DPM++ SDE samplers; slow, timed once)."""
    kwargs = dict(kd_kwargs, disable=True)
    with torch.no_grad():
        randn = best_threads(lambda: median_time(
            lambda: fn(tden, x_t, s_t, noise_sampler=lambda s, s_next: torch.randn_like(x_t), **kwargs), repeats))
        try:
            import torchsde

            if getattr(torchsde, "BrownianTree", None) is None:  # an empty stand-in module
                tree = None
            else:
                with warnings.catch_warnings():  # torchsde warns about float rounding at the ends
                    warnings.simplefilter("ignore")
                    tree = median_time(lambda: fn(tden, x_t, s_t, **kwargs), 1)
        except ImportError:
            tree = None
    return randn, tree


def _noise_sampler(key, x, sigmas):
    """Feed k-diffusion the per-sample noise jaxsci draws at each step (drawn here, before
    any timing, so that k-diffusion's time contains no noise generation at all)."""
    levels = np.asarray(sigmas)
    draw_one = jax.jit(lambda i: jd.samplers.normal_like(jax.random.fold_in(key, i), x))
    noise = [torch.tensor(np.asarray(draw_one(i))) for i in range(len(levels) - 1)]

    def draw(sigma, sigma_next):
        return noise[int(np.argmin(np.abs(levels - float(sigma))))]

    return draw


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="batches / 16 (a smoke run)")
    parser.add_argument("--only", nargs="*", default=None, help="run workloads whose name contains one of these")
    parser.add_argument("--single-thread", action="store_true", help="one thread for XLA and for torch")
    parser.add_argument("--cpu-time", action="store_true", help="report process CPU time, not wall time")
    parser.add_argument("--extra", action="store_true", help="also the extra workloads (network denoiser, small batches)")
    args = parser.parse_args()
    SINGLE_THREAD = args.single_thread
    CPU_TIME = args.cpu_time
    run(args.repeats, args.quick, args.only, args.extra)
