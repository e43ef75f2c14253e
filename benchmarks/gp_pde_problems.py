"""Benchmark problems of the GP-HM solver (Fang et al., ICLR 2024, plus one 3D problem).

Each problem gives a `PDEProblem` whose source term and Dirichlet data come from an exact
solution (the source is computed once on the grid by autodiff of the exact solution), the
exact solution itself, the test axes used for the relative L2 error, the kernel settings,
and the best error the authors logged (None where the paper has no such problem).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp

from jaxsci.gp import PDEProblem

TWO_PI = 2 * math.pi


@dataclasses.dataclass
class Benchmark:
    name: str
    problem: PDEProblem
    exact: Callable
    test_axes: tuple
    max_frequency: float
    num_components: int
    authors_error: str | None
    note: str = ""
    nonlinear: bool = False

    def resized(self, sizes) -> "Benchmark":
        """The same problem on another collocation grid (the test grid is unchanged).

        The initial mixture's top frequency is capped at 0.95 x the new grid's Nyquist frequency.
        """
        nyquist = min(0.5 * (n - 1) / (hi - lo) for (lo, hi), n in zip(self.problem.bounds, sizes))
        b = _make(self.name, self.problem.bounds, sizes, self.exact, self.nonlinear,
                  min(self.max_frequency, 0.95 * nyquist), self.authors_error, q=self.num_components, note=self.note)
        return dataclasses.replace(b, test_axes=self.test_axes)


def _laplacian(exact):
    """Pointwise Laplacian of a scalar function of a point, by autodiff (exact, once per grid)."""
    hess = jax.vmap(jax.hessian(exact))
    return lambda pts: jnp.trace(hess(pts.reshape(-1, pts.shape[-1])), axis1=-2, axis2=-1).reshape(pts.shape[:-1])


def _make(name, bounds, sizes, exact, nonlinear, max_frequency, authors, test_n=300, q=20, note=""):
    d = len(bounds)
    derivs = tuple(tuple(2 if i == j else 0 for i in range(d)) for j in range(d))
    pts = jnp.stack(jnp.meshgrid(*(jnp.linspace(lo, hi, n) for (lo, hi), n in zip(bounds, sizes)), indexing="ij"), -1)
    u_exact = exact(pts)
    source = _laplacian(lambda p: exact(p[None])[0])(pts)
    if nonlinear:
        source = source + u_exact * (u_exact**2 - 1)

    def residual(u, dd, x):
        lap = sum(dd[m] for m in derivs)
        if nonlinear:
            lap = lap + u * (u**2 - 1)
        return lap - source

    problem = PDEProblem(bounds, sizes, residual, exact, derivatives=derivs)
    axes = tuple(jnp.linspace(lo, hi, test_n) for lo, hi in bounds)
    return Benchmark(name, problem, exact, axes, max_frequency, q, authors, note, nonlinear)


def problems(names=None) -> list[Benchmark]:
    """The benchmark list (float64 must be enabled by the caller)."""
    s = jnp.sin
    c = jnp.cos
    out = [
        _make("poisson1d_sin100", [(0, TWO_PI)], [400], lambda p: s(100 * p[..., 0]), False, 20.0, "4e-7..7e-7"),
        _make(
            "poisson1d_sin6cos100", [(0, TWO_PI)], [400], lambda p: s(6 * p[..., 0]) * c(100 * p[..., 0]), False,
            20.0, "1.5e-6..5e-6",
        ),
        _make("allencahn1d_sin100", [(0, TWO_PI)], [400], lambda p: s(100 * p[..., 0]), True, 20.0, "8e-7..2e-6"),
        _make(
            "poisson2d_sin6cos20", [(0, TWO_PI)] * 2, [200, 200],
            lambda p: s(6 * p[..., 0]) * c(20 * p[..., 0]) + s(6 * p[..., 1]) * c(20 * p[..., 1]), False, 6.0,
            "2e-4..1e-3",
        ),
        _make(
            "poisson2d_sin100", [(0, TWO_PI)] * 2, [400, 400], lambda p: s(100 * p[..., 0]) * s(100 * p[..., 1]),
            False, 20.0, "7e-5",
        ),
        _make(
            "poisson3d_sin20", [(0, 1)] * 3, [64, 64, 64],
            lambda p: s(20 * p[..., 0]) * s(20 * p[..., 1]) * s(20 * p[..., 2]), False, 6.0, None, test_n=100,
            note="domain [0,1]^3; test grid 100^3 (not 300^3, to bound memory/time)",
        ),
    ]
    return [b for b in out if names is None or b.name in names]
