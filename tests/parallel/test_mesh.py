"""Sharding helpers: sharded results equal one-device results (4 virtual CPU devices)."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.parallel import ensemble_map, make_mesh, replicate, shard_batch


def test_make_mesh_uses_all_devices():
    mesh = make_mesh()
    assert mesh.shape == {"batch": 4}


def test_shard_batch_splits_leading_axis(getkey):
    mesh = make_mesh()
    x = jax.random.normal(getkey(), (8, 3))
    xs = shard_batch({"a": x}, mesh)["a"]
    assert len(xs.addressable_shards) == 4
    assert {s.data.shape for s in xs.addressable_shards} == {(2, 3)}
    np.testing.assert_array_equal(np.asarray(xs), np.asarray(x))


def test_replicate_keeps_full_copies():
    mesh = make_mesh()
    x = replicate(jnp.arange(6.0), mesh)
    assert {s.data.shape for s in x.addressable_shards} == {(6,)}


def test_ensemble_map_equals_single_device_vmap(getkey):
    """Reference: plain `jax.vmap` on one device."""
    mesh = make_mesh()

    def fn(u, c):
        return jnp.fft.irfft(jnp.fft.rfft(u) * jnp.exp(-c * jnp.arange(33)), n=64)

    u = jax.random.normal(getkey(), (8, 64))
    c = jax.random.uniform(getkey(), (8,))
    sharded = ensemble_map(fn, mesh)(u, c)
    assert len(sharded.addressable_shards) == 4
    np.testing.assert_allclose(np.asarray(sharded), np.asarray(jax.vmap(fn)(u, c)), rtol=1e-6, atol=1e-6)


def test_ensemble_map_is_data_parallel():
    """Reference: the compiled program. Each device must transform only its own members:
    no collective at all, and FFTs of the per-device batch (8 members / 4 devices)."""
    mesh = make_mesh()

    def fn(u):
        return jnp.fft.irfft(jnp.fft.rfft(u) * 0.5, n=64)

    call = ensemble_map(fn, mesh)
    u = shard_batch(jnp.ones((8, 64)), mesh)
    hlo = jax.jit(lambda v: call(v)).lower(u).compile().as_text()
    assert not re.search(r"all-gather|all-reduce|all-to-all|collective-permute", hlo)
    assert re.search(r"f32\[2,64\]\S* fft\(", hlo), "FFT of the per-device batch expected"


def test_bad_inputs_raise():
    mesh = make_mesh()
    with pytest.raises(ValueError, match="divisible"):
        shard_batch(jnp.ones((6, 2)), mesh)
    with pytest.raises(ValueError, match="num_devices"):
        make_mesh(5)
    with pytest.raises(ValueError, match="axis_name"):
        shard_batch(jnp.ones((4,)), mesh, axis_name="model")
