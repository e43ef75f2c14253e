"""`sample`: run any sampler over a noise schedule in one `lax.scan`."""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import runtime_check
from .._types import Array, Float, PRNGKey
from ._stateful import AbstractStatefulDenoiser
from .samplers._base import AbstractSampler, concrete
from .samplers._noise import row_offset


def check_sigmas(sigmas, dtype=None) -> Array:
    """Validate a noise schedule: 1-D, at least two levels, finite, non-negative, strictly
    decreasing.

    Concrete schedules are checked at trace time (`ValueError`); traced ones at run time with
    `equinox.error_if`. Only the last level may be zero. Returns the schedule as a floating
    array, cast to `dtype` when given (before the checks: two levels that are distinct in
    float64 may be equal in float32).

    ```python
    import jax.numpy as jnp
    from jaxsci import diffusion as jd
    sigmas = jd.check_sigmas(jd.karras_sigmas(10, 0.002, 80.0))   # valid: returned as it is
    try:
        jd.check_sigmas(jnp.array([1.0, 2.0, 0.0]))
    except ValueError as e:
        print(e)   # sigmas must be strictly decreasing (...)
    ```
    """
    sigmas = jnp.asarray(sigmas)
    if sigmas.ndim != 1 or sigmas.shape[0] < 2:
        raise ValueError(f"sigmas must be a 1-D array of at least 2 noise levels, got shape {sigmas.shape}.")
    if dtype is not None:
        sigmas = sigmas.astype(dtype)
    elif not jnp.issubdtype(sigmas.dtype, jnp.floating):
        sigmas = sigmas.astype(jnp.result_type(float))
    try:
        s = np.asarray(sigmas)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        bad = ~jnp.all(jnp.isfinite(sigmas)) | jnp.any(sigmas < 0) | jnp.any(jnp.diff(sigmas) >= 0)
        bad = bad | jnp.any(sigmas[:-1] <= 0)
        return runtime_check(sigmas, bad, "sigmas must be finite, non-negative and strictly decreasing.")
    if np.any(s < 0) or not np.all(np.isfinite(s)):
        raise ValueError(f"sigmas must be finite and non-negative, got min {s.min()}.")
    if np.any(np.diff(s) >= 0):
        raise ValueError(
            f"sigmas must be strictly decreasing (from sigma_max down to sigma_min or 0) in {sigmas.dtype}."
        )
    return sigmas


def check_key(key, where: str) -> None:
    """`ValueError` naming `key` unless it is one JAX random key: a typed key of shape `()`
    (`jax.random.key(...)`) or raw key data (`jax.random.PRNGKey(...)`, `uint32[2]` for the
    default Threefry)."""
    raw_shape = jax.eval_shape(lambda: jax.random.PRNGKey(0)).shape
    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        if shape == ():
            return
        problem = f"a key array of shape {shape} (for one key a sample, vmap over the keys)"
    elif dtype == jnp.uint32 and shape == raw_shape:
        return
    elif dtype is not None:
        problem = f"an array of {dtype}{shape}"
    else:
        problem = f"{type(key).__name__} {key!r}"
    raise ValueError(
        f"{where}: key must be a single JAX random key (jax.random.key(seed), or raw uint32{list(raw_shape)} "
        f"key data), got {problem}."
    )


def _check_output(denoiser, x, sigma) -> None:
    if isinstance(denoiser, AbstractStatefulDenoiser):
        fn = lambda x, s: denoiser.apply(x, s, denoiser.init_state(x))[0]  # noqa: E731
    else:
        fn = denoiser
    out = jax.eval_shape(fn, x, sigma)
    if not hasattr(out, "shape") or out.shape != x.shape:
        shape = getattr(out, "shape", type(out))
        raise ValueError(f"denoiser(x, sigma) must return an array shaped like x {x.shape}, got {shape}.")


