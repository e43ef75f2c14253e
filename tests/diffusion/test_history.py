"""`History` (multistep sampler state) and what it buys: loops that copy nothing.

References: a Python list of the pushed arrays (newest first); the compiled HLO of `sample`
(the loop body of every sampler holds no copy of a batch-sized array, and no `conditional`
over one).
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci import diffusion as jd
from jaxsci.diffusion.samplers import History

from ._helpers import SIGMA_MAX


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_history_matches_a_list(size):
    like = jnp.zeros((4, 3))
    pushed = [jnp.full((4, 3), float(i + 1)) + jnp.arange(3.0) for i in range(2 * size + 1)]

    @jax.jit
    def run(values):
        h, out = History.empty(size, like), []
        for v in values:
            h = h.push(v)
            out.append(jnp.stack([h[lag] for lag in range(size)]))
        return out

    for n, got in enumerate(run(pushed), start=1):
        reference = pushed[:n][::-1] + [jnp.zeros_like(like)] * max(size - n, 0)
        np.testing.assert_array_equal(np.asarray(got), np.stack(reference[:size]))


def test_history_under_vmap_and_grad():
    h0 = History.empty(2, jnp.zeros(3))
    values = jnp.arange(12.0).reshape(2, 2, 3)  # (batch, pushes, 3)

    def last_two(vs):
        h = h0.push(vs[0]).push(vs[1])
        return h[0] - 2.0 * h[1]

    batched = jax.vmap(last_two)(values)
    np.testing.assert_array_equal(np.asarray(batched), np.asarray(values[:, 1] - 2.0 * values[:, 0]))
    g = jax.grad(lambda vs: jnp.sum(last_two(vs)))(values[0])
    np.testing.assert_array_equal(np.asarray(g), np.stack([-2.0 * np.ones(3), np.ones(3)]))


def test_history_errors_and_size():
    with pytest.raises(ValueError, match="size"):
        History.empty(0, jnp.zeros(3))
    with pytest.raises(ValueError, match="size"):
        History.empty(2.5, jnp.zeros(3))
    with pytest.raises(IndexError, match="lag"):
        History.empty(2, jnp.zeros(3))[2]
    with pytest.raises(ValueError, match="shape"):
        History.empty(2, jnp.zeros(3)).push(jnp.zeros(4))
    assert History.empty(np.int64(3), jnp.zeros(2)).size == 3
    # the size is static: a History returned from vmap keeps it (its buffer gains the batch axis)
    batched = jax.vmap(lambda v: History.empty(3, v).push(v))(jnp.ones((5, 2)))
    assert batched.size == 3 and batched.buffer.shape == (5, 3, 2)


def _loop_bodies(hlo: str) -> list[str]:
    """The text of every `while` body computation in compiled HLO."""
    names = re.findall(r"while\(.*?body=(%[\w.\-]+)", hlo)
    bodies = []
    for name in names:
        start = hlo.index(f"\n{name} ")
        bodies.append(hlo[start : hlo.index("\n}", start)])
    return bodies


def _plain_copies(body: str, dims: str) -> list[str]:
    """Copies of `dims`-shaped arrays that keep their layout (a `copy` that changes the
    layout is a transpose, part of the computation, not a buffer copy)."""
    types = dict(re.findall(r"(%[\w.\-]+) = (\S+) ", body))
    copies = re.findall(r"(%[\w.\-]+) = (\S+) copy\((%[\w.\-]+)\)", body)
    return [c for c, t, src in copies if f"[{dims}]" in t and types.get(src) == t]


SAMPLERS = [
    jd.Euler(), jd.Heun(), jd.DPM2(), jd.LMS(order=3), jd.DDIM(eta=0.5), jd.EulerAncestral(),
    jd.DPMpp2M(), jd.DPMpp2SAncestral(), jd.DPMppSDE(), jd.DPMpp2MSDE(), jd.DPMpp3MSDE(),
    jd.EulerMaruyama(), jd.PredictorCorrector(jd.Heun(), jd.Langevin()),
]  # fmt: skip


def _affine_denoiser(d):
    """The exact denoiser of N(mu, C), as a layer x @ W(sigma) + b(sigma): it reads x in its
    own layout, so any copy in the loop is the sampler's (a denoiser that transposes x, such
    as the small-d mixture, makes XLA copy the updated x once a step whatever the sampler)."""
    a = jax.random.normal(jax.random.key(3), (d, d)) / np.sqrt(d)
    cov, mu = a @ a.T + 0.5 * jnp.eye(d), jnp.linspace(-1.0, 1.0, d)

    def den(x, sigma):
        w = jnp.linalg.solve(cov + sigma**2 * jnp.eye(d), cov)  # C (C + s^2 I)^-1, transposed
        return (x - mu) @ w + mu

    return den


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: type(s).__name__)
def test_sampling_loop_copies_no_batch_array(sampler):
    """XLA copies a carried array whenever a loop's outputs swap buffers (e.g. carrying the
    last denoised estimate as its own array); `History` keeps them in place. Each copy cost
    about as much as the sampler's whole update on the CPU benchmark."""
    den = _affine_denoiser(2)
    x = SIGMA_MAX * jax.random.normal(jax.random.key(0), (512, 2))
    sigmas = jd.karras_sigmas(8, 0.002, SIGMA_MAX)
    run = jax.jit(lambda x: jd.sample(den, x, sigmas, sampler=sampler, key=jax.random.key(1)))
    bodies = _loop_bodies(run.lower(x).compile().as_text())
    assert bodies, "the sampling loop was not found in the HLO"
    for body in bodies:
        assert not _plain_copies(body, "512,2"), body
        # the final step's skippable stage runs after the loop, not under a cond inside it
        # (scalar conds, such as LMS's choice of weights, are cheap)
        assert not re.search(r"512,2\].* conditional\(", body), body
    if sampler.skips_final_stage:
        calls = []

        def counted(y, s):
            jax.debug.callback(lambda: calls.append(1))
            return den(y, s)

        jax.jit(lambda x: jd.sample(counted, x, sigmas, sampler=sampler, key=jax.random.key(1)))(x)
        jax.effects_barrier()
        n = sigmas.shape[0] - 1
        corrector = n if isinstance(sampler, jd.PredictorCorrector) else 0  # one Langevin call a level
        assert len(calls) == 2 * n - 1 + corrector
