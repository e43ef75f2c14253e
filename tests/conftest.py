"""Shared test fixtures.

- 4 virtual CPU devices for sharding tests (set before jax is imported); under `pytest -n N`
  (pytest-xdist) each worker allocates accelerator memory on demand.
- `getkey`: a fresh, deterministic PRNG key on every call.
- `x64`: run a test with float64 enabled (`@pytest.mark.usefixtures("x64")` or as an argument).
- `slow` tests are skipped unless `--runslow` is given.
"""

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `pytest -n N` on an accelerator: the workers share it, so none takes 75% of its memory upfront
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def getkey():
    """Return a callable giving a new key each call, deterministic per test."""
    key = jax.random.key(0)

    def _getkey():
        nonlocal key
        key, sub = jax.random.split(key)
        return sub

    return _getkey


@pytest.fixture
def x64():
    """Enable float64 for the duration of the test."""
    with jax.enable_x64(True):
        yield
