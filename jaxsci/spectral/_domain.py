"""Periodic boxes: grids, wavenumbers, FFT layouts, derivative symbols, dealiasing masks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Complex, Float, Shaped

from .._checks import as_index
from ._args import checked_bool


def _float_dtype():
    return jnp.zeros(()).dtype


def _entries(value) -> tuple:
    """The entries of a scalar or a 1D sequence/array (a scalar is one entry)."""
    if isinstance(value, jax.core.Tracer):
        raise TypeError("traced")
    return (value,) if np.ndim(value) == 0 else tuple(value)


def _as_shape(shape) -> tuple[int, ...]:
    """`shape` as a tuple of Python ints: from an int, a NumPy/JAX integer scalar, or a
    sequence or 1D array of them (bools and non-integral values are rejected)."""
    try:
        sizes = tuple(as_index(n) for n in _entries(shape))
    except (TypeError, ValueError):
        sizes = (None,)
    if None in sizes:
        raise ValueError(f"`shape` must be a concrete integer or a sequence of integers, got {shape!r}.")
    return sizes


def _as_extent(extent, ndim: int) -> tuple[float, ...]:
    """`extent` as a tuple of Python floats: from a real number, a NumPy/JAX 0-d scalar (one
    length for every axis), or a sequence or 1D array of them."""
    try:
        entries = _entries(extent)
        if any(isinstance(e, str) or np.iscomplexobj(e) for e in entries):
            raise TypeError("not real")
        out = tuple(float(e) for e in entries)
    except (TypeError, ValueError):
        raise ValueError(f"`extent` must be a concrete real number or a sequence of them, got {extent!r}.") from None
    return out * ndim if np.ndim(extent) == 0 else out


class PeriodicDomain(eqx.Module):
    r"""A periodic box $\prod_j [0, L_j)$ sampled on $N_j$ equispaced points per axis.

    Axes may have different numbers of points and lengths (non-cubic grids), in 1, 2 or 3
    dimensions. Point $j$ of axis $a$ sits at $x = j L_a / N_a$. Fields are arrays of shape
    `(channels, *shape)`; their Fourier layout is `rfftn` over the spatial axes for real
    fields (last axis of length $N_{-1}//2+1$) and `fftn` for complex fields.

    **Arguments:**

    - `shape`: number of points per axis, e.g. `128`, `(128,)` or `(64, 32)` (Python,
      NumPy or JAX integers, or a 1D integer array).
    - `extent`: length of each axis; a single number (also a NumPy/JAX 0-d scalar) is used
      for every axis.
    - `paired`: the layout of two real fields evolved as one complex field (used by
      [`jaxsci.spectral.ensemble_rollout`][]; see "Paired layout" below), a `bool`. Default
      `False`.

    **Example:**

    ```python
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain((64, 32), (2.0, 1.0))
    x, y = domain.grid()
    ```

    **Nyquist convention.** At even $N$ the mode $N/2$ is its own mirror; its odd-order
    derivative symbols are set to zero (the only choice that keeps real fields real), while
    even-order symbols use $|k| = \pi N / L$ (Trefethen, *Spectral Methods in MATLAB*, ch. 3).

    **Paired layout.** Two real fields $u_1, u_2$ can share one complex FFT as
    $z = u_1 + i u_2$: every linear operator that maps real fields to real fields (all
    symbols of real PDEs) acts on $z$ as on each part, so a real PDE can evolve
    $\hat z = \hat u_1 + i\hat u_2$ with complex FFTs of half the batch instead of real FFTs
    of the whole batch. With `paired=True` the Fourier layout is the full `fftn` grid of
    $\hat z$ (the symbol methods return full-grid symbols), `ifft` returns the two real
    fields stacked on a pair axis, `(channels, 2, *shape)`, and `fft` packs such a pair
    back, so code written with `fft`, `ifft` and elementwise products of physical fields
    computes both fields' terms at once.
    """

    shape: tuple[int, ...] = eqx.field(static=True)
    extent: tuple[float, ...] = eqx.field(static=True)
    paired: bool = eqx.field(static=True)

    def __init__(
        self,
        shape: Sequence[int] | int,
        extent: Sequence[float] | float = 2 * math.pi,
        *,
        paired: bool = False,
    ):
        shape = _as_shape(shape)
        if not 1 <= len(shape) <= 3:
            raise ValueError(f"`shape` must have 1 to 3 axes, got {shape}.")
        if any(n < 2 for n in shape):
            raise ValueError(f"`shape` must hold integers >= 2, got {shape}.")
        extent = _as_extent(extent, len(shape))
        if len(extent) != len(shape):
            raise ValueError(f"`extent` has {len(extent)} entries but `shape` has {len(shape)}.")
        if any(not (math.isfinite(e) and e > 0) for e in extent):
            raise ValueError(f"`extent` must be positive and finite, got {extent}.")
        self.shape = shape
        self.extent = extent
        self.paired = checked_bool(paired, "paired")

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions."""
        return len(self.shape)

    @property
    def axes(self) -> tuple[int, ...]:
        """The spatial axes of a field `(channels, *shape)` (negative indices)."""
        return tuple(range(-self.ndim, 0))

    @property
    def spacing(self) -> tuple[float, ...]:
        """Grid spacing $L_j / N_j$ per axis."""
        return tuple(e / n for e, n in zip(self.extent, self.shape))

    def fourier_shape(self, complex_field: bool = False) -> tuple[int, ...]:
        """Shape of the spatial axes in Fourier space (`rfftn` layout unless `complex_field`
        or `paired`)."""
        if complex_field or self.paired:
            return self.shape
        return (*self.shape[:-1], self.shape[-1] // 2 + 1)

    def coordinates(self) -> tuple[Float[Array, " n"], ...]:
        """The 1D coordinates $j L / N$ of every axis."""
        dt = _float_dtype()
        return tuple(jnp.arange(n, dtype=dt) * (e / n) for n, e in zip(self.shape, self.extent))

    def grid(self) -> Float[Array, "dim *shape"]:
        """Meshgrid (`ij` indexing) of coordinates, shape `(ndim, *shape)`."""
        return jnp.stack(jnp.meshgrid(*self.coordinates(), indexing="ij"))

    def _integer_modes(self, complex_field: bool) -> list[np.ndarray]:
        """Signed integer mode numbers per axis, shaped to broadcast over the Fourier grid."""
        modes = []
        for a, n in enumerate(self.shape):
            last_real = (a == self.ndim - 1) and not (complex_field or self.paired)
            m = np.fft.rfftfreq(n, 1.0 / n) if last_real else np.fft.fftfreq(n, 1.0 / n)
            shape = [1] * self.ndim
            shape[a] = m.size
            modes.append(np.round(m).reshape(shape))
        return modes

    def wavenumbers(self, complex_field: bool = False) -> tuple[Float[Array, "..."], ...]:
        r"""Angular wavenumbers $k_j = 2\pi m_j / L_j$ per axis, broadcastable over the
        Fourier grid. At even $N$ the Nyquist entry is $+\pi N / L$ (its sign is irrelevant
        for even-order symbols; odd-order symbols zero it, see `derivative`)."""
        dt = _float_dtype()
        out = []
        for m, n, e in zip(self._integer_modes(complex_field), self.shape, self.extent):
            m = np.abs(m) * np.where(np.abs(m) == n / 2, 1.0, np.sign(m))
            out.append(jnp.asarray(2 * np.pi * m / e, dtype=dt))
        return tuple(out)

    def derivative(self, axis: int, order: int = 1, complex_field: bool = False) -> Array:
        r"""Fourier symbol $(i k_{axis})^{order}$ of $\partial^{order}/\partial x_{axis}^{order}$.

        For odd `order` the Nyquist mode of an even-length axis is zeroed."""
        if not 0 <= axis < self.ndim:
            raise ValueError(f"`axis` must be in [0, {self.ndim}), got {axis}.")
        n = self.shape[axis]
        m = self._integer_modes(complex_field)[axis]
        k = 2 * np.pi * m / self.extent[axis]
        sym = (1j * k) ** order
        if order % 2 == 1 and n % 2 == 0:
            sym = np.where(np.abs(m) == n // 2, 0.0, sym)
        if order % 2 == 0:
            sym = sym.real
            return jnp.asarray(sym, dtype=_float_dtype())
        return jnp.asarray(sym, dtype=jnp.result_type(_float_dtype(), jnp.complex64))

    def laplacian(self, complex_field: bool = False) -> Float[Array, "..."]:
        r"""Fourier symbol $-|k|^2$ of the Laplacian, full Fourier-grid shape."""
        ks = self.wavenumbers(complex_field)
        out = jnp.zeros(self.fourier_shape(complex_field), _float_dtype())
        for k in ks:
            out = out - k**2
        return out

    def dealiasing_mask(self, fraction: float | None, complex_field: bool = False) -> Array:
        r"""Boolean mask keeping modes with $|m_j| < \text{fraction} \cdot N_j / 2$ on every
        axis (Orszag's 2/3 rule for `fraction=2/3`); all ones if `fraction` is `None`."""
        if fraction is None:
            return jnp.ones(self.fourier_shape(complex_field), bool)
        mask = np.ones(self.fourier_shape(complex_field), bool)
        for m, n in zip(self._integer_modes(complex_field), self.shape):
            mask = mask & (np.abs(m) < fraction * n / 2)
        return jnp.asarray(mask)

    def fft(self, u: Shaped[Array, "c *shape"], complex_field: bool = False) -> Complex[Array, "..."]:
        r"""Forward FFT over the spatial axes (`rfftn` for real fields). In the paired
        layout `u` is a real pair `(..., 2, *shape)` and the result is $\hat u_1 + i\hat u_2$."""
        if self.paired:
            self._check_real(complex_field)
            if u.ndim <= self.ndim or u.shape[-self.ndim - 1] != 2:
                dims = ", ".join(map(str, self.shape))
                raise ValueError(f"A paired field must have shape (..., 2, {dims}), got {tuple(u.shape)}.")
            first = u[(..., 0) + (slice(None),) * self.ndim]
            second = u[(..., 1) + (slice(None),) * self.ndim]
            return jnp.fft.fftn(jax.lax.complex(first, second), axes=self.axes)
        if complex_field:
            return jnp.fft.fftn(u, axes=self.axes)
        return jnp.fft.rfftn(u, axes=self.axes)

    def ifft(self, u_hat: Complex[Array, "..."], complex_field: bool = False) -> Array:
        """Inverse of `fft` (`irfftn` with the domain's shape for real fields). In the
        paired layout it returns the real pair `(..., 2, *shape)`."""
        if self.paired:
            self._check_real(complex_field)
            z = jnp.fft.ifftn(u_hat, axes=self.axes)
            return jnp.stack([z.real, z.imag], axis=-self.ndim - 1)
        if complex_field:
            return jnp.fft.ifftn(u_hat, axes=self.axes)
        return jnp.fft.irfftn(u_hat, s=self.shape, axes=self.axes)

    def fourier_constant(self, field: np.ndarray, complex_field: bool = False) -> Complex[Array, "..."]:
        r"""Fourier coefficients of a fixed field given as a NumPy array of shape `shape`
        (a forcing, a source), computed with NumPy when traced, so no FFT runs per step.

        In the paired layout the field is shared by both members of the pair, so the
        result is $(1 + i)\hat f$. Use it for any constant added in Fourier space."""
        field = np.asarray(field)
        if field.shape != self.shape:
            raise ValueError(f"`field` must have shape {self.shape}, got {field.shape}.")
        dt = jnp.result_type(_float_dtype(), jnp.complex64)
        if self.paired:
            self._check_real(complex_field)
            return jnp.asarray((1 + 1j) * np.fft.fftn(field), dtype=dt)
        if complex_field:
            return jnp.asarray(np.fft.fftn(field), dtype=dt)
        return jnp.asarray(np.fft.rfftn(field), dtype=dt)

    def _check_real(self, complex_field: bool) -> None:
        if complex_field:
            raise ValueError("A paired domain holds two real fields; `complex_field` must be False.")

    def check_field(self, u: Array, num_channels: int, name: str = "u") -> None:
        """Raise `ValueError` unless `u` has shape `(num_channels, *shape)` (or
        `(num_channels, 2, *shape)` in the paired layout)."""
        expected = (num_channels, *((2,) if self.paired else ()), *self.shape)
        if tuple(u.shape) != expected:
            layout = "(channels, 2, *domain.shape)" if self.paired else "(channels, *domain.shape)"
            raise ValueError(f"`{name}` must have shape {layout} = {expected}, got {tuple(u.shape)}.")


def require_unpaired(domain: PeriodicDomain, caller: str) -> None:
    """Raise `ValueError` if `domain` has the paired layout, which `caller` does not take."""
    if domain.paired:
        raise ValueError(f"`{caller}` takes a domain with paired=False, got a paired domain.")
