"""The fast Rademacher sampler (32 signs per random word): values, moments, independence."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxsci.linalg._probes import probes, rademacher, tree_rademacher


def test_fast_rademacher_is_isotropic_with_independent_bits(getkey):
    # reference: E z = 0 and E z z^T = I for independent signs; size 40 straddles a 32-bit
    # word, so a bit-unpacking bug (repeated words, a stuck bit) shows as a moment error.
    num, size = 4000, 40
    z = np.asarray(rademacher(getkey(), num, size, jnp.float32))
    assert z.shape == (num, size) and z.dtype == np.float32
    assert set(np.unique(z)) == {-1.0, 1.0}
    sigma = 1 / np.sqrt(num)
    assert np.max(np.abs(z.mean(axis=0))) < 5 * sigma
    cov = z.T @ z / num
    np.testing.assert_allclose(np.diag(cov), 1.0)
    assert np.max(np.abs(cov - np.eye(size))) < 5.5 * sigma  # 780 pairs, each N(0, 1/num)
    # consecutive probes (rows) are independent too
    assert abs(np.mean(z[1:] * z[:-1])) < 5 * sigma / np.sqrt(size)
    # the public entry point uses it, and different keys give different signs
    k = getkey()
    np.testing.assert_array_equal(probes(k, 3, 70, jnp.float32), rademacher(k, 3, 70, jnp.float32))
    assert not np.array_equal(rademacher(getkey(), 2, 70, jnp.float32), rademacher(getkey(), 2, 70, jnp.float32))


def test_tree_rademacher_shapes_dtypes_and_leaf_independence(x64, getkey):
    like = {"a": jnp.zeros((3, 33)), "b": jnp.zeros(5, jnp.float32), "c": jax.ShapeDtypeStruct((3, 33), jnp.float64)}
    z = tree_rademacher(getkey(), 500, like)
    assert z["a"].shape == (500, 3, 33) and z["a"].dtype == jnp.float64
    assert z["b"].shape == (500, 5) and z["b"].dtype == jnp.float32
    assert jnp.all(jnp.abs(z["a"]) == 1) and jnp.all(jnp.abs(z["c"]) == 1)
    # leaves of the same shape get different signs (the key is folded with the leaf index)
    corr = float(jnp.mean(z["a"] * z["c"]))
    assert abs(corr) < 5 / np.sqrt(500 * 99)
