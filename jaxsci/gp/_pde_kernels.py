"""Initial per-axis kernels of the GP-HM solver and their log-domain parametrisation."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._checks import checked_int
from .kernels import AbstractKernel, MaternCosineMixture, SpectralMixture

KERNEL_NAMES = ("matern_cosine", "spectral_mixture")


def default_kernels(kernel, problem, num_components, max_frequency, key, dtype) -> tuple:
    """One kernel per axis: built from a name, or the given Module(s) used as they are.

    Named kernels put `num_components` components at frequencies evenly spaced in
    $[0, \\mu_{max}]$ with equal weights and a spectral width equal to the spacing, so the
    mixture covers the band; learning the (log-)weights then prunes unused frequencies.
    """
    d = problem.ndim
    if isinstance(kernel, AbstractKernel):
        return (kernel,) * d
    if isinstance(kernel, (tuple, list)):
        if len(kernel) != d or not all(isinstance(k, AbstractKernel) for k in kernel):
            raise ValueError(f"kernel must be a name, one kernel or {d} kernels (one per axis), got {kernel!r}")
        return tuple(kernel)
    if kernel not in KERNEL_NAMES:
        raise ValueError(f"kernel must be one of {KERNEL_NAMES}, a kernel Module or a sequence of them, got {kernel!r}")
    q = checked_int(num_components, f"num_components must be a positive integer, got {num_components!r}")
    keys = jax.random.split(key, d) if key is not None else [None] * d
    return tuple(_one(kernel, q, max_frequency, h, keys[j], dtype) for j, h in enumerate(problem.spacings))


def _one(name, q, max_frequency, spacing, key, dtype):
    nyquist = 0.5 / spacing
    top = float(max_frequency) if max_frequency is not None else 0.6 * nyquist
    if not 0 < top <= nyquist:
        raise ValueError(f"max_frequency must lie in (0, Nyquist = {nyquist:.4g}] for this grid, got {top}")
    frequencies = jnp.linspace(0.0, top, q, dtype=dtype)
    width = top / max(q - 1, 1)
    if key is not None:
        frequencies = jnp.abs(frequencies + 0.25 * width * jax.random.uniform(key, (q,), dtype, -1.0, 1.0))
    weights = jnp.full((q,), 1.0 / q, dtype)
    if name == "matern_cosine":
        # Matern-5/2 spectral half-width is about sqrt(5) / (2 pi l); match it to the spacing.
        lengthscales = jnp.full((q,), np.sqrt(5) / (2 * np.pi * width), dtype)
        return MaternCosineMixture(weights, lengthscales, frequencies)
    return SpectralMixture(weights, frequencies, jnp.full((q,), 0.5 * width, dtype))


class LogLeaf(eqx.Module):
    """A positive parameter stored by its logarithm while optimising."""

    log: jax.Array


def to_log_domain(kernel):
    """Replace every positive-constrained array field by a `LogLeaf` (weights in the log domain)."""
    free = getattr(type(kernel), "unconstrained_fields", ())
    names = []
    for f in dataclasses.fields(kernel):
        value = getattr(kernel, f.name)
        if f.name not in free and eqx.is_inexact_array(value) and bool(jnp.all(value > 0)):
            names.append(f.name)
    if not names:
        return kernel
    return eqx.tree_at(
        lambda k: [getattr(k, n) for n in names], kernel, [LogLeaf(jnp.log(getattr(kernel, n))) for n in names]
    )


def from_log_domain(tree):
    """Undo `to_log_domain` anywhere inside `tree`."""
    return jax.tree.map(
        lambda a: jnp.exp(a.log) if isinstance(a, LogLeaf) else a, tree, is_leaf=lambda a: isinstance(a, LogLeaf)
    )


def cap_envelope(kernel, extent: float):
    r"""The mixture kernel with every component's envelope lengthscale at most `extent`.

    On an axis of length `extent` an envelope longer than the axis cannot be told from a pure
    cosine, and it makes the axis kernel matrix numerically rank-deficient (the MAP solve then
    rests on the jitter). Matern-cosine lengthscales are capped at `extent`, spectral-mixture
    spectral widths floored at $1/(2\pi\,\text{extent})$ (the same envelope lengthscale);
    other kernels are returned unchanged.
    """
    if isinstance(kernel, MaternCosineMixture):
        return eqx.tree_at(lambda k: k.lengthscales, kernel, jnp.minimum(kernel.lengthscales, extent))
    if isinstance(kernel, SpectralMixture):
        return eqx.tree_at(lambda k: k.scales, kernel, jnp.maximum(kernel.scales, 1.0 / (2 * np.pi * extent)))
    return kernel
