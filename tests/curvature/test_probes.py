"""Every estimator and optimiser draws its signs with the fast sampler, chunking is exact."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from ._problems import ce_loss, classification_batch, mlp_params
from jaxsci.curvature import Hessian, diagonal, trace
from jaxsci.curvature._probes import draw_tree
from jaxsci.curvature.optim import adahessian, sophia_h

SMALL = (6, 20, 16, 4)


@pytest.fixture
def no_slow_rademacher(monkeypatch):
    """Make `jax.random.rademacher` (one 32-bit draw per sign) fail if anything calls it."""

    def refuse(*args, **kwargs):
        raise AssertionError("jax.random.rademacher was called; use jaxsci's fast sampler")

    monkeypatch.setattr(jax.random, "rademacher", refuse)


def test_diagonal_equals_dense_average_over_the_same_probes_for_any_chunk(x64, getkey):
    # reference: mean_p z_p * (H z_p) with the dense jax.hessian and the same probes
    params = mlp_params(getkey(), SMALL)
    batch = classification_batch(getkey(), 16, SMALL)
    flat, unravel = ravel_pytree(params)
    dense = jax.hessian(lambda f: ce_loss(unravel(f), batch))(flat)
    key, m = getkey(), 7
    z = draw_tree(key, m, params)
    zf = jax.vmap(lambda t: ravel_pytree(t)[0])(z)
    reference = jnp.mean(zf * (zf @ dense), axis=0)
    H = Hessian(ce_loss, params, batch)
    for chunk in (None, 3):  # None: one vmap of 7 on CPU; 3 leaves a remainder of one probe
        est = ravel_pytree(diagonal(H, key=key, num_matvecs=m, chunk_size=chunk))[0]
        np.testing.assert_allclose(est, reference, rtol=1e-10, atol=1e-14)
    tr, _ = trace(H, key=key, num_matvecs=m, chunk_size=3)
    np.testing.assert_allclose(tr, jnp.mean(jnp.sum(zf * (zf @ dense), axis=1)), rtol=1e-10)
    with pytest.raises(ValueError, match="chunk_size"):
        diagonal(H, key=key, num_matvecs=m, chunk_size=0)


def test_estimators_and_optimisers_never_call_jax_rademacher(no_slow_rademacher, getkey):
    a = jnp.array([1.0, 2.0, 3.0, 4.0])
    loss = lambda p, b: 0.5 * jnp.sum(a * p["w"] ** 2) + 0.5 * jnp.sum(p["k"] ** 2)
    params = {"w": jnp.ones(4), "k": jnp.ones((3, 3, 2, 2))}
    H = Hessian(loss, params, None)
    # diagonal Hessian: Rademacher Hutchinson is exact (reference: the analytic diagonal)
    assert jnp.allclose(trace(H, key=getkey(), num_matvecs=2)[0], a.sum() + 36, rtol=1e-6)
    est, err = trace(H, key=getkey(), num_matvecs=12, method="hutch++")
    assert abs(est - (a.sum() + 36)) < 5 * err + 1e-4
    assert jnp.allclose(diagonal(H, key=getkey(), num_matvecs=1)["w"], a, rtol=1e-6)
    grads = jax.grad(loss)(params, None)
    for opt in (adahessian(0.1, key=getkey(), num_probes=2), sophia_h(0.1, key=getkey())):
        state = opt.init(params)
        updates, _ = opt.update(grads, state, params, hvp_fn=H.mv)
        assert all(jnp.all(jnp.isfinite(u)) for u in jax.tree.leaves(updates))
        # first step of either: a finite, nonzero move against the gradient
        moved = optax.apply_updates(params, updates)
        assert loss(moved, None) < loss(params, None)
