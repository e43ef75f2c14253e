"""Random initial conditions on a periodic domain."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._checks import checked_int
from .._types import PRNGKey
from ._domain import PeriodicDomain, require_unpaired


def _hermitian_field(key, domain: PeriodicDomain, amplitude: Array, num_channels: int) -> Array:
    require_unpaired(domain, "random_fourier_series/gaussian_random_field")
    shape = (num_channels, *domain.fourier_shape())
    kr, ki = jax.random.split(key)
    noise = jax.random.normal(kr, shape) + 1j * jax.random.normal(ki, shape)
    # irfftn of white complex noise keeps only its Hermitian part: a real field.
    u = domain.ifft(amplitude * noise)
    u = u - u.mean(axis=domain.axes, keepdims=True)
    scale = jnp.sqrt(jnp.mean(u**2, axis=domain.axes, keepdims=True))
    return u / jnp.where(scale > 0, scale, 1.0)


def random_fourier_series(
    key: PRNGKey, domain: PeriodicDomain, *, max_wavenumber: int = 5, num_channels: int = 1
) -> Float[Array, "c *shape"]:
    r"""A real random truncated Fourier series with modes $|m_j| \le$ `max_wavenumber`.

    Gaussian coefficients on the kept modes, zero mean, normalised to unit RMS per channel.

    **Arguments:** `key`; `domain`; `max_wavenumber` (integer cutoff per axis);
    `num_channels`.

    **Returns:** an array `(num_channels, *domain.shape)`.

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    u0 = sp.random_fourier_series(jax.random.key(0), sp.PeriodicDomain(64), max_wavenumber=3)
    assert u0.shape == (1, 64) and jnp.allclose(jnp.sqrt(jnp.mean(u0**2)), 1.0)   # unit RMS
    ```
    """
    max_wavenumber = checked_int(max_wavenumber, f"`max_wavenumber` must be a positive int, got {max_wavenumber!r}.")
    if max_wavenumber >= min(domain.shape) // 2:
        raise ValueError(f"`max_wavenumber` must be below N/2 = {min(domain.shape) // 2}.")
    mask = np.ones(domain.fourier_shape(), bool)
    for m in domain._integer_modes(False):
        mask = mask & (np.abs(m) <= max_wavenumber)
    return _hermitian_field(key, domain, jnp.asarray(mask, jnp.zeros(()).dtype), num_channels)


def gaussian_random_field(
    key: PRNGKey, domain: PeriodicDomain, *, exponent: float = 3.0, num_channels: int = 1
) -> Float[Array, "c *shape"]:
    r"""A real Gaussian random field with power spectrum $\propto |m|^{-\text{exponent}}$.

    Coefficient amplitudes $\propto |m|^{-\text{exponent}/2}$ on integer mode numbers
    (the mean mode is zero); normalised to unit RMS per channel. Larger exponents give
    smoother fields. The Nyquist modes are dropped so that the field is exactly
    band-limited.

    **Arguments:** `key`; `domain`; `exponent` $\ge 0$; `num_channels`.

    **Returns:** an array `(num_channels, *domain.shape)`.

    ```python
    import jax
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain((128, 128))
    rough = sp.gaussian_random_field(jax.random.key(0), domain, exponent=2.0)
    smooth = sp.gaussian_random_field(jax.random.key(0), domain, exponent=6.0)
    E_rough, E_smooth = sp.energy_spectrum(rough, domain), sp.energy_spectrum(smooth, domain)
    assert E_smooth[32] < E_rough[32]      # less energy at high wavenumbers
    ```
    """
    if not exponent >= 0:
        raise ValueError(f"`exponent` must be non-negative, got {exponent!r}.")
    modes = domain._integer_modes(False)
    m2 = sum(m.astype(float) ** 2 for m in modes)
    amp = np.where(m2 > 0, np.maximum(m2, 1.0) ** (-exponent / 4), 0.0)
    for m, n in zip(modes, domain.shape):
        amp = amp * (np.abs(m) < n / 2)
    return _hermitian_field(key, domain, jnp.asarray(amp, jnp.zeros(()).dtype), num_channels)
