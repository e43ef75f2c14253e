"""Per-sample Gaussian noise: counter-based Threefry bits and a Box-Muller transform.

Every stochastic sampler draws its noise through `normal_like`, once a step, over the
whole batch. The cost matters (at d = 256 it is a quarter of a cheap denoiser call), so
every element is computed independently by elementwise ops that XLA fuses with the
consumer into one pass, and the noise is never written to memory:

- the bits are Threefry-2x32 with its standard 20 rounds, unrolled here in plain integer
  ops (bit-identical to `jax.extend.random.threefry2x32_p`, whose CPU lowering is a rolled
  loop that materialises its state between rounds), hashing the counters `(b, j)` of
  sample `b`, element `j` under the step's key;
- the two 32-bit words of one hash give one normal by Box-Muller, $\\pm\\sqrt{-2\\log u}
  \\cos\\psi$ with $\\psi$ uniform on $(0, \\pi/2)$, the cosine a short Taylor polynomial
  (no range reduction, no `erfinv`, and no second output to store or to recompute).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..._types import Array, PRNGKey

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _rotl(v: Array, r: int) -> Array:
    return (v << np.uint32(r)) | (v >> np.uint32(32 - r))


def threefry2x32(k0: Array, k1: Array, x0: Array, x1: Array) -> tuple[Array, Array]:
    """Threefry-2x32 with 20 rounds of the counters `(x0, x1)` under the key `(k0, k1)`.

    Unrolled elementwise integer ops (adds, rotations, xors), so XLA fuses the whole hash
    with whatever consumes it. Bit-identical to JAX's `threefry2x32_p`.

    Reference: Salmon et al., *Parallel random numbers: as easy as 1, 2, 3*, SC 2011.
    """
    ks = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0 = x0 + ks[0]
    x1 = x1 + ks[1]
    for block in range(5):
        for r in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(block + 1) % 3]
        x1 = x1 + ks[(block + 2) % 3] + np.uint32(block + 1)
    return x0, x1


def _cos_quarter(psi: Array, terms: int) -> Array:
    """Taylor polynomial of $\\cos\\psi$ on $0 \\le \\psi \\le \\pi/2$ (Horner in $\\psi^2$).

    With `terms` = 7 the truncation error is below 7e-9, with 12 below 1e-19.
    """
    p2 = psi * psi
    c = jnp.zeros_like(psi)
    for k in reversed(range(terms)):
        c = c * p2 + ((-1) ** k / math.factorial(2 * k))
    return c


def _box_muller(u: Array, t: Array, negative: Array, terms: int) -> Array:
    """One standard normal $\\pm\\sqrt{-2 \\log u}\\, \\cos(\\tfrac{\\pi}{2} t)$ from $u \\in (0, 1]$,
    $t \\in (0, 1)$ and a sign: the cosine of an angle uniform on the circle has the law of
    $\\pm\\cos\\psi$ with $\\psi$ uniform on $(0, \\pi/2)$, so no range reduction is needed."""
    z = jnp.sqrt(-2.0 * jnp.log(u)) * _cos_quarter((0.5 * math.pi) * t, terms)
    return jnp.where(negative, -z, z)


_ROW_OFFSET: contextvars.ContextVar = contextvars.ContextVar("jaxsci_diffusion_row_offset", default=None)


@contextlib.contextmanager
def row_offset(offset):
    """While tracing inside this context, `normal_like` numbers the samples of `x` from
    `offset` (an integer scalar, may be traced) instead of 0. `sample(..., axis_name=...)`
    sets it to the index of its local block's first sample in the global batch."""
    token = _ROW_OFFSET.set(offset)
    try:
        yield
    finally:
        _ROW_OFFSET.reset(token)


def _counters(rows: int, cols: int, scale: int = 1, shift: int = 0, offset=None) -> tuple[Array, Array]:
    c0 = jax.lax.broadcasted_iota(jnp.uint32, (rows, cols), 0)
    c1 = jax.lax.broadcasted_iota(jnp.uint32, (rows, cols), 1)
    if offset is not None:
        c0 = c0 + offset
    if scale != 1:
        c1 = c1 * np.uint32(scale) + np.uint32(shift)
    return c0, c1


