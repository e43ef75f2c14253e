import sys; sys.path.insert(0, "notebooks/src")
from _make import write

write("notebooks/05_gp_pde.ipynb", [
 ("md", """# Solving high-frequency PDEs with Gaussian processes

`jaxsci.gp.solve_pde` has two formulations on a tensor grid, both with one kernel per axis
(Matern-cosine or spectral mixtures, so the model learns the solution's spectrum):

- **collocation** (default on small grids): condition the GP on the equation itself,
  $\sum_m c_m(x_i)\partial^m u(x_i) = f(x_i)$ at the grid points and $u = g$ on the boundary,
  with closed-form kernel-derivative covariances; the kernel's mixture weights, lengthscales
  and frequencies are fitted by maximising the marginal likelihood of $(f, g)$, which never
  looks at the solution; nonlinear equations by Gauss-Newton;
- **GP-HM** (Fang et al., ICLR 2024): the unknowns are the grid values $U$, derivatives are
  $D_j^{(a)}U$ with $D_j^{(a)} = K_j^{(a,0)}K_j^{-1}$, and training minimises
  $-\log\mathcal N(\mathrm{vec}\,U\mid 0, K_1\otimes\dots\otimes K_d) + \tfrac{\tau_b}{2}\|U_b - g\|^2 + \tfrac{\tau_r}{2}\|r(U)\|^2 + \dots$;
  it scales to large grids through Kronecker algebra (`method="map"` / `"adam"`).

We solve the paper's high-frequency 1D Poisson problem by collocation, plot the learned
spectrum, then a 2D problem with the Kronecker MAP path."""),
 ("code", """import os, math
import jax, jax.numpy as jnp
import matplotlib.pyplot as plt
jax.config.update("jax_enable_x64", True)
from jaxsci.gp import PDEProblem, solve_pde

TEST = os.environ.get("JAXSCI_NOTEBOOK_TEST") == "1"   # tiny sizes under the test suite
n1d, w, q = (48, 6.0, 6) if TEST else (400, 100.0, 20)"""),
 ("md", """## 1D: $u'' = f$ on $[0, 2\pi]$ with $u = \sin(w x)$

The source and the Dirichlet data come from the exact solution; with $w = 100$ and 400 points
there are only four grid points per period. The returned solution is the final iterate of 50
marginal-likelihood steps (no selection on the truth)."""),
 ("code", """def exact(x):
    return jnp.sin(w * x[..., 0])

problem = PDEProblem([(0.0, 2 * math.pi)], [n1d],
                     residual=lambda u, d, x: d[(2,)] + w**2 * exact(x),
                     boundary=exact)
xt = jnp.linspace(0, 2 * math.pi, 300)
rel = lambda s: jnp.linalg.norm(s.on_grid(xt) - exact(xt[:, None])) / jnp.linalg.norm(exact(xt[:, None]))
fmax = 1.25 * w / (2 * math.pi)
sol = solve_pde(problem, method="collocation", num_components=q, max_frequency=fmax)
print("relative L2 error:", float(rel(sol)))"""),
 ("code", """from jaxsci.gp._pde_kernels import default_kernels
k0 = default_kernels("matern_cosine", problem, q, fmax, None, jnp.float64)[0]
k1 = sol.kernels[0]
fig, ax = plt.subplots(1, 3, figsize=(15, 3.5))
ax[0].plot(xt, sol.on_grid(xt), label="GP collocation"); ax[0].plot(xt, exact(xt[:, None]), "--", label="exact")
ax[0].set_xlim(0, 2 * math.pi * 6 / w); ax[0].legend(); ax[0].set_title("solution (zoom)")
ax[1].plot(sol.history["loss"]); ax[1].set_title("negative log marginal likelihood"); ax[1].set_xlabel("Adam step")
ax[2].stem(k0.frequencies, k0.weights, linefmt="C7-", markerfmt="C7o", label="initial")
ax[2].stem(jnp.abs(k1.frequencies), k1.weights, label="learned")
ax[2].axvline(w / (2 * math.pi), color="r", ls=":", label="true frequency")
ax[2].set_yscale("log"); ax[2].set_xlabel("frequency (cycles / unit)"); ax[2].legend(); ax[2].set_title("mixture weights")
plt.tight_layout()"""),
 ("md", """## 2D: $\\Delta u = f$ on $[0,1]^2$, exact Kronecker MAP

With the kernels fixed, the objective is quadratic for a linear PDE. `method="map"` solves
its normal equations by preconditioned CG using only Kronecker matrix-vector products
($K^{-1}$ through per-axis eigendecompositions, $D_j$ by mode products). We then let Adam
adapt the kernels and precisions from that start (`init="map"`, a tiny step for $U$)."""),
 ("code", """n2d = 12 if TEST else 48
def exact2(x):
    return jnp.sin(2 * math.pi * x[..., 0]) * jnp.sin(4 * math.pi * x[..., 1])

problem2 = PDEProblem([(0.0, 1.0), (0.0, 1.0)], [n2d, n2d],
                      residual=lambda u, d, x: d[(2, 0)] + d[(0, 2)] + 20 * math.pi**2 * exact2(x),
                      boundary=exact2)
xs = jnp.linspace(0, 1, 100)
ref = exact2(jnp.stack(jnp.meshgrid(xs, xs, indexing="ij"), -1))
err2 = lambda s: float(jnp.linalg.norm(s.on_grid(xs, xs) - ref) / jnp.linalg.norm(ref))
sol_map = solve_pde(problem2, kernel="matern_cosine", num_components=8, max_frequency=4.0, method="map")
sol2 = solve_pde(problem2, kernel="matern_cosine", num_components=8, max_frequency=4.0, method="adam", init="map",
                 num_steps=10 if TEST else 300, learning_rate=1e-2, u_learning_rate=1e-8)
print("MAP error:", err2(sol_map), "  after Adam on kernels/precisions:", err2(sol2))"""),
 ("code", """fig, ax = plt.subplots(1, 3, figsize=(15, 3.8))
im = ax[0].imshow(sol2.on_grid(xs, xs).T, origin="lower", extent=(0, 1, 0, 1)); fig.colorbar(im, ax=ax[0]); ax[0].set_title("GP-HM solution")
im = ax[1].imshow((sol2.on_grid(xs, xs) - ref).T, origin="lower", extent=(0, 1, 0, 1)); fig.colorbar(im, ax=ax[1]); ax[1].set_title("error")
for j, (k, true) in enumerate(zip(sol2.kernels, (1.0, 2.0))):
    ax[2].stem(k.frequencies, k.weights, linefmt=f"C{j}-", markerfmt=f"C{j}o", label=f"axis {j}")
    ax[2].axvline(true, color=f"C{j}", ls=":")
ax[2].set_yscale("log"); ax[2].legend(); ax[2].set_title("learned mixture weights (dotted: true frequencies)")
plt.tight_layout()"""),
 ("md", """Reference: S. Fang, M. Xu, S. Li, R. M. Kirby, S. Zhe, *Solving High Frequency and
Multi-Scale PDEs with Gaussian Processes*, ICLR 2024; Y. Chen, B. Hosseini, H. Owhadi,
A. M. Stuart, *Solving and learning nonlinear PDEs with Gaussian processes*, J. Comput. Phys.
2021 (collocation, Gauss-Newton). Benchmarks against the paper's problems
are in `benchmarks/gp_pde.py`."""),
])
