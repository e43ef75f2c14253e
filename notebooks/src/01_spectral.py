import sys; sys.path.insert(0, "notebooks/src")
from _make import write

write("notebooks/01_spectral.ipynb", [
 ("md", "# Spectral PDE solvers with `jaxsci.spectral`\n\n"
        "Fourier pseudo-spectral discretisation on periodic boxes + exponential time differencing "
        "Runge-Kutta (ETDRK0-4). Everything is an `equinox.Module`, so solvers compose with "
        "`jit`, `vmap`, `grad` and sharding. This notebook shows: Kuramoto-Sivashinsky chaos, "
        "2D turbulence, and inferring a viscosity by gradient descent through a rollout.\n\n"
        "Sizes shrink when `JAXSCI_NOTEBOOK_TEST=1` (used by the test suite)."),
 ("code", "import os\nimport jax, jax.numpy as jnp, numpy as np, optax\nimport matplotlib.pyplot as plt\n"
          "import jaxsci.spectral as sp\n\nQUICK = os.environ.get(\"JAXSCI_NOTEBOOK_TEST\") == \"1\"\n"
          "print(jax.devices())"),
 ("md", "## 1. Kuramoto-Sivashinsky chaos\n\n"
        "$u_t + \\tfrac12 (u^2)_x + u_{xx} + u_{xxxx} = 0$ on $[0, 32\\pi)$, ETDRK4 with "
        "$\\Delta t = 1/4$ as in Kassam & Trefethen (2005). The mean of $u$ is conserved exactly."),
 ("code", "n, steps = (64, 200) if QUICK else (256, 1200)\n"
          "domain = sp.PeriodicDomain(n, 32 * np.pi)\n"
          "(x,) = domain.grid()\n"
          "u0 = (jnp.cos(x / 16) * (1 + jnp.sin(x / 16)))[None]\n"
          "stepper = sp.ETDRK(sp.KuramotoSivashinskyConservative(domain), dt=0.25, order=4)\n"
          "traj = sp.rollout(stepper, u0, steps, save_every=4, include_init=True)\n"
          "print(traj.shape, 'mean drift:', float(jnp.abs(traj.mean(axis=(1, 2)) - u0.mean()).max()))\n"
          "plt.figure(figsize=(8, 3))\n"
          "plt.imshow(traj[:, 0].T, aspect='auto', origin='lower', cmap='RdBu_r', extent=(0, steps * 0.25, 0, 32 * np.pi))\n"
          "plt.xlabel('t'); plt.ylabel('x'); plt.colorbar(); plt.show()"),
 ("md", "Sensitivity to initial conditions: two trajectories started $10^{-6}$ apart separate "
        "exponentially. `ensemble_rollout(..., pair=True)` runs the ensemble with two real "
        "members evolved as one complex field, so they share each FFT (same scheme as the "
        "vmapped `rollout`; each member's round-off now scales with its pair)."),
 ("code", "u0s = jnp.stack([u0, u0 + 1e-6 * jnp.sin(3 * x / 16)[None]])\n"
          "pair = sp.ensemble_rollout(stepper, u0s, steps, save_every=4, pair=True)\n"
          "sep = jnp.linalg.norm(pair[0] - pair[1], axis=(1, 2))\n"
          "plt.semilogy(np.arange(1, sep.size + 1) * 1.0, sep); plt.xlabel('t'); plt.ylabel('separation'); plt.show()"),
 ("md", "## 2. 2D turbulence\n\nVorticity form $\\omega_t + \\mathbf u\\cdot\\nabla\\omega = \\nu\\Delta\\omega$ "
        "from a Gaussian random field; enstrophy cascades to small scales."),
 ("code", "n2, steps2 = (48, 40) if QUICK else (256, 1000)\n"
          "dom2 = sp.PeriodicDomain((n2, n2))\n"
          "w0 = 5.0 * sp.gaussian_random_field(jax.random.key(0), dom2, exponent=4.0)\n"
          "ns = sp.ETDRK(sp.NavierStokes2D(dom2, nu=1e-3), dt=0.01 if not QUICK else 0.02, order=4)\n"
          "ws = sp.rollout(ns, w0, steps2, save_every=steps2 // 2, include_init=True)\n"
          "fig, ax = plt.subplots(1, 4, figsize=(15, 3.4))\n"
          "for i in range(3):\n"
          "    ax[i].imshow(ws[i, 0].T, origin='lower', cmap='RdBu_r'); ax[i].set_title(f'frame {i}')\n"
          "for i in range(3):\n"
          "    e = sp.energy_spectrum(ws[i], dom2); ax[3].loglog(np.arange(1, e.size), e[1:], label=f'frame {i}')\n"
          "ax[3].set_title('enstrophy spectrum'); ax[3].legend(); plt.show()"),
 ("md", "## 3. Inferring a viscosity by gradient descent through a rollout\n\n"
        "Observe a Burgers trajectory with unknown $\\nu$; differentiate the misfit through the "
        "ETDRK rollout (with $\\sqrt{n}$ checkpointing) and fit $\\log\\nu$ with Adam."),
 ("code", "dom = sp.PeriodicDomain(64)\n(x1,) = dom.grid()\nb0 = (jnp.sin(x1) + 0.5 * jnp.cos(2 * x1))[None]\n"
          "def simulate(nu):\n"
          "    return sp.rollout(sp.ETDRK(sp.Burgers(dom, nu), 0.02, 2), b0, 50, save_every=10, checkpoint='sqrt')\n"
          "nu_true = 0.08\ndata = simulate(nu_true) + 1e-3 * jax.random.normal(jax.random.key(1), (5, 1, 64))\n"
          "loss = jax.value_and_grad(lambda log_nu: jnp.mean((simulate(jnp.exp(log_nu)) - data) ** 2))\n"
          "opt = optax.adam(optax.exponential_decay(0.2, 15, 0.5))\n"
          "@jax.jit\n"
          "def fit(log_nu):\n"
          "    def step(carry, _):\n"
          "        p, s = carry\n"
          "        val, g = loss(p)\n"
          "        upd, s = opt.update(g, s)\n"
          "        return (optax.apply_updates(p, upd), s), val\n"
          "    (p, _), hist = jax.lax.scan(step, (log_nu, opt.init(log_nu)), None, length=80)\n"
          "    return p, hist\n"
          "log_nu, hist = fit(jnp.log(0.03))\n"
          "print('inferred nu =', float(jnp.exp(log_nu)), ' true nu =', nu_true)\n"
          "assert abs(float(jnp.exp(log_nu)) - nu_true) / nu_true < 0.05\n"
          "plt.semilogy(hist); plt.xlabel('Adam step'); plt.ylabel('misfit'); plt.show()"),
 ("md", "The gradient agrees with finite differences (see `tests/spectral/test_rollout.py`), "
        "and `checkpoint='sqrt'` gives the same gradient as the plain scan with "
        "$O(\\sqrt{n})$ memory."),
])