def sample(
    denoiser: Callable,
    x: Float[Array, "batch *shape"],
    sigmas: Float[Array, " n"],
    *,
    sampler: AbstractSampler,
    key: PRNGKey | None = None,
    checkpoint: bool = False,
    axis_name=None,
) -> Float[Array, "batch *shape"]:
    """Integrate from noise level `sigmas[0]` down to `sigmas[-1]` with `sampler`.

    `x` is a batch of noisy samples at level `sigmas[0]` (typically
    `sigmas[0] * normal(key, shape)`), in the variance-exploding parameterisation
    $x = x_0 + \\sigma n$; `denoiser(x, sigma)` returns $\\hat x_0$. The whole loop is one
    `jax.lax.scan`, so `sample` is jittable and differentiable with respect to `x` and to
    any array inside `denoiser` (e.g. an `equinox.Module`'s parameters), and to the
    sampler's float hyperparameters (array leaves). For a sampler whose
    step to sigma = 0 skips a stage (`skips_final_stage`, e.g. `Heun`), that final step runs
    after the scan, so its step is traced and compiled twice.

    Noise: step `i` uses the key `fold_in(key, i)`, and every sample draws its own noise
    from it (`samplers.normal_like`), so a sample does not depend on the batch size, nor on
    how `jax.jit` shards the batch over a `Mesh`. Under `shard_map` or `pmap` each device
    sees only its block of the batch, numbered from 0, so with the same key every device
    would draw the same noise: pass `axis_name` (the mapped axis, or a tuple of axes) and
    sample `b` of the block on device `k` draws the noise of global sample `k * n_local + b`,
    the same as on one device (blocks of equal size `n_local`, in device order, as
    `shard_map` and `pmap` split a batch). Alternatively fold the device index into the
    key, `key = jax.random.fold_in(key, jax.lax.axis_index(name))`: the devices then draw
    distinct noise, each sample's noise still does not depend on the local batch size, but
    the samples differ from a one-device run.

    Precision: the noise levels and every step coefficient are computed in
    `promote_types(x.dtype, float32)`; a bfloat16 or float16 `x` (and the denoiser's
    output) stays in its dtype between steps and is passed to the denoiser in it, with a
    float32 `sigma`.

    **Arguments:**

    - `denoiser`: `denoiser(x, sigma) -> x0_hat` on a batch, or an
      `jaxsci.diffusion.AbstractStatefulDenoiser` (its state, e.g. APG momentum, is
      carried by the scan).
    - `x`: initial samples, leading axis the batch.
    - `sigmas`: decreasing non-negative levels (e.g. `karras_sigmas(n, ...)`, ending at 0).
    - `sampler`: an `jaxsci.diffusion.AbstractSampler` such as `DPMpp2M()`.
    - `key`: one JAX random key, needed by stochastic samplers. A sampler whose noise
      switch (`eta`, `s_churn`) is traced (the sampler passed through `jit`, `vmap` or
      `grad`) runs without noise when no key is given, and fails at run time unless the
      switch is 0.
    - `checkpoint`: rematerialise each step in the backward pass (`jax.checkpoint` on the
      step). The backward pass then keeps only each step's carry (`x` and the sampler's
      state, e.g. a multistep method's previous estimates) instead of all the step's
      intermediates: memory still grows linearly with the number of steps, by about one
      copy of `x` (plus the sampler's scalars) a step, a few times less than without it.
    - `axis_name`: under `shard_map`/`pmap`/`vmap` with a named batch axis, that axis
      name: the noise then equals a one-device run's (see above).

    **Returns:** the samples at level `sigmas[-1]`, shaped like `x`.

    ```python
    import jax, jax.numpy as jnp
    from jaxsci import diffusion as jd
    gmm = jd.targets.GaussianMixture(jnp.array([0.5, 0.5]), jnp.array([[-2.0, 0.0], [2.0, 0.0]]),
                                     0.1 * jnp.ones((2, 2)))
    sigmas = jd.karras_sigmas(10, 0.002, 80.0)
    x = 80.0 * jax.random.normal(jax.random.key(0), (1000, 2))
    y = jd.sample(gmm.denoiser, x, sigmas, sampler=jd.DPMpp2M())
    z = jd.sample(gmm.denoiser, x, sigmas, sampler=jd.DPMpp2MSDE(), key=jax.random.key(1))
    ```

    Reference: Karras et al., NeurIPS 2022 (the denoiser convention and ODE).
    """
    if not isinstance(sampler, AbstractSampler):
        raise TypeError(f"sampler must be an AbstractSampler (e.g. jaxsci.diffusion.Euler()), got {type(sampler)}.")
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable as denoiser(x, sigma), got {type(denoiser)}.")
    x = jnp.asarray(x)
    if x.ndim < 1 or not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"x must be a floating array with a leading batch axis, got {x.dtype}{x.shape}.")
    # levels and coefficients in float32 at least: bfloat16 levels collide, and their
    # coefficients doubled or tripled the error of a bfloat16 x
    sigmas = check_sigmas(sigmas, jnp.promote_types(x.dtype, jnp.float32))
    if key is not None:
        check_key(key, "sample")
    elif sampler.stochastic:
        x = _deterministic_or_raise(sampler, x)
    _check_output(denoiser, x, sigmas[0])
    offset = None if axis_name is None else jax.lax.axis_index(axis_name) * x.shape[0]
    with row_offset(offset):
        return _scan(denoiser, x, sigmas, sampler, key, checkpoint)


