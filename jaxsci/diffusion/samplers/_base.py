"""The sampler interface and the small helpers every sampler shares."""

from __future__ import annotations

import abc
import warnings
from typing import Any, Callable, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from ..._numerics import safe_sqrt as safe_sqrt
from ..._types import Array, PRNGKey
from ._noise import normal_like as normal_like

Denoiser = Callable[[Array, Array], Array]
"""`denoiser(x, sigma) -> x0_hat` with `x` of shape `(batch, ...)` and a scalar `sigma`."""


class AbstractSampler(eqx.Module):
    """A one-step rule $x_{\\sigma} \\mapsto x_{\\sigma'}$ for the probability-flow ODE or SDE.

    A sampler is a Module whose fields are its hyperparameters. `sample` calls `init` once
    and then `step` inside one `lax.scan`; whatever a sampler must remember between steps
    (previous denoised estimates, previous step sizes, the step index) lives in the state
    that `init` returns, so it is carried by the scan. Keep batch-sized history in a
    `jaxsci.diffusion.samplers.History`, which the loop updates in place.

    Subclasses define:

    - `stochastic`: a property, `True` when `step` draws noise (then `sample` needs a `key`).
      Decide it in Python from concrete hyperparameters (`may_be_nonzero`), so that a
      deterministic configuration traces no noise at all.
    - `init(x, sigmas) -> state`: any pytree of arrays.
    - `step(state, denoiser, x, sigma, sigma_next, key) -> (x_next, state)`. `key` is a
      per-step key (`None` for deterministic samplers); draw noise with
      `jaxsci.diffusion.samplers.normal_like` so that each sample has its own stream.
    - optionally `skips_final_stage = True` (a class variable), when `step` evaluates a
      stage through `unless_last`.
    - optionally `noise_switch` (a class variable): the name of the hyperparameter whose
      value 0 makes the sampler deterministic (`"eta"`, `"s_churn"`). When it is traced (the
      sampler passed through `jax.jit`, `vmap` or `grad`) and no key is given, `sample` runs
      the noise-free path (`step` gets `key=None`) and checks at run time that it is 0.

    A new sampler in a few lines, here explicit midpoint steps of the probability-flow ODE:

    ```python
    import jax, jax.numpy as jnp
    from jaxsci import diffusion as jd

    class Midpoint(jd.AbstractSampler):  # dx/dsigma = (x - D(x, sigma)) / sigma
        @property
        def stochastic(self):
            return False

        def init(self, x, sigmas):
            return None                                  # nothing to carry between steps

        def step(self, state, denoiser, x, sigma, sigma_next, key):
            s_mid = 0.5 * (sigma + sigma_next)
            x_mid = x + (s_mid - sigma) * (x - denoiser(x, sigma)) / sigma
            return x + (sigma_next - sigma) * (x_mid - denoiser(x_mid, s_mid)) / s_mid, state

    target = jd.targets.Gaussian(jnp.zeros(2), jnp.eye(2))
    x = 80.0 * jax.random.normal(jax.random.key(0), (1000, 2))
    x0 = jd.sample(target.denoiser, x, jd.karras_sigmas(20, 0.002, 80.0), sampler=Midpoint())
    ```
    """

    skips_final_stage: ClassVar[bool] = False
    """Whether `step` evaluates a stage with `unless_last` that the step to sigma = 0
    discards. `sample` then runs the final step outside its loop, where the stage is
    skipped, so the loop itself holds no `lax.cond`."""

    noise_switch: ClassVar[str | None] = None
    """The hyperparameter whose value 0 makes `step` draw no noise, if any (see above)."""

    @property
    @abc.abstractmethod
    def stochastic(self) -> bool:
        """Whether `step` draws noise (then `sample` needs a `key`)."""

    @abc.abstractmethod
    def init(self, x: Array, sigmas: Array) -> Any:
        """The state before the first step."""

    @abc.abstractmethod
    def step(
        self,
        state: Any,
        denoiser: Denoiser,
        x: Array,
        sigma: Array,
        sigma_next: Array,
        key: PRNGKey | None,
    ) -> tuple[Array, Any]:
        """One step from noise level `sigma` to `sigma_next`."""


