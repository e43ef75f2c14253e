import sys; sys.path.insert(0, "notebooks/src")
from _make import write

write("notebooks/04_curvature.ipynb", [
 ("md", "# Curvature of a neural network with `jaxsci.curvature`\n\n"
        "Hessian-vector products, Lanczos eigenvalues, stochastic Lanczos quadrature and Hutchinson "
        "traces for any JAX loss over any parameter pytree. We train a small MLP by full-batch gradient "
        "descent and watch\n\n"
        "1. the **sharpness** $\\lambda_{\\max}(H)$ rise until it reaches $2/\\eta$ (the *edge of stability*, "
        "Cohen et al. 2021),\n2. the **Hessian spectrum** before and after training,\n"
        "3. the **per-layer sensitivity** $\\operatorname{tr}(H_{\\ell\\ell})/n_\\ell$ used for mixed-precision "
        "quantisation (HAWQ-V2).\n\nEvery number is checked against a dense computation at the end."),
 ("code", "import os\nimport jax, jax.numpy as jnp\nimport matplotlib.pyplot as plt\n"
          "from jaxsci.curvature import Hessian, eigenvalues, spectral_density, stability, trace\n\n"
          "TEST = os.environ.get(\"JAXSCI_NOTEBOOK_TEST\") == \"1\"  # tiny sizes under the test suite\n"
          "STEPS, EVERY, WIDTH = (240, 20, 16) if TEST else (3000, 50, 64)\nprint(jax.devices())"),
 ("md", "## A small regression MLP\n\nMean squared error on a smooth target; the parameters are a plain dict "
        "(equinox Modules and `flax.nnx.State` work the same way)."),
 ("code", "def init(key, sizes):\n"
          "    keys = jax.random.split(key, len(sizes))\n"
          "    return {f\"layer{i}\": {\"w\": jax.random.normal(k, (a, b)) / jnp.sqrt(a), \"b\": jnp.zeros(b)}\n"
          "            for i, (k, a, b) in enumerate(zip(keys, sizes[:-1], sizes[1:]))}\n\n"
          "def model(p, x):\n"
          "    for i in range(len(p)):\n"
          "        x = x @ p[f\"layer{i}\"][\"w\"] + p[f\"layer{i}\"][\"b\"]\n"
          "        x = jnp.tanh(x) if i < len(p) - 1 else x\n"
          "    return x\n\n"
          "def loss(p, batch):\n"
          "    x, y = batch\n"
          "    return 0.5 * jnp.mean(jnp.sum((model(p, x) - y) ** 2, axis=-1))\n\n"
          "kx, kp = jax.random.split(jax.random.key(0))\n"
          "x = jax.random.normal(kx, (128, 4))\n"
          "y = jnp.stack([jnp.sin(2 * x[:, 0]) * x[:, 1], jnp.cos(x[:, 2] + x[:, 3])], axis=1)\n"
          "batch = (x, y)\nparams0 = init(kp, (4, WIDTH, WIDTH, 2))\n"
          "print(sum(v.size for v in jax.tree.leaves(params0)), \"parameters\")"),
 ("md", "## Gradient descent with a stability monitor\n\n`stability` runs a few Lanczos steps for "
        "$\\lambda_{\\max}$ and a Hutchinson trace; it is jit-compiled once and called every `EVERY` steps."),
 ("code", "lr = jnp.asarray(0.5)\n"
          "monitor = jax.jit(lambda p, g: stability(Hessian(loss, p, batch), learning_rate=lr, grad=g,\n"
          "                                          key=jax.random.key(1), k=2, num_matvecs=20))\n"
          "step = jax.jit(lambda p: jax.tree.map(lambda a, g: a - lr * g, p, jax.grad(loss)(p, batch)))\n\n"
          "params, log = params0, []\n"
          "for t in range(STEPS + 1):\n"
          "    if t % EVERY == 0:\n"
          "        r = monitor(params, jax.grad(loss)(params, batch))\n"
          "        log.append((t, float(loss(params, batch)), float(r.sharpness), float(r.alignment)))\n"
          "    params = step(params)\n"
          "ts, losses, sharp, align = map(jnp.array, zip(*log))\n"
          "fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.4))\n"
          "a1.semilogy(ts, losses); a1.set_xlabel(\"step\"); a1.set_ylabel(\"loss\")\n"
          "a2.plot(ts, sharp, label=\"sharpness $\\\\lambda_{max}$\"); a2.axhline(2 / lr, color=\"k\", ls=\"--\", label=\"2 / lr\")\n"
          "a2.set_xlabel(\"step\"); a2.legend(); plt.show()\n"
          "print(\"gradient fraction in the top-2 eigenspace:\", [round(float(a), 2) for a in align[-5:]])"),
 ("md", "## The Hessian spectrum before and after training\n\nStochastic Lanczos quadrature: a few probes, "
        "a few dozen Lanczos steps each, never the dense matrix."),
 ("code", "fig, ax = plt.subplots(figsize=(6, 3.4))\n"
          "for name, p in ((\"init\", params0), (\"trained\", params)):\n"
          "    sd = spectral_density(Hessian(loss, p, batch), key=jax.random.key(2), num_probes=4, num_steps=30)\n"
          "    ax.semilogy(sd.grid, sd.density + 1e-6, label=name)\n"
          "ax.set_xlabel(\"eigenvalue\"); ax.legend(); plt.show()"),
 ("md", "## Per-layer sensitivity (HAWQ-V2)\n\nOne set of Hutchinson probes gives every layer's trace "
        "$\\operatorname{tr}(H_{\\ell\\ell})$, and the per-layer traces add up to the total."),
 ("code", "H = Hessian(loss, params, batch)\n"
          "per_layer, err = trace(H, key=jax.random.key(3), num_matvecs=100, blocks=lambda p: dict(p))\n"
          "sizes = {k: sum(v.size for v in jax.tree.leaves(params[k])) for k in params}\n"
          "for k in per_layer:\n"
          "    print(f\"{k}: tr = {float(per_layer[k]):9.4f} +- {float(err[k]):.4f}, mean eigenvalue = {float(per_layer[k]) / sizes[k]:.5f}\")\n"
          "plt.bar(list(per_layer), [float(per_layer[k]) / sizes[k] for k in per_layer]); plt.ylabel(\"tr(H_l) / n_l\"); plt.show()"),
 ("md", "## Check against the dense Hessian"),
 ("code", "from jax.flatten_util import ravel_pytree\n"
          "flat, unravel = ravel_pytree(params)\n"
          "dense = jax.hessian(lambda f: loss(unravel(f), batch))(flat)\n"
          "ev = jnp.linalg.eigvalsh(dense)\n"
          "top, _ = eigenvalues(H, 3, num_matvecs=60)\n"
          "print(\"Lanczos:\", top, \"\\ndense:  \", ev[::-1][:3])\n"
          "assert jnp.allclose(top, ev[::-1][:3], rtol=1e-3)\n"
          "total, total_err = trace(H, key=jax.random.key(3), num_matvecs=100)\n"
          "assert abs(sum(per_layer.values()) - total) < 1e-3 * abs(total)  # per-layer traces sum to the total\n"
          "assert abs(total - jnp.trace(dense)) < 5 * total_err"),
])
