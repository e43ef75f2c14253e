"""Turn epsilon-, v-, score- and velocity-predicting models into VE denoisers."""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Scalar
from ._processes import AbstractProcess
from .samplers._base import check_positive


def _native(process: AbstractProcess, x: Array, sigma: Array):
    """Time, scales and the process variable $x_t = \\alpha x$ for the VE pair (x, sigma)."""
    t = process.t(sigma)
    alpha, std = process.alpha(t), process.std(t)
    return t, alpha.astype(x.dtype), std.astype(x.dtype), alpha.astype(x.dtype) * x


def _check(model, process):
    if not callable(model):
        raise TypeError(f"model must be callable as model(x_t, t), got {type(model)}.")
    if not isinstance(process, AbstractProcess):
        raise TypeError(f"process must be an AbstractProcess (VE, VP, SubVP, FlowMatching), got {type(process)}.")


class EpsDenoiser(eqx.Module):
    """Denoiser from a noise predictor $\\hat n = $ `model(x_t, t)`: $D = x - \\sigma \\hat n$.

    `model` works in the process's own variables: it receives $x_t = \\alpha(t) x$ at the
    time $t$ with $\\sigma(t) = \\sigma$.

    ```python
    from jaxsci import diffusion as jd
    den = jd.EpsDenoiser(lambda x_t, t: 0.0 * x_t, jd.VP())
    ```

    Reference: Ho et al. 2020; Karras et al. 2022, Table 1.
    """

    model: Callable
    process: AbstractProcess

    def __check_init__(self):
        _check(self.model, self.process)

    def __call__(self, x: Array, sigma: Scalar) -> Array:
        t, _, _, x_t = _native(self.process, x, sigma)
        return x - sigma * self.model(x_t, t)


class VDenoiser(eqx.Module):
    """Denoiser from a v-predictor $v = \\alpha n - s x_0$: $D = (\\alpha x_t - s v)/(\\alpha^2 + s^2)$.

    ```python
    from jaxsci import diffusion as jd
    den = jd.VDenoiser(lambda x_t, t: 0.0 * x_t, jd.VP())
    ```

    Reference: Salimans and Ho, *Progressive Distillation*, ICLR 2022.
    """

    model: Callable
    process: AbstractProcess

    def __check_init__(self):
        _check(self.model, self.process)

    def __call__(self, x: Array, sigma: Scalar) -> Array:
        t, alpha, std, x_t = _native(self.process, x, sigma)
        return (alpha * x_t - std * self.model(x_t, t)) / (alpha**2 + std**2)


class ScoreDenoiser(eqx.Module):
    """Denoiser from a score model $\\nabla_{x_t}\\log p_t(x_t)$: $D = (x_t + s^2 \\nabla)/\\alpha$.

    ```python
    from jaxsci import diffusion as jd
    den = jd.ScoreDenoiser(lambda x_t, t: -x_t, jd.VE())
    ```

    Reference: Song et al., ICLR 2021; Efron, *Tweedie's formula*, 2011.
    """

    model: Callable
    process: AbstractProcess

    def __check_init__(self):
        _check(self.model, self.process)

    def __call__(self, x: Array, sigma: Scalar) -> Array:
        t, alpha, std, x_t = _native(self.process, x, sigma)
        return (x_t + std**2 * self.model(x_t, t)) / alpha


class VelocityDenoiser(eqx.Module):
    """Denoiser from a flow velocity $u = dx_t/dt = \\alpha' x_0 + s' n$:
    $D = (s' x_t - s u)/(\\alpha s' - \\alpha' s)$, derivatives of the process by `jax.jvp`.

    For `FlowMatching` ($x_t = (1-t)x_0 + t n$, $u = n - x_0$) this is $D = x_t - t u$.

    ```python
    from jaxsci import diffusion as jd
    den = jd.VelocityDenoiser(lambda x_t, t: x_t, jd.FlowMatching())
    ```

    Reference: Lipman et al., ICLR 2023.
    """

    model: Callable
    process: AbstractProcess

    def __check_init__(self):
        _check(self.model, self.process)

    def __call__(self, x: Array, sigma: Scalar) -> Array:
        t, alpha, std, x_t = _native(self.process, x, sigma)
        one = jnp.ones_like(t)
        _, d_alpha = jax.jvp(self.process.alpha, (t,), (one,))
        _, d_std = jax.jvp(self.process.std, (t,), (one,))
        d_alpha, d_std = d_alpha.astype(x.dtype), d_std.astype(x.dtype)
        return (d_std * x_t - std * self.model(x_t, t)) / (alpha * d_std - d_alpha * std)


class EDMPreconditioner(eqx.Module):
    """The EDM network wrapper $D(x,\\sigma) = c_{skip} x + c_{out} F(c_{in} x, c_{noise})$.

    $c_{skip} = \\sigma_d^2/(\\sigma^2+\\sigma_d^2)$, $c_{out} = \\sigma\\sigma_d/\\sqrt{\\sigma^2+
    \\sigma_d^2}$, $c_{in} = 1/\\sqrt{\\sigma^2+\\sigma_d^2}$, $c_{noise} = \\tfrac14\\log\\sigma$.
    `net(x_in, c_noise)` is the raw network; train with `jaxsci.diffusion.edm_loss`.

    ```python
    from jaxsci import diffusion as jd
    den = jd.EDMPreconditioner(lambda x, c: 0.0 * x, sigma_data=0.5)
    ```

    Reference: Karras et al., NeurIPS 2022, Table 1.
    """

    net: Callable
    sigma_data: Scalar = 0.5

    def __check_init__(self):
        check_positive("EDMPreconditioner: sigma_data", self.sigma_data)

    def __call__(self, x: Array, sigma: Scalar) -> Array:
        sd2 = self.sigma_data**2
        total = sigma**2 + sd2
        c_skip, c_out = sd2 / total, sigma * self.sigma_data / jnp.sqrt(total)
        c_in, c_noise = 1.0 / jnp.sqrt(total), 0.25 * jnp.log(sigma)
        return c_skip * x + c_out * self.net(c_in * x, c_noise)
