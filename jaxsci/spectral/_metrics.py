"""Error metrics and spectra of fields on a periodic domain."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Shaped

from .._numerics import safe_norm
from ._domain import PeriodicDomain, require_unpaired


def relative_l2(u: Shaped[Array, "..."], reference: Shaped[Array, "..."]) -> Float[Array, ""]:
    r"""Relative L2 error $\|u - u_{ref}\|_2 / \|u_{ref}\|_2$ over all entries.

    It is differentiable everywhere, also where $u = u_{ref}$: there the norm has a kink
    and the gradient returned is 0 (a subgradient, and the gradient of the minimum of a
    fitting loss), where `jnp.linalg.norm` would give NaN. A zero `reference` gives 0 if
    `u` is zero too (no error) and `inf` otherwise, never NaN.

    **Arguments:** `u`, `reference` of equal shape. **Returns:** a scalar.

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    err = sp.relative_l2(jnp.array([1.0, 2.0, 2.1]), jnp.array([1.0, 2.0, 2.0]))   # 0.1 / 3
    assert jnp.allclose(err, 0.1 / 3.0)
    ref = jnp.array([1.0, 2.0])
    assert jnp.all(jax.grad(sp.relative_l2)(ref, ref) == 0)           # finite at zero error
    assert sp.relative_l2(jnp.zeros(3), jnp.zeros(3)) == 0
    ```
    """
    u, reference = jnp.asarray(u), jnp.asarray(reference)
    if u.shape != reference.shape:
        raise ValueError(f"`u` shape {u.shape} does not match `reference` shape {reference.shape}.")
    num, den = safe_norm(u - reference), safe_norm(reference)
    ratio = num / jnp.where(den > 0, den, 1.0)
    return jnp.where(den > 0, ratio, jnp.where(num > 0, jnp.inf, 0.0))


def energy_spectrum(u: Float[Array, "c *shape"], domain: PeriodicDomain) -> Float[Array, " k"]:
    r"""Shell-summed energy spectrum $E(m) = \sum_{m-1/2 \le |\mathbf m| < m+1/2}
    \tfrac12\sum_c |\hat u_c(\mathbf m)|^2 / N^2$ for integer shells $m = 0..\max N_j/2$.

    By Parseval, $\sum_m E(m) = \tfrac12 \langle |u|^2 \rangle$ (mean over the grid) when
    no energy lies beyond the last shell. For a velocity field this is the kinetic energy
    spectrum; for a vorticity field it is the enstrophy spectrum.

    **Arguments:** `u` (real field `(channels, *shape)`); `domain`.

    **Returns:** `E`, shape `(max(shape)//2 + 1,)`.

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain((64, 64))
    u = sp.random_fourier_series(jax.random.key(0), domain, num_channels=2, max_wavenumber=8)
    E = sp.energy_spectrum(u, domain)                          # (33,)
    assert jnp.allclose(E.sum(), 0.5 * jnp.mean(jnp.sum(u**2, axis=0)), rtol=1e-5)   # Parseval
    ```
    """
    require_unpaired(domain, "energy_spectrum")
    domain.check_field(u, u.shape[0], "u")
    u_hat = jnp.fft.fftn(u, axes=domain.axes)
    n_total = float(np.prod(domain.shape))
    power = 0.5 * jnp.sum(jnp.abs(u_hat) ** 2, axis=0) / n_total**2
    modes = domain._integer_modes(True)
    radius = np.sqrt(sum(m.astype(float) ** 2 for m in modes))
    shells = np.rint(radius).astype(int)
    num = max(domain.shape) // 2 + 1
    keep = shells < num
    out = jnp.zeros(num, power.dtype)
    return out.at[shells[keep]].add(power[keep])  # NumPy masks: static, also under jit


def enstrophy_spectrum(u: Float[Array, "c *shape"], domain: PeriodicDomain) -> Float[Array, " k"]:
    r"""Enstrophy spectrum of a velocity field, $Z(m) = \sum_{\text{shell } m}
    \tfrac12|\mathbf k|^2\sum_c|\hat u_c|^2/N^2$ (equal to the energy spectrum of the
    vorticity for divergence-free fields).

    **Arguments:** `u` (real velocity field `(channels, *shape)`); `domain`.
    **Returns:** `Z`, shape `(max(shape)//2 + 1,)`, in the precision of `u` (as
    `energy_spectrum`).

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain((64, 64), 2 * jnp.pi)
    x, y = domain.grid()
    u = jnp.stack([jnp.sin(3 * y), jnp.zeros_like(x)])     # a shear flow with |k| = 3
    Z, E = sp.enstrophy_spectrum(u, domain), sp.energy_spectrum(u, domain)
    assert jnp.allclose(Z[3], 9.0 * E[3])                   # Z(m) = |k|^2 E(m) on its shell
    ```
    """
    require_unpaired(domain, "enstrophy_spectrum")
    domain.check_field(u, u.shape[0], "u")
    u_hat = jnp.fft.fftn(u, axes=domain.axes)
    # |k| from NumPy (a constant, also under jit), in the field's precision: the domain's
    # wavenumbers have the default float type (float64 under x64), which would promote a
    # float32 field.
    modes = domain._integer_modes(True)
    k2 = sum((2 * np.pi * m / e) ** 2 for m, e in zip(modes, domain.extent))
    weighted = domain.ifft(u_hat * jnp.asarray(np.sqrt(k2), u_hat.real.dtype), True).real
    return energy_spectrum(weighted, domain)
