"""Likelihoods $p(y \\mid f)$ on model outputs, for the Fisher and empirical Fisher."""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._checks import checked, runtime_check
from .._types import Array, Float, PRNGKey


def _check_targets(targets, expected: tuple, what: str):
    """Raise `ValueError` unless `targets` has shape `expected`: broadcasting them against the
    outputs (targets `(N,)` with outputs `(N, 1)` give `(N, N)`) would silently give a wrong loss."""
    if tuple(jnp.shape(targets)) != tuple(expected):
        raise ValueError(f"`targets` must have shape {tuple(expected)} ({what}), got {tuple(jnp.shape(targets))}.")


def _check_sigma(sigma):
    """`sigma` as a scalar array: concrete values must be finite and > 0; traced ones get
    `equinox.error_if`. A vector would broadcast along different axes in `nll` (the batch) and
    in `output_fisher_mv` (the outputs), a silently wrong Fisher, so it is a `ValueError`."""
    sigma = jnp.asarray(sigma)
    if jnp.ndim(sigma) != 0:
        raise ValueError(f"`sigma` must be a scalar (one noise level for every output), got shape {jnp.shape(sigma)}.")
    bad = ~jnp.all(jnp.isfinite(sigma) & (sigma > 0))
    return checked(sigma, bad, "`sigma` (the Gaussian noise standard deviation) must be finite and > 0")


def _check_labels(targets, num_classes: int):
    """Class labels as int32. Labels outside `[0, num_classes)` or not whole numbers would pick
    no logit (a NaN loss) or the wrong one: a `ValueError` for concrete labels, an
    `equinox.error_if` for traced ones."""
    targets = jnp.asarray(targets)
    if not (jnp.issubdtype(targets.dtype, jnp.integer) or jnp.issubdtype(targets.dtype, jnp.floating)):
        raise ValueError(f"`targets` must be integer class labels, got dtype {targets.dtype}.")
    bad = f"`targets` must be class labels, whole numbers in [0, {num_classes})"
    wrong = lambda t, xp: xp.any((t < 0) | (t >= num_classes) | (t != xp.round(t)))
    if isinstance(targets, jax.core.Tracer):
        targets = runtime_check(targets, wrong(targets, jnp), bad + ".")
    elif wrong(np.asarray(targets), np):
        raise ValueError(f"{bad}, got values from {np.min(targets)} to {np.max(targets)}.")
    return targets.astype(jnp.int32)


class AbstractLikelihood(eqx.Module):
    """A likelihood $p(y \\mid f)$ of targets given model outputs, per example.

    Outputs and targets carry a leading batch axis. Subclasses give the negative log-
    likelihood of each example and a sampler; the Fisher then uses Monte-Carlo targets.
    """

    @abc.abstractmethod
    def nll(self, outputs, targets) -> Float[Array, " batch"]:
        """Negative log-likelihood of each example, shape `(batch,)`."""

    @abc.abstractmethod
    def sample(self, key: PRNGKey, outputs):
        """Targets drawn from $p(y \\mid f)$ for every example."""


class AbstractExactLikelihood(AbstractLikelihood):
    """A likelihood whose Fisher in output space, $E_y[\\nabla_f \\ell \\nabla_f \\ell^\\top]$, is known."""

    @abc.abstractmethod
    def output_fisher_mv(self, outputs, u):
        """Per-example product $F_n(f_n) u_n$ with the output-space Fisher (no sampling)."""


