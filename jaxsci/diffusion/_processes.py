"""Noise processes $x_t = \\alpha(t) x_0 + s(t) n$ and their map to the VE level $\\sigma$."""

from __future__ import annotations

import abc
import math

import equinox as eqx
import jax.numpy as jnp

from .._checks import runtime_check
from .._types import Array, Scalar
from .samplers._base import concrete


class AbstractProcess(eqx.Module):
    """A forward process $x_t = \\alpha(t)\\, x_0 + s(t)\\, n$, $t \\in [0, 1]$.

    Its VE level is $\\sigma(t) = s(t)/\\alpha(t)$ and its VE variable $x = x_t/\\alpha(t)$
    (the *input scaling*); subclasses give `alpha`, `std` and the inverse `t(sigma)`. For
    example, the cosine process, whose models the adapters then turn into denoisers:

    ```python
    import jax.numpy as jnp
    from jaxsci import diffusion as jd

    class Cosine(jd.AbstractProcess):  # x_t = cos(pi t / 2) x0 + sin(pi t / 2) n
        def alpha(self, t):
            return jnp.cos(0.5 * jnp.pi * t)

        def std(self, t):
            return jnp.sin(0.5 * jnp.pi * t)

        def t(self, sigma):
            return 2.0 / jnp.pi * jnp.arctan(sigma)

    assert jnp.allclose(Cosine().sigma(Cosine().t(3.0)), 3.0)
    den = jd.EpsDenoiser(lambda x_t, t: jnp.zeros_like(x_t), Cosine())   # a model on this process
    ```
    """

    @abc.abstractmethod
    def alpha(self, t: Array) -> Array:
        """Signal scale $\\alpha(t)$."""

    @abc.abstractmethod
    def std(self, t: Array) -> Array:
        """Noise scale $s(t)$."""

    @abc.abstractmethod
    def t(self, sigma: Array) -> Array:
        """The time with $\\sigma(t) = $ `sigma`."""

    def sigma(self, t: Array) -> Array:
        """$\\sigma(t) = s(t)/\\alpha(t)$."""
        return self.std(t) / self.alpha(t)


class VE(AbstractProcess):
    """Variance exploding: $\\alpha = 1$, $s(t) = \\sigma_{min}(\\sigma_{max}/\\sigma_{min})^t$,
    with $0 < \\sigma_{min} < \\sigma_{max} < \\infty$ (a `ValueError` otherwise).

    ```python
    import jax.numpy as jnp
    from jaxsci import diffusion as jd
    ve = jd.VE(sigma_min=0.01, sigma_max=50.0)
    t = ve.t(jnp.array(1.0))                  # the time at which sigma(t) = 1
    assert jnp.allclose(ve.sigma(t), 1.0) and jnp.allclose(ve.alpha(t), 1.0)
    ```

    Reference: Song et al., ICLR 2021 (SMLD / VE SDE).
    """

    sigma_min: Scalar
    sigma_max: Scalar

    def __init__(self, sigma_min: Scalar = 0.01, sigma_max: Scalar = 50.0):
        lo, hi = concrete(sigma_min), concrete(sigma_max)
        if lo is not None and hi is not None:
            if not 0 < lo < hi < math.inf:
                raise ValueError(f"VE: need 0 < sigma_min < sigma_max < inf, got sigma_min={lo}, sigma_max={hi}.")
        else:  # traced: checked when the program runs
            bad = ~((sigma_min > 0) & (sigma_min < sigma_max) & (jnp.abs(sigma_max) < math.inf))
            sigma_min = runtime_check(jnp.asarray(sigma_min), bad, "VE: need 0 < sigma_min < sigma_max < inf.")
        self.sigma_min, self.sigma_max = sigma_min, sigma_max

    def alpha(self, t):
        return jnp.ones_like(jnp.asarray(t, float))

    def std(self, t):
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def t(self, sigma):
        return jnp.log(sigma / self.sigma_min) / jnp.log(self.sigma_max / self.sigma_min)


def _log_alpha(t, beta_min, beta_max):
    return -0.25 * t**2 * (beta_max - beta_min) - 0.5 * t * beta_min