@functools.partial(jax.jit, static_argnums=(1, 2))  # one compilation when called eagerly
def _normal32(kd: Array, rows: int, n: int, offset=None) -> Array:
    """float32: the hash of `(b, j)` gives a 24-bit radius uniform (first word) and a 24-bit
    angle and a sign (second word)."""
    y0, y1 = threefry2x32(kd[0], kd[1], *_counters(rows, n, offset=offset))
    u = ((y0 >> np.uint32(8)).astype(jnp.float32) + 1.0) * np.float32(2.0**-24)
    t = ((y1 >> np.uint32(8)).astype(jnp.float32) + 0.5) * np.float32(2.0**-24)
    return _box_muller(u, t, (y1 & np.uint32(1)) == 1, terms=7)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _normal64(kd: Array, rows: int, n: int, offset=None) -> Array:
    """float64: the hashes of `(b, 2j)` and `(b, 2j + 1)` give a 53-bit radius uniform and a
    53-bit angle and a sign."""

    def word(shift):
        y0, y1 = threefry2x32(kd[0], kd[1], *_counters(rows, n, 2, shift, offset))
        return (y0.astype(jnp.uint64) << np.uint64(32)) | y1.astype(jnp.uint64)

    a, b = word(0), word(1)
    u = ((a >> np.uint64(11)).astype(jnp.float64) + 1.0) * 2.0**-53
    t = ((b >> np.uint64(11)).astype(jnp.float64) + 0.5) * 2.0**-53
    return _box_muller(u, t, (b & np.uint64(1)) == 1, terms=12)


def normal_like(key: PRNGKey, x: Array, *, offset=None) -> Array:
    """Standard normal noise shaped like `x`, drawn per sample.

    Element `j` of sample `b` (the leading axis of `x`, the other axes flattened) is a
    function of `(key, offset + b, j)` only, so a sample's noise does not depend on how many
    other samples share the batch, and a batch split over devices by `jax.jit` with a
    sharding draws exactly the same numbers as on one device. Under `shard_map` or `pmap`
    each device sees only its block, numbered from 0: pass that block's global `offset`
    (`sample(..., axis_name=...)` does this for every sampler), or every device draws the
    same noise. The Threefry-2x32 hash of the counters $(b, j)$ gives two
    32-bit words $(u, \\theta)$ and, by Box-Muller, $z_{b,j} = \\sqrt{-2\\log u}\\cos\\theta$
    (in float64 two hashes an element, for 53-bit uniforms). Every element is computed
    independently by elementwise integer and float arithmetic, which XLA fuses into one
    pass with the consumer (e.g. the sampler's update), so the noise is never stored.
    Non-Threefry keys fall back to `jax.random.normal` under the key `fold_in(key, b)` for
    sample `b`.

    **Arguments:**

    - `key`: a JAX random key (typed, or a raw `uint32[2]` Threefry key).
    - `x`: a floating array of shape `(batch, ...)`.
    - `offset`: the global index of the first sample of `x` (an integer scalar, may be
      traced). Default: 0, or the offset that `sample(..., axis_name=...)` sets for the
      samplers it runs.

    **Returns:** an array shaped like `x`, with the dtype of `x`.

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.diffusion.samplers import normal_like
    z = normal_like(jax.random.key(0), jnp.zeros((5, 3)))
    assert (normal_like(jax.random.key(0), jnp.zeros((2, 3))) == z[:2]).all()
    ```

    References: Salmon et al., *Parallel random numbers: as easy as 1, 2, 3*, SC 2011
    (Threefry); Box and Muller, *A note on the generation of random normal deviates*, Ann.
    Math. Statist. 1958.
    """
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    kd = jax.random.key_data(key) if typed else key
    offset = _ROW_OFFSET.get() if offset is None else offset
    offset = None if offset is None else jnp.asarray(offset).astype(jnp.uint32)
    if kd.shape != (2,) or kd.dtype != jnp.uint32 or (typed and jax.random.key_impl(key) != "threefry2x32"):
        index = jnp.arange(x.shape[0], dtype=jnp.uint32)
        index = index if offset is None else index + offset
        one = lambda i: jax.random.normal(jax.random.fold_in(key, i), x.shape[1:], x.dtype)  # noqa: E731
        return jax.vmap(one)(index)
    rows, n = x.shape[0], math.prod(x.shape[1:])
    z = (_normal64 if x.dtype == jnp.float64 else _normal32)(kd, rows, n, offset)
    return z.reshape(x.shape).astype(x.dtype)