class Categorical(AbstractExactLikelihood):
    """Categorical likelihood on logits $f \\in \\mathbb{R}^C$ (softmax cross-entropy).

    Output-space Fisher: $\\operatorname{diag}(p) - p p^\\top$ with $p = \\operatorname{softmax}(f)$,
    which equals the Hessian of the cross-entropy in $f$ (so the GGN of softmax cross-entropy
    is the Fisher). Targets are integer class labels of shape `(batch,)` (the shape of the
    logits without their last, class axis).

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.curvature import Categorical
    lik, logits, labels = Categorical(), jnp.array([[2.0, 0.0, -1.0]]), jnp.array([0])
    assert jnp.allclose(lik.nll(logits, labels), -jax.nn.log_softmax(logits)[:, 0])   # softmax cross-entropy
    u = jnp.array([[1.0, -1.0, 0.5]])
    hvp = jax.jvp(jax.grad(lambda f: lik.nll(f, labels).sum()), (logits,), (u,))[1]
    assert jnp.allclose(lik.output_fisher_mv(logits, u), hvp)                          # Fisher = Hessian in the logits
    ```
    """

    def nll(self, outputs, targets):
        _check_targets(targets, jnp.shape(outputs)[:-1], "integer labels: the logits' shape without the class axis")
        labels = _check_labels(targets, jnp.shape(outputs)[-1])
        logz = jax.nn.logsumexp(outputs, axis=-1)
        picked = jnp.take_along_axis(outputs, labels[..., None], axis=-1)
        return logz - picked[..., 0]

    def sample(self, key, outputs):
        return jax.random.categorical(key, outputs, axis=-1)

    def output_fisher_mv(self, outputs, u):
        p = jax.nn.softmax(outputs, axis=-1)
        return p * u - p * jnp.sum(p * u, axis=-1, keepdims=True)


class Gaussian(AbstractExactLikelihood):
    """Gaussian likelihood $y \\sim \\mathcal{N}(f, \\sigma^2 I)$; output-space Fisher $I / \\sigma^2$.

    With $\\sigma = 1$ the per-example loss is $\\tfrac12 \\|y - f\\|^2$ (plus a constant), so
    the Fisher equals the GGN of that squared loss.

    **Arguments:**

    - `sigma`: the noise standard deviation, a scalar $> 0$ (an array leaf, differentiable). It
      acts in the dtype of the outputs, so a float32 `sigma` keeps bfloat16 outputs bfloat16.

    Targets have the shape of the outputs: for a model with one output per example,
    outputs `(N, 1)` need targets `(N, 1)`, not `(N,)` (a `ValueError` otherwise).

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.curvature import Fisher, Gaussian

    model = lambda p, x: x @ p["w"]
    x = jax.random.normal(jax.random.key(0), (16, 4))
    F = Fisher(model, Gaussian(sigma=0.5), {"w": jnp.zeros(4)}, (x, jnp.zeros(16)))
    v = jnp.arange(1.0, 5.0)
    assert jnp.allclose(F.mv({"w": v})["w"], x.T @ x @ v / 16 / 0.25, rtol=1e-5)   # J^T J / sigma^2
    ```
    """

    sigma: Float[Array, ""]

    def __init__(self, sigma=1.0):
        self.sigma = _check_sigma(sigma)

    def nll(self, outputs, targets):
        hint = "that of the outputs: for outputs (N, 1) pass y[:, None], not y of shape (N,)"
        _check_targets(targets, jnp.shape(outputs), hint)
        axes = tuple(range(1, jnp.ndim(outputs)))
        dim = outputs[0].size
        sq = jnp.sum((targets - outputs) ** 2, axis=axes)
        var = self.sigma.astype(sq.dtype) ** 2
        return 0.5 * sq / var + 0.5 * dim * jnp.log(2 * jnp.pi * var)

    def sample(self, key, outputs):
        dtype = jnp.result_type(outputs)
        noise = jax.random.normal(key, jnp.shape(outputs), dtype)
        return outputs + self.sigma.astype(dtype) * noise

    def output_fisher_mv(self, outputs, u):
        # sigma in the dtype of `u`: a wider sigma would change the dtype of the cotangent
        # that Fisher.mv pulls back through the model (a TypeError in `vjp`)
        return u / self.sigma.astype(jnp.result_type(u)) ** 2
