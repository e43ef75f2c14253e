"""Small Fourier-space building blocks shared by the PDE library."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array

from .._domain import PeriodicDomain


def gradient_symbols(domain: PeriodicDomain, complex_field: bool = False) -> list[Array]:
    """First-derivative symbols $i k_j$ of every axis (Nyquist zeroed at even N)."""
    return [domain.derivative(a, 1, complex_field) for a in range(domain.ndim)]


def sum_of_derivatives(domain: PeriodicDomain, order: int, complex_field: bool = False) -> Array:
    r"""Symbol of $\sum_j \partial_j^{order}$, full Fourier-grid shape."""
    out = jnp.zeros(domain.fourier_shape(complex_field), domain.derivative(0, order, complex_field).dtype)
    for a in range(domain.ndim):
        out = out + domain.derivative(a, order, complex_field)
    return out


def k_squared(domain: PeriodicDomain, complex_field: bool = False) -> Array:
    """$|k|^2$ on the Fourier grid."""
    return -domain.laplacian(complex_field)


