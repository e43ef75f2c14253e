"""Rollouts of a stepper as a `lax.scan`, with optional segment checkpointing."""

from __future__ import annotations

import functools
import math
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Shaped

from .._checks import as_index, positive_int, varies_over_devices
from ._args import checked_bool
from ._stepper import AbstractSpectralStepper, checked_state

_NOT_FINITE = (
    "rollout: the state became inf/NaN. The time step is probably unstable for this PDE and "
    "resolution: reduce `dt` (or dealias, or raise the stepper's order). Pass "
    "`check_finite=False` to return the states anyway."
)
_U0_NOT_FINITE = (
    "rollout: the initial state `u0` contains inf/NaN (before any step was taken). Pass a "
    "finite `u0`, or `check_finite=False` to return the states anyway."
)


def _resolve_segment(checkpoint, num_steps: int, save_every: int) -> int | None:
    if checkpoint is None or checkpoint is False:
        return None
    if isinstance(checkpoint, str) and checkpoint == "sqrt":
        seg = max(1, round(math.sqrt(num_steps)))
        if seg >= save_every:
            return (seg // save_every) * save_every
        return max(d for d in range(1, seg + 1) if save_every % d == 0)
    value, checkpoint = checkpoint, as_index(checkpoint)
    if checkpoint is None or checkpoint < 1:
        raise ValueError(f"`checkpoint` must be None, 'sqrt' or a positive int, got {value!r}.")
    if checkpoint % save_every and save_every % checkpoint:
        raise ValueError(
            f"`checkpoint` ({checkpoint}) must divide or be a multiple of `save_every` ({save_every})."
        )
    return checkpoint


def _steps(step: Callable, n: int, remat: bool) -> Callable:
    """`carry -> carry` running `n` steps, optionally as one rematerialised segment."""

    def run(carry):
        if n == 1:
            return step(carry)
        return jax.lax.fori_loop(0, n, lambda _, c: step(c), carry)

    return jax.checkpoint(run) if remat else run


def _saves(block: Callable, n_saves: int, out: Callable, remat: bool) -> Callable:
    """`carry -> (carry, frames)` running `n_saves` blocks and saving after each."""

    def run(carry):
        def body(c, _):
            c = block(c)
            return c, out(c)

        return jax.lax.scan(body, carry, None, length=n_saves)

    return jax.checkpoint(run) if remat else run


def rollout(
    stepper: Callable,
    u0: Shaped[Array, "c *shape"],
    num_steps: int,
    *,
    save_every: int = 1,
    checkpoint: int | str | None = None,
    include_init: bool = False,
    check_finite: bool = True,
) -> Shaped[Array, "t c *shape"]:
    r"""Apply `stepper` `num_steps` times to `u0` and return the saved states.

    The loop is a `jax.lax.scan`. A spectral stepper (an
    [`jaxsci.spectral.AbstractSpectralStepper`][], e.g. `ETDRK`) is run on Fourier
    coefficients, transforming only the saved frames back to physical space; any other
    `stepper(u) -> u_next` is scanned as is.

    Reverse-mode gradients of a plain scan store every step's residuals (memory $O(n)$).
    With `checkpoint=k` the steps are grouped into segments of `k` steps, each wrapped in
    `jax.checkpoint`: the backward pass stores only segment boundaries and recomputes one
    segment at a time, so memory is $O(n/k + k)$, i.e. $O(\sqrt n)$ for
    `checkpoint="sqrt"` ($k \approx \sqrt n$). Results and gradients are unchanged.

    **Arguments:**

    - `stepper`: a callable `u -> u_next`.
    - `u0`: initial state `(channels, *shape)` for a spectral stepper (any array-like:
      integers become the default float type, and bfloat16/float16, which the FFT does not
      take, float32, so the states are then float32); any pytree of arrays for a plain
      callable (then every output below has the structure of `u0`, each leaf stacked along
      a new leading axis).
    - `num_steps`: number of steps (a multiple of `save_every`).
    - `save_every`: keep every `save_every`-th state.
    - `checkpoint`: `None` (plain scan), a segment length in steps (a divisor or a
      multiple of `save_every`), or `"sqrt"`.
    - `num_steps`, `save_every` and an integer `checkpoint` may be any integer type
      (Python, NumPy, a concrete JAX integer; not `bool`).
    - `include_init`: prepend `u0` to the output (leaf by leaf for a pytree).
    - `check_finite`: raise if the final state holds an inf or NaN, which an unstable time
      step produces, or if `u0` already does (a separate message, which names `u0`): an
      `equinox.EquinoxRuntimeError` eagerly and under `equinox.filter_jit`, a
      `jax.errors.JaxRuntimeError` carrying the same message under `jax.jit` (also under
      `vmap`). The check reads only `u0` and the last frame (every floating leaf of a
      pytree state).
      Inside `jax.shard_map` it is skipped for per-device values (e.g. under
      [`jaxsci.parallel.data_parallel`][]); for replicated values, or with
      `check_vma=False`, it would fire on every device at once, so pass `False` there.
      `False` returns the states whatever they are.
    - `include_init` and `check_finite` must be `bool`s (a `ValueError` otherwise).

    **Compilation.** Called outside `jit`, a stepper that is an `equinox.Module` (every
    spectral stepper) runs as one cached `equinox.filter_jit` program: a second call with
    the same stepper structure, shapes, dtypes and options reuses the compiled program
    (new values of `u0`, `dt` or PDE coefficients do not recompile). A plain function is
    traced anew on every call; wrap the call in `jax.jit` to cache it.

    **Returns:** states after `save_every, 2 save_every, ..., num_steps` steps, stacked
    along a new leading axis (shape `(num_steps // save_every [+1], *u0.shape)`).

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain(64)
    stepper = sp.ETDRK(sp.Burgers(domain, 0.1), dt=0.01, order=2)
    u0 = jnp.sin(domain.grid())
    traj = sp.rollout(stepper, u0, 100, save_every=10, checkpoint=50)
    ```

    **Reference:** A. Griewank, A. Walther, *Evaluating Derivatives*, 2nd ed., SIAM 2008
    (checkpointing schedules).
    """
    num_steps, save_every = positive_int(num_steps, "num_steps"), positive_int(save_every, "save_every")
    if num_steps % save_every:
        raise ValueError(f"`num_steps` ({num_steps}) must be a multiple of `save_every` ({save_every}).")
    seg = _resolve_segment(checkpoint, num_steps, save_every)
    include_init = checked_bool(include_init, "include_init")
    check_finite = checked_bool(check_finite, "check_finite")
    if isinstance(stepper, AbstractSpectralStepper):
        # Converted and checked here, so that errors name `u0` and a list is no static input.
        u0 = checked_state(stepper.pde, u0, "u0")
    run = _rollout_cached if isinstance(stepper, eqx.Module) else _rollout
    return run(stepper, u0, num_steps, save_every, seg, include_init, check_finite)


def _rollout(stepper, u0, num_steps: int, save_every: int, seg, include_init: bool, check_finite: bool):
    """The body of `rollout`, on validated arguments (the integers and flags are static)."""
    if isinstance(stepper, AbstractSpectralStepper):
        carry0, step, out = stepper.to_fourier(u0), stepper.step_fourier, stepper.from_fourier
    else:
        carry0, step, out = u0, stepper, (lambda c: c)
    n_saves = num_steps // save_every
    if seg is None or seg < save_every:
        if seg is None:
            block = _steps(step, save_every, False)
        else:  # checkpointed segments inside each saved block
            inner = _steps(step, seg, True)
            block = _steps(inner, save_every // seg, False)
        _, frames = _saves(block, n_saves, out, False)(carry0)
    else:  # each checkpointed segment holds several saved blocks
        per_seg = seg // save_every
        n_seg, rem = divmod(n_saves, per_seg)
        inner = _saves(_steps(step, save_every, False), per_seg, out, True)
        carry, frames = jax.lax.scan(lambda c, _: inner(c), carry0, None, length=n_seg)
        frames = jax.tree.map(lambda f: f.reshape(n_seg * per_seg, *f.shape[2:]), frames)
        if rem:
            _, tail = _saves(_steps(step, save_every, False), rem, out, True)(carry)
            frames = jax.tree.map(lambda f, t: jnp.concatenate([f, t]), frames, tail)
    if check_finite:
        frames = _check_finite(frames, u0)
    if include_init:
        frames = jax.tree.map(lambda a, f: jnp.concatenate([jnp.asarray(a, f.dtype)[None], f]), u0, frames)
    return frames


# One compiled program per stepper structure, shapes and static options, reused by eager calls
# (un-jitted, the scan's closures are new on every call, so JAX would compile it every time).
_rollout_cached = eqx.filter_jit(_rollout)


def _not_finite(leaves) -> Array | bool:
    leaves = [a for a in leaves if jnp.issubdtype(jnp.result_type(a), jnp.inexact)]
    if not leaves:
        return False
    return functools.reduce(jnp.logical_or, [~jnp.all(jnp.isfinite(a)) for a in leaves])


def _check_finite(frames, u0):
    """`frames`, raising at run time if `u0` or the last frame holds an inf or NaN (with the
    message for `u0` when both do). Skipped inside `shard_map` for per-device values, which
    `error_if` cannot check (see `jaxsci._checks.runtime_check`)."""
    bad_init = _not_finite(jax.tree.leaves(u0))
    bad_final = _not_finite([a[-1] for a in jax.tree.leaves(frames)])
    if bad_init is False and bad_final is False:
        return frames
    if any(varies_over_devices(x) for x in jax.tree.leaves((frames, bad_init, bad_final))):
        return frames
    # Under vmap the largest index of the batch picks the message: `u0`'s wins.
    index = jnp.where(bad_init, 1, 0)
    return eqx.branched_error_if(frames, bad_init | bad_final, index, [_NOT_FINITE, _U0_NOT_FINITE])