def unless_last(last: Array, denoiser: Denoiser, y: Array, sigma: Array, *, anywhere: bool = False) -> Array:
    """`denoiser(y, sigma)`, or zeros without evaluating it when `last` (a scalar) is true.

    For a second stage whose output the step to sigma = 0 discards; a sampler that uses it
    declares `skips_final_stage = True`. `sample` then runs its loop with the denoiser always
    evaluated, and the final step after the loop, where the skip is a `jax.lax.cond`: the
    final step costs one call, as in k-diffusion, and the loop holds no `cond` (on the CPU a
    `cond` around the second call cost more than the call it saved). Pass `anywhere=True`
    when `last` may also be true before the final step (DPM++(2S) ancestral with
    `eta > 1`); the `cond` then runs inside the loop too.

    `sample` marks its denoiser with attributes: `pure` (not stateful, so it may be skipped)
    and `final` (the step after the loop). Stateful denoisers, and plain functions passed to
    `step` directly, are always evaluated and the result is used as is.

    ```python
    import jax.numpy as jnp
    from jaxsci.diffusion.samplers import unless_last
    den = lambda x, sigma: x / (1.0 + sigma**2)        # a plain function: always evaluated
    d2 = unless_last(jnp.array(False), den, jnp.ones(3), jnp.array(1.0))
    assert jnp.allclose(d2, 0.5)
    ```
    """
    pure, final = getattr(denoiser, "pure", False), getattr(denoiser, "final", False)
    if pure and not final and not anywhere and not getattr(denoiser, "declared", True):
        warnings.warn(
            "unless_last is used by a sampler that does not declare skips_final_stage = True, "
            "so sample() evaluates the discarded stage of its final step.",
            stacklevel=2,
        )
    if pure and (final or anywhere):
        return jax.lax.cond(last, jnp.zeros_like, lambda y: denoiser(y, sigma), y)
    return denoiser(y, sigma)


def to_d(x: Array, sigma: Array, denoised: Array) -> Array:
    """The probability-flow ODE derivative $dx/d\\sigma = (x - D(x, \\sigma))/\\sigma$."""
    return (x - denoised) / sigma


def ancestral_step(sigma: Array, sigma_next: Array, eta) -> tuple[Array, Array]:
    """Split a step into a deterministic part down to `sigma_down` and fresh noise `sigma_up`.

    $\\sigma_{up} = \\min(\\sigma', \\eta\\, \\sigma' \\sqrt{1 - \\sigma'^2/\\sigma^2})$ and
    $\\sigma_{down} = \\sqrt{\\sigma'^2 - \\sigma_{up}^2}$ (Song et al. 2021, DDIM in the
    variance-exploding form).

    ```python
    import jax.numpy as jnp
    from jaxsci.diffusion.samplers import ancestral_step
    down, up = ancestral_step(jnp.array(2.0), jnp.array(1.0), eta=1.0)
    assert jnp.allclose(down**2 + up**2, 1.0)          # sigma'^2 = sigma_down^2 + sigma_up^2
    down, up = ancestral_step(jnp.array(2.0), jnp.array(1.0), eta=0.0)
    assert up == 0.0 and down == 1.0                   # eta = 0: no fresh noise (DDIM)
    ```
    """
    var = sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2
    up = jnp.minimum(sigma_next, eta * safe_sqrt(var))  # var = 0 at sigma' = 0 or sigma' = sigma
    # exactly 0 when up is clamped to sigma' (sigma'^2 - up^2 can round to +1e-8 with fused
    # multiply-adds, and samplers test sigma_down <= 0), with a finite gradient there
    zero = up >= sigma_next
    down = jnp.where(zero, 0.0, safe_sqrt((sigma_next - up) * (sigma_next + up)))
    return down, up


def safe_next(sigma: Array, sigma_next: Array) -> tuple[Array, Array]:
    """`(is_last, sigma_next')`: whether `sigma_next == 0`, and a stand-in level when it is.

    Steps to $\\sigma' = 0$ are special (log-sigma solvers divide by $\\log \\sigma'$).
    Samplers compute the general branch at the finite stand-in $\\sigma/2$ and select the
    final-step formula with `jnp.where`, so no inf or NaN ever reaches a gradient.
    """
    last = sigma_next <= 0
    return last, jnp.where(last, 0.5 * sigma, sigma_next)


def concrete(value) -> float | None:
    """A hyperparameter's value as a float at trace time, or `None` when it is traced (or
    not a scalar): for checks and static choices that apply only to concrete values."""
    try:
        return float(value)
    except (TypeError, jax.errors.ConcretizationTypeError):
        return None


def may_be_nonzero(value) -> bool:
    """Whether a hyperparameter may be nonzero: `False` only for a concrete zero (a traced
    value may be anything). Decides at trace time whether a sampler draws noise."""
    v = concrete(value)
    return v is None or v != 0.0


def check_positive(name: str, value) -> None:
    """Trace-time check of a positive hyperparameter when it is concrete (`inf` passes)."""
    v = concrete(value)
    if v is not None and not v > 0:
        raise ValueError(f"{name} must be positive, got {v}.")


def check_eta(name: str, value) -> None:
    """Trace-time check of a non-negative hyperparameter when it is concrete."""
    v = concrete(value)
    if v is not None and not v >= 0:  # NaN too
        raise ValueError(f"{name} must be non-negative, got {v}.")