def _deterministic_or_raise(sampler: AbstractSampler, x: Array) -> Array:
    """A stochastic sampler without a key: an error, unless its noise switch is traced (then
    `step` runs without noise, and a nonzero switch fails when the program runs)."""
    message = f"{type(sampler).__name__} is stochastic: pass key=jax.random.key(...)"
    name = sampler.noise_switch
    value = None if name is None else getattr(sampler, name)
    if value is None or concrete(value) is not None:
        raise ValueError(message + ".")
    return runtime_check(x, jnp.any(value != 0), f"{message} (its {name} is nonzero).")


def _scan(denoiser, x, sigmas, sampler, key, checkpoint):
    stateful = isinstance(denoiser, AbstractStatefulDenoiser)
    carry0 = (x, sampler.init(x, sigmas), denoiser.init_state(x) if stateful else None)

    def body(carry, inputs, final=False):
        x, state, dstate = carry
        i, sigma, sigma_next = inputs
        box = [dstate]

        def den(y, s):
            # the model sees the dtype of x; its output comes back in that of y (a step may
            # form y in float32 from a bfloat16 x); a float64 model with float32 x broke the carry
            if stateful:
                out, new = denoiser.apply(y.astype(x.dtype), s, box[0])
                box[0] = _like(new, box[0])
                return out.astype(y.dtype)
            return denoiser(y.astype(x.dtype), s).astype(y.dtype)

        # marks read by `unless_last`: a pure denoiser's discarded final stage may be skipped
        den.pure, den.final, den.declared = not stateful, final, sampler.skips_final_stage
        step_key = None if key is None or not sampler.stochastic else jax.random.fold_in(key, i)
        x_next, state_next = sampler.step(state, den, x, sigma, sigma_next, step_key)
        # no-ops unless x is narrower than float32 (the step computed in float32)
        return (x_next.astype(x.dtype), _like(state_next, state), box[0]), None

    last = functools.partial(body, final=True)
    if checkpoint:
        body, last = jax.checkpoint(body), jax.checkpoint(last)
    inputs = (jnp.arange(sigmas.shape[0] - 1), sigmas[:-1], sigmas[1:])
    # One step an iteration: a two-step unrolled body ran 1.3-1.7x slower on the mixture
    # denoiser (DPM++ 2M, Heun). Samplers keep carried arrays in place with `History`.
    if not sampler.skips_final_stage:
        (x, _, _), _ = jax.lax.scan(body, carry0, inputs)
        return x
    # the final step runs after the loop: there `unless_last` skips the discarded stage under
    # a cond, which inside the loop it does only when asked to (`anywhere=True`)
    carry, _ = jax.lax.scan(body, carry0, jax.tree.map(lambda a: a[:-1], inputs))
    (x, _, _), _ = last(carry, jax.tree.map(lambda a: a[-1], inputs))
    return x


def _like(new, old):
    """`new` with the dtypes of `old` (a scan carry keeps its types); no-op where they match."""

    def cast(a, b):
        a, dtype = jnp.asarray(a), jnp.result_type(b)
        return a if a.dtype == dtype else a.astype(dtype)

    return jax.tree.map(cast, new, old)
