import sys; sys.path.insert(0, "notebooks/src")
from _make import write

write("notebooks/03_diffusion.ipynb", [
 ("md", """# jaxsci.diffusion: samplers, guidance and likelihoods on an exact target

Every sampler in `jaxsci.diffusion` takes a denoiser `denoiser(x, sigma) -> x0_hat` in the
variance-exploding convention $x = x_0 + \\sigma n$. A Gaussian mixture has an exact denoiser
at every noise level, so we can measure sampler errors against the truth instead of eyeballing
pictures. This notebook compares the samplers by error against the number of denoiser calls
(NFE), shows classifier-free and adaptive projected guidance, and checks the probability-flow
likelihood against the exact density."""),
 ("code", """import os
import time
import jax, jax.numpy as jnp, numpy as np
import matplotlib.pyplot as plt
from jaxsci import diffusion as jd

QUICK = os.environ.get("JAXSCI_NOTEBOOK_TEST") == "1"   # small sizes when run by the test suite
N = 1000 if QUICK else 8000
target = jd.targets.GaussianMixture(
    jnp.array([0.2, 0.3, 0.5]),
    jnp.array([[-3.0, 0.0], [2.0, 2.0], [2.0, -2.0]]),
    jnp.array([[0.3, 0.3], [0.5, 0.2], [0.2, 0.4]]),   # diagonal covariances
)
exact = target.sample(jax.random.key(0), N)
x_T = 80.0 * jax.random.normal(jax.random.key(1), (N, 2))   # start at sigma_max = 80"""),
 ("md", """## Error against NFE

The error is the sliced Wasserstein distance between sampler output and exact samples of the
mixture (it has a Monte-Carlo floor of a few hundredths at this sample size). NFE counts
denoiser calls: first-order and multistep samplers use one per step, Heun/DPM2/DPM++ 2S/SDE two."""),
 ("code", """def sliced_w2(a, b, key=jax.random.key(9), n_proj=64):
    th = jax.random.normal(key, (n_proj, 2)); th = th / jnp.linalg.norm(th, axis=1, keepdims=True)
    return float(jnp.sqrt(jnp.mean((jnp.sort(a @ th.T, 0) - jnp.sort(b @ th.T, 0)) ** 2)))

samplers = {  # name: (sampler, denoiser calls per step)
    "Euler": (jd.Euler(), 1), "Heun": (jd.Heun(), 2), "DPM++ 2M": (jd.DPMpp2M(), 1),
}
if not QUICK:
    samplers.update({"DPM2": (jd.DPM2(), 2), "LMS(4)": (jd.LMS(order=4), 1),
                     "DPM++ 3M (ODE)": (jd.DPMpp3MSDE(eta=0.0), 1),
                     "Euler ancestral": (jd.EulerAncestral(), 1), "DPM++ 2M SDE": (jd.DPMpp2MSDE(), 1),
                     "DPM++ SDE": (jd.DPMppSDE(), 2)})
nfes = [6, 12] if QUICK else [6, 10, 16, 24, 40]
results = {}
for name, (sampler, per_step) in samplers.items():
    errs = []
    for nfe in nfes:
        sigmas = jd.karras_sigmas(max(nfe // per_step, 1), 0.002, 80.0)
        y = jd.sample(target.denoiser, x_T, sigmas, sampler=sampler, key=jax.random.key(2))
        errs.append(sliced_w2(y, exact))
    results[name] = errs
    print(f"{name:16s}", " ".join(f"{e:.3f}" for e in errs))

fig, ax = plt.subplots(figsize=(6, 4))
for name, errs in results.items():
    ax.loglog(nfes, errs, "o-", label=name)
ax.set(xlabel="NFE (denoiser calls)", ylabel="sliced W2 to exact samples")
ax.legend(fontsize=8); plt.show()"""),
 ("code", """# a sanity check the test suite relies on: more calls give a better sample for every sampler
assert all(errs[-1] < errs[0] for errs in results.values()), results"""),
 ("md", """## Guidance

Guidance is a denoiser transformation. The conditional model is the exact denoiser of
component 0 (weight 0.2); the unconditional one is the mixture. Classifier-free guidance
extrapolates $D_u + w (D_c - D_u)$; APG splits the update into parts parallel and
orthogonal to $D_c$, drops most of the parallel part, clips its norm and adds momentum over
the steps (its state lives in the sampler's `lax.scan`)."""),
 ("code", """cond = target.component(0).denoiser
sigmas = jd.karras_sigmas(16, 0.002, 80.0)
dens = {
    "unguided": target.denoiser,
    "CFG w=3": jd.ClassifierFreeGuidance(cond, target.denoiser, scale=3.0),
    "APG w=3": jd.AdaptiveProjectedGuidance(cond, target.denoiser, scale=3.0, eta=0.0,
                                            momentum=-0.5, norm_threshold=5.0),
}
fig, axes = plt.subplots(1, 3, figsize=(11, 3.5), sharex=True, sharey=True)
fractions = {}
for ax, (name, den) in zip(axes, dens.items()):
    y = jd.sample(den, x_T, sigmas, sampler=jd.DPMpp2M())
    fractions[name] = float(jnp.mean(jnp.argmax(target.responsibilities(y), 1) == 0))
    ax.scatter(y[:, 0], y[:, 1], s=1, alpha=0.4); ax.set_title(f"{name}: {fractions[name]:.0%} in comp. 0")
plt.show()
assert fractions["CFG w=3"] > 0.9 and fractions["APG w=3"] > 0.7 and fractions["unguided"] < 0.3"""),
 ("md", """## Likelihood through the probability-flow ODE

`log_likelihood` integrates the probability-flow ODE with diffrax's adaptive Tsit5 and the
exact divergence (or a Hutchinson estimate with one fixed probe per solve). With the exact
noised density as prior at $\\sigma_{max}$, the only error left is the ODE solver's."""),
 ("code", """pts = target.sample(jax.random.key(3), 16 if QUICK else 200)
ll = jax.jit(lambda p: jd.log_likelihood(target.denoiser, p, sigma_min=0.01, sigma_max=20.0,
                                         prior_log_prob=lambda z: target.log_prob(z, 20.0)))(pts)
truth = target.log_prob(pts, 0.01)
print("max |error|:", float(jnp.max(jnp.abs(ll - truth))))
assert float(jnp.max(jnp.abs(ll - truth))) < 1e-2
plt.figure(figsize=(4, 4)); plt.plot(truth, ll, "o", ms=3); plt.xlabel("exact"); plt.ylabel("ODE"); plt.show()"""),
 ("code", """# the likelihood is differentiable: gradient of the mean log-likelihood w.r.t. the mixture means
def mean_ll(means):
    t = jd.targets.GaussianMixture(target.weights, means, target.covariances)
    return jnp.mean(jd.log_likelihood(t.denoiser, pts[:4], sigma_min=0.01, sigma_max=20.0,
                                      prior_log_prob=lambda z: t.log_prob(z, 20.0)))
if not QUICK:
    print(jax.grad(mean_ll)(target.means))"""),
])
