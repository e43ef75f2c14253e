"""Predictor-corrector sampling with a Langevin corrector (score_sde's PC sampler)."""

from __future__ import annotations

import abc

import equinox as eqx
import jax

from ..._checks import checked_int
from ..._types import Array, Scalar
from ._base import AbstractSampler, normal_like
from ._euler_maruyama import EulerMaruyama
from ._hyperparameter import hyperparameter


def _steps(value) -> int:
    return checked_int(value, f"Langevin: num_steps must be a positive integer, got {value!r}.")


class AbstractCorrector(eqx.Module):
    """A Markov chain that leaves $p_\\sigma$ invariant, run at a fixed noise level."""

    @abc.abstractmethod
    def correct(self, denoiser, x: Array, sigma: Array, key) -> Array:
        """Improve `x` as a sample of $p_\\sigma$."""


class Langevin(AbstractCorrector):
    """Unadjusted Langevin steps $x \\leftarrow x + \\epsilon \\nabla\\log p_\\sigma(x) +
    \\sqrt{2\\epsilon}\\, z$ with the step size set by a target signal-to-noise ratio $r$.

    score_sde takes $\\epsilon = 2 (r \\|z\\| / \\|\\nabla\\log p_\\sigma\\|)^2$ with norms
    averaged over the batch, which couples the samples of a batch (and with per-sample norms
    the step explodes near a mode, where the score vanishes). Here the norms are replaced by
    their typical values $E\\|z\\|^2 = d$ and $\\|\\nabla\\log p_\\sigma\\|^2 \\approx
    d/\\sigma^2$ (an upper bound on the Fisher information of $p_\\sigma$), giving the
    batch-independent step $\\epsilon = 2 r^2 \\sigma^2$, whose noise scale is
    $\\sqrt{2\\epsilon} = 2 r \\sigma$ (written so, it is differentiable at $r = 0$). Score
    from the denoiser: $(D(x,\\sigma) - x)/\\sigma^2$.

    **Arguments:**

    - `snr`: target signal-to-noise ratio $r \\ge 0$ (array leaf; 0 switches the corrector off).
    - `num_steps`: Langevin steps per noise level (static; NumPy integers are accepted).

    ```python
    import jax, jax.numpy as jnp
    from jaxsci import diffusion as jd
    target = jd.targets.Gaussian(jnp.zeros(2), jnp.eye(2))
    sampler = jd.PredictorCorrector(jd.EulerMaruyama(), jd.Langevin(snr=0.16, num_steps=2))
    x = 80.0 * jax.random.normal(jax.random.key(0), (1000, 2))
    x0 = jd.sample(target.denoiser, x, jd.karras_sigmas(40, 0.01, 80.0), sampler=sampler, key=jax.random.key(1))
    ```

    Reference: Song et al., ICLR 2021, Algorithm 5.
    """

    snr: Scalar = hyperparameter(0.16, "Langevin: snr")
    num_steps: int = eqx.field(static=True, default=1, converter=_steps)

    def correct(self, denoiser, x, sigma, key):
        for j in range(self.num_steps):
            grad = (denoiser(x, sigma) - x) / sigma**2
            z = normal_like(jax.random.fold_in(key, j), x)
            eps = 2.0 * (self.snr * sigma) ** 2
            # sqrt(2 eps) for snr >= 0: jnp.sqrt(2 eps) had an infinite derivative at snr = 0
            x = x + eps * grad + (2.0 * self.snr * sigma) * z
        return x


class PredictorCorrector(AbstractSampler):
    """At each level, correct with `corrector` at $\\sigma$, then step with `predictor`.

    Any sampler can be the predictor (default the reverse-SDE
    `jaxsci.diffusion.EulerMaruyama`); the corrector is skipped at $\\sigma = 0$.
    Denoiser calls per step: the predictor's plus `corrector.num_steps`.

    **Arguments:**

    - `predictor`: an `AbstractSampler`.
    - `corrector`: an `AbstractCorrector`, e.g. `Langevin(snr=0.16)`.

    ```python
    from jaxsci import diffusion as jd
    sampler = jd.PredictorCorrector(jd.EulerMaruyama(), jd.Langevin(snr=0.16))
    ```

    Reference: Song et al., *Score-Based Generative Modeling through SDEs*, ICLR 2021.
    """

    predictor: AbstractSampler = eqx.field(default_factory=EulerMaruyama)
    corrector: AbstractCorrector = eqx.field(default_factory=Langevin)

    def __check_init__(self):
        if not isinstance(self.predictor, AbstractSampler):
            raise TypeError(f"PredictorCorrector: predictor must be a sampler, got {type(self.predictor)}.")
        if not isinstance(self.corrector, AbstractCorrector):
            raise TypeError(f"PredictorCorrector: corrector must be a corrector, got {type(self.corrector)}.")

    @property
    def stochastic(self) -> bool:
        return True

    @property
    def skips_final_stage(self) -> bool:  # the predictor's (e.g. Heun's second call)
        return self.predictor.skips_final_stage

    def init(self, x: Array, sigmas: Array):
        return self.predictor.init(x, sigmas)

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        if key is None:
            raise ValueError("PredictorCorrector needs a key.")
        x = self.corrector.correct(denoiser, x, sigma, jax.random.fold_in(key, 1))
        pkey = jax.random.fold_in(key, 0) if self.predictor.stochastic else None
        return self.predictor.step(state, denoiser, x, sigma, sigma_next, pkey)
