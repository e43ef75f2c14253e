import jax
import jax.numpy as jnp
import pytest


def test_four_virtual_devices():
    assert jax.device_count() == 4


def test_getkey_gives_distinct_keys(getkey):
    a, b = getkey(), getkey()
    assert not jnp.array_equal(jax.random.key_data(a), jax.random.key_data(b))


def test_x64_fixture(x64):
    assert jnp.ones(1).dtype == jnp.float64


def test_default_is_float32():
    assert jnp.ones(1).dtype == jnp.float32


def test_jaxsci_warnings_are_errors():
    import warnings

    with pytest.raises(UserWarning):
        warnings.warn_explicit("from jaxsci", UserWarning, "jaxsci/x.py", 1, module="jaxsci.x")
