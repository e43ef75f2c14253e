"""Random initial conditions on a periodic domain."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._checks import checked_int, positive_int
from .._types import PRNGKey
from ._domain import PeriodicDomain, require_unpaired


def _hermitian_field(key, domain: PeriodicDomain, amplitude: Array, num_channels: int) -> Array:
    """A real field from complex Gaussian coefficients times `amplitude`, with zero mean and
    each channel rescaled to unit RMS (so no longer Gaussian)."""
    require_unpaired(domain, "random_fourier_series")
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
    `num_channels` (a positive int).

    **Returns:** an array `(num_channels, *domain.shape)`.

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    u0 = sp.random_fourier_series(jax.random.key(0), sp.PeriodicDomain(64), max_wavenumber=3)
    assert u0.shape == (1, 64) and jnp.allclose(jnp.sqrt(jnp.mean(u0**2)), 1.0)   # unit RMS
    ```
    """
    max_wavenumber = checked_int(max_wavenumber, f"`max_wavenumber` must be a positive int, got {max_wavenumber!r}.")
    num_channels = positive_int(num_channels, "num_channels")
    if max_wavenumber >= min(domain.shape) // 2:
        raise ValueError(f"`max_wavenumber` must be below N/2 = {min(domain.shape) // 2}.")
    mask = np.ones(domain.fourier_shape(), bool)
    for m in domain._integer_modes(False):
        mask = mask & (np.abs(m) <= max_wavenumber)
    return _hermitian_field(key, domain, jnp.asarray(mask, jnp.zeros(()).dtype), num_channels)


def gaussian_random_field(
    key: PRNGKey, domain: PeriodicDomain, *, exponent: float = 3.0, num_channels: int = 1
) -> Float[Array, "c *shape"]:
    r"""A real, stationary Gaussian random field with power spectrum $\propto |m|^{-\text{exponent}}$.

    White Gaussian noise filtered in Fourier space by amplitudes $\propto |m|^{-\text{exponent}/2}$
    on integer mode numbers $m$: every Fourier coefficient $\hat u(m)$ of the field (on the full
    `fftn` grid) is Gaussian with $E|\hat u(m)|^2 = c\,|m|^{-\text{exponent}}$, with the same
    constant $c$ for all $m$. The mean mode and the Nyquist modes are zero, so that the field
    has zero mean and is exactly band-limited. Larger exponents give smoother fields.

    **Normalisation.** $c$ is deterministic: the *expected* mean square of each channel,
    $E\langle u^2\rangle$, is 1. A single sample's RMS fluctuates around 1 (the more so for
    steep spectra, whose variance sits in a few low modes); it is not rescaled per sample,
    which would make the field non-Gaussian and bias the spectrum of its low modes.

    **Arguments:** `key`; `domain`; `exponent` $\ge 0$; `num_channels` (a positive int).

    **Returns:** an array `(num_channels, *domain.shape)` (all zeros on a grid whose only modes
    are the mean and Nyquist modes, such as 2 points per axis).

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
    num_channels = positive_int(num_channels, "num_channels")
    require_unpaired(domain, "gaussian_random_field")
    modes = domain._integer_modes(False)
    m2 = sum(m.astype(float) ** 2 for m in modes)
    amp = np.where(m2 > 0, np.maximum(m2, 1.0) ** (-exponent / 4), 0.0)
    for m, n in zip(modes, domain.shape):
        amp = amp * (np.abs(m) < n / 2)
    # The rfftn of white noise of unit variance has E|w(m)|^2 = N at every mode m of the full
    # grid, so E<u^2> = sum_m amp(m)^2 / N over the full grid (Parseval). On the rfftn layout
    # the modes with 0 < m_last < N_last/2 stand for two modes of the full grid (m and -m).
    n_total = float(np.prod(domain.shape))
    last = np.abs(modes[-1])
    weight = np.where((last == 0) | (2 * last == domain.shape[-1]), 1.0, 2.0)
    mean_square = float(np.sum(weight * amp**2)) / n_total
    amp = amp / np.sqrt(mean_square) if mean_square > 0 else amp
    white = jax.random.normal(key, (num_channels, *domain.shape))
    return domain.ifft(jnp.asarray(amp, white.dtype) * domain.fft(white))
