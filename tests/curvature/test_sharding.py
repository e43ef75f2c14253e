"""Estimators with the data batch split over 4 virtual CPU devices equal one device."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ._problems import ce_loss, classification_batch, mlp_params
from jaxsci import parallel
from jaxsci.curvature import Hessian, diagonal, eigenvalues, trace

pytestmark = pytest.mark.usefixtures("x64")
SMALL = (6, 20, 16, 4)


def test_sharded_batch_gives_single_device_numbers(getkey):
    # reference: the same estimators (same keys) with everything on one device
    assert len(jax.devices()) >= 4
    params = mlp_params(getkey(), SMALL)
    batch = classification_batch(getkey(), 32, SMALL)
    key = getkey()

    @jax.jit
    def estimates(params, batch):
        H = Hessian(ce_loss, params, batch)
        tr, _ = trace(H, key=key, num_matvecs=8)
        diag = diagonal(H, key=key, num_matvecs=8)
        vals, _ = eigenvalues(H, 3, num_matvecs=8, which="magnitude", key=key)
        return tr, diag, vals

    one = estimates(params, batch)
    mesh = parallel.make_mesh(4)
    sharded_batch = parallel.shard_batch(batch, mesh)
    assert len(sharded_batch[0].sharding.device_set) == 4  # the batch really is split
    many = estimates(parallel.replicate(params, mesh), sharded_batch)
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(many)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-10, atol=1e-12)
    assert jnp.all(jnp.isfinite(one[0]))
