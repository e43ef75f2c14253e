"""Trace, diagonal, eigenvalues and spectral density against the dense float64 Hessian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from ._problems import ce_loss, classification_batch, dense_hessian, mlp_params
from jaxsci.curvature import Hessian, diagonal, eigenvalues, spectral_density, trace

pytestmark = pytest.mark.usefixtures("x64")
SMALL = (6, 20, 16, 4)  # 544 parameters: dense references stay cheap


@pytest.fixture(scope="module")
def setup():
    with jax.enable_x64(True):
        params = mlp_params(jax.random.key(3), SMALL)
        batch = classification_batch(jax.random.key(4), 16, SMALL)
        return params, batch, dense_hessian(ce_loss, params, batch)


def _layers(p):
    return {f"layer{i}": {"w": p[f"w{i}"], "b": p[f"b{i}"]} for i in range(len(p) // 2)}


def _block_slices(params):
    """Flat index ranges of each leaf of the (sorted-key) dict in ravel_pytree order."""
    out, start = {}, 0
    for name in sorted(params):
        size = params[name].size
        out[name] = slice(start, start + size)
        start += size
    return out


def test_trace_hutchinson_z_score_and_blocks_sum_to_total(setup, getkey):
    params, batch, dense = setup
    H = Hessian(ce_loss, params, batch)
    key = getkey()
    est, err = trace(H, key=key, num_matvecs=200)
    exact = jnp.trace(dense)
    assert abs(est - exact) < 4 * err  # z-score against the dense trace
    per_leaf, per_leaf_err = trace(H, key=key, num_matvecs=200, blocks="leaves")
    assert jnp.allclose(sum(per_leaf.values()), est, rtol=1e-10)  # same probes, exact split
    sl = _block_slices(params)
    for name, s in sl.items():
        block_exact = jnp.trace(dense[s, s])
        assert abs(per_leaf[f"['{name}']"] - block_exact) < 4.5 * per_leaf_err[f"['{name}']"] + 1e-12
    per_layer, _ = trace(H, key=key, num_matvecs=200, blocks=_layers)
    assert set(per_layer) == {"layer0", "layer1", "layer2"}
    assert jnp.allclose(sum(per_layer.values()), est, rtol=1e-10)


def test_trace_and_diagonal_exact_for_diagonal_hessian(getkey):
    # Rademacher Hutchinson is exact for a diagonal matrix: z_i^2 = 1.
    b = jnp.arange(1.0, 8.0)
    H = Hessian(lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2), {"w": jnp.ones(7)}, b)
    est, err = trace(H, key=getkey(), num_matvecs=3)
    assert jnp.allclose(est, b.sum(), rtol=1e-12) and err < 1e-12
    assert jnp.allclose(diagonal(H, key=getkey(), num_matvecs=1)["w"], b, rtol=1e-12)


def test_trace_hutchpp_via_linalg_per_layer(setup, getkey):
    params, batch, dense = setup
    H = Hessian(ce_loss, params, batch)
    per_layer, errs = trace(H, key=getkey(), num_matvecs=60, method="hutch++", blocks=_layers)
    sl = _block_slices(params)
    for i in range(3):
        idx = np.r_[sl[f"b{i}"], sl[f"w{i}"]]
        exact = jnp.trace(dense[np.ix_(idx, idx)])
        assert abs(per_layer[f"layer{i}"] - exact) < 5 * errs[f"layer{i}"] + 1e-3 * abs(exact)


def test_diagonal_hutchinson_z_scores(setup, getkey):
    params, batch, dense = setup
    H = Hessian(ce_loss, params, batch)
    m = 100
    diag = diagonal(H, key=getkey(), num_matvecs=m)
    flat = ravel_pytree(diag)[0]
    # Var of z_i (Hz)_i with Rademacher z is sum_{j != i} H_ij^2.
    var = (jnp.sum(dense**2, axis=1) - jnp.diag(dense) ** 2) / m
    z = (flat - jnp.diag(dense)) / jnp.sqrt(var + 1e-30)
    assert jnp.max(jnp.abs(z)) < 5.5 and abs(jnp.mean(z)) < 0.2
    per_leaf = diagonal(H, key=getkey(), num_matvecs=2, blocks="leaves")
    assert per_leaf["['w1']"].shape == params["w1"].shape


def test_top_eigenvalues_match_eigvalsh(setup, getkey):
    params, batch, dense = setup
    H = Hessian(ce_loss, params, batch)
    reference = jnp.linalg.eigvalsh(dense)
    vals, vecs = eigenvalues(H, 5, num_matvecs=100, key=getkey())
    assert jnp.allclose(vals, reference[::-1][:5], rtol=1e-7)
    flat_vecs = jax.vmap(lambda t: ravel_pytree(t)[0])(vecs)
    residual = flat_vecs @ dense - vals[:, None] * flat_vecs
    assert jnp.max(jnp.linalg.norm(residual, axis=1)) < 1e-5 * abs(vals[0])
    small, _ = eigenvalues(H, 2, num_matvecs=100, which="smallest", key=getkey())
    assert jnp.allclose(small, reference[:2], rtol=1e-5, atol=1e-8 * abs(vals[0]))
    # "magnitude" picks a negative eigenvalue when it dominates (PyHessian's power iteration
    # cannot tell the sign apart from "largest"): a diagonal Hessian with entries -5..3
    d = jnp.array([-5.0, 3.0, 1.0, 0.5, -1.0, 2.0])
    Hd = Hessian(lambda p, b: 0.5 * jnp.sum(d * p["w"] ** 2), {"w": jnp.ones(6)}, None)
    mag, _ = eigenvalues(Hd, 2, num_matvecs=6, which="magnitude", key=getkey())
    assert jnp.allclose(mag, jnp.array([-5.0, 3.0]), rtol=1e-10)
    top, _ = eigenvalues(Hd, 1, num_matvecs=6, key=getkey())
    assert jnp.allclose(top, 3.0, rtol=1e-10)


def test_per_block_eigenvalues_match_dense_blocks(setup, getkey):
    params, batch, dense = setup
    H = Hessian(ce_loss, params, batch)
    blocks = lambda p: {"w1": p["w1"], "last": {"w": p["w2"], "b": p["b2"]}}
    out = eigenvalues(H, 2, num_matvecs=40, blocks=blocks, key=getkey())
    sl = _block_slices(params)
    for name, idx in (("w1", np.r_[sl["w1"]]), ("last", np.r_[sl["b2"], sl["w2"]])):
        top = jnp.linalg.eigvalsh(dense[np.ix_(idx, idx)])[::-1][:2]
        assert jnp.allclose(out[name][0], top, rtol=1e-6), name
        assert all(leaf.shape[0] == 2 for leaf in jax.tree.leaves(out[name][1]))


def test_spectral_density_normalised_with_mean_trace_over_n(setup, getkey):
    params, batch, dense = setup
    H = Hessian(ce_loss, params, batch)
    n = dense.shape[0]
    sd = spectral_density(H, key=getkey(), num_probes=8, num_steps=30)
    assert jnp.allclose(jnp.sum(sd.weights, axis=1), 1.0, atol=1e-10)
    assert jnp.allclose(jnp.trapezoid(sd.density, sd.grid), 1.0, atol=1e-3)
    mean = sd.mean()
    assert jnp.allclose(jnp.trapezoid(sd.grid * sd.density, sd.grid), mean, rtol=1e-3)
    # Gauss quadrature is exact for f(x) = x, so the per-probe means are z^T H z / n:
    # a Hutchinson estimate of tr(H)/n; check it with a loose z-score bound.
    per_probe = jnp.sum(sd.weights * sd.nodes, axis=1)
    err = jnp.std(per_probe, ddof=1) / jnp.sqrt(per_probe.size)
    assert abs(mean - jnp.trace(dense) / n) < 4 * err
    ev = jnp.linalg.eigvalsh(dense)
    assert sd.nodes.max() <= ev[-1] * (1 + 1e-8) and sd.nodes.min() >= ev[0] - 1e-8 * ev[-1]


def test_bad_input_raises(setup, getkey):
    params, batch, dense = setup
    H = Hessian(ce_loss, params, batch)
    n = dense.shape[0]
    with pytest.raises(ValueError, match="number of parameters"):
        eigenvalues(H, n + 1, num_matvecs=n)
    with pytest.raises(ValueError, match="num_matvecs"):
        eigenvalues(H, 5, num_matvecs=3)
    with pytest.raises(ValueError, match="which"):
        eigenvalues(H, 1, which="biggest")
    with pytest.raises(ValueError, match="num_matvecs"):
        trace(H, key=getkey(), num_matvecs=1)
    with pytest.raises(ValueError, match="num_matvecs"):
        trace(H, key=getkey(), num_matvecs=2, method="hutch++")
    with pytest.raises(ValueError, match="blocks"):
        trace(H, key=getkey(), num_matvecs=4, blocks="layers")
    with pytest.raises(ValueError, match="num_steps"):
        spectral_density(H, key=getkey(), num_steps=1)
    with pytest.raises(TypeError, match="op"):
        trace(lambda v: v, key=getkey())