def _t_of_log_alpha(log_alpha, beta_min, beta_max):
    # the root of bd t^2 / 4 + beta_min t / 2 + log_alpha = 0 in the form without cancellation
    # (the textbook form divides by bd: 0/0 for a constant beta, and lost 13% of sigma at
    # sigma = 1e-5 in float32)
    bd = beta_max - beta_min
    denom = 0.5 * beta_min + jnp.sqrt(0.25 * beta_min**2 - bd * log_alpha)
    positive = denom > 0  # 0 only at log_alpha = 0 with beta_min = 0: t = 0
    return jnp.where(positive, -2.0 * log_alpha / jnp.where(positive, denom, 1.0), 0.0)


class VP(AbstractProcess):
    """Variance preserving (DDPM): $\\alpha = e^{-\\frac14 t^2(\\beta_{max}-\\beta_{min}) -
    \\frac12 t\\beta_{min}}$, $s = \\sqrt{1-\\alpha^2}$.

    The VE level $\\sigma = s/\\alpha$ of a DDPM model at time t, and the model as a denoiser:

    ```python
    import jax.numpy as jnp
    from jaxsci import diffusion as jd
    vp = jd.VP(beta_min=0.1, beta_max=20.0)
    t = vp.t(jnp.array(2.0))                  # sigma(t) = 2: x_t = alpha x0 + s n, alpha^2 + s^2 = 1
    assert jnp.allclose(vp.alpha(t) ** 2 + vp.std(t) ** 2, 1.0)
    den = jd.EpsDenoiser(lambda x_t, t: jnp.zeros_like(x_t), vp)   # an epsilon model as D(x, sigma)
    ```

    Reference: Ho et al. 2020; Song et al., ICLR 2021.
    """

    beta_min: Scalar = 0.1
    beta_max: Scalar = 20.0

    def alpha(self, t):
        return jnp.exp(_log_alpha(t, self.beta_min, self.beta_max))

    def std(self, t):
        return jnp.sqrt(-jnp.expm1(2.0 * _log_alpha(t, self.beta_min, self.beta_max)))

    def t(self, sigma):
        # alpha^2 = 1 / (1 + sigma^2)
        return _t_of_log_alpha(-0.5 * jnp.log1p(sigma**2), self.beta_min, self.beta_max)


class SubVP(AbstractProcess):
    """Sub-VP: the VP mean with $s = 1 - \\alpha^2$.

    ```python
    import jax.numpy as jnp
    from jaxsci import diffusion as jd
    sub = jd.SubVP()
    t = sub.t(jnp.array(0.5))
    assert jnp.allclose(sub.std(t), 1.0 - sub.alpha(t) ** 2) and jnp.allclose(sub.sigma(t), 0.5)
    ```

    Reference: Song et al., ICLR 2021, eq. (11).
    """

    beta_min: Scalar = 0.1
    beta_max: Scalar = 20.0

    def alpha(self, t):
        return jnp.exp(_log_alpha(t, self.beta_min, self.beta_max))

    def std(self, t):
        return -jnp.expm1(2.0 * _log_alpha(t, self.beta_min, self.beta_max))

    def t(self, sigma):
        # sigma = (1 - a^2)/a  =>  a^2 + sigma a - 1 = 0  =>  a = exp(-asinh(sigma / 2))
        return _t_of_log_alpha(-jnp.arcsinh(0.5 * sigma), self.beta_min, self.beta_max)


class FlowMatching(AbstractProcess):
    """Rectified flow / linear interpolation: $x_t = (1-t) x_0 + t n$.

    A velocity model $u(x_t, t) \\approx n - x_0$ becomes a denoiser through this process:

    ```python
    import jax.numpy as jnp
    from jaxsci import diffusion as jd
    fm = jd.FlowMatching()
    assert jnp.allclose(fm.t(fm.sigma(0.25)), 0.25)          # sigma = t / (1 - t)
    den = jd.VelocityDenoiser(lambda x_t, t: -x_t, fm)      # any u(x_t, t) -> D(x, sigma)
    x0_hat = den(jnp.ones((4, 2)), 1.0)
    ```

    Reference: Lipman et al., *Flow Matching for Generative Modeling*, ICLR 2023; Liu et al.,
    *Rectified Flow*, ICLR 2023.
    """

    def alpha(self, t):
        return 1.0 - jnp.asarray(t)

    def std(self, t):
        return jnp.asarray(t)

    def t(self, sigma):
        return sigma / (1.0 + sigma)
