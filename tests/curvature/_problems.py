"""Small shared test problems for the curvature tests (a tanh MLP with ~1.3k parameters)."""

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

SIZES = (10, 28, 24, 5)


def mlp_params(key, sizes=SIZES):
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        key, k1, k2 = jax.random.split(key, 3)
        params[f"w{i}"] = jax.random.normal(k1, (a, b)) / jnp.sqrt(a)
        params[f"b{i}"] = 0.1 * jax.random.normal(k2, (b,))
    return params


def mlp(params, x):
    n = len(params) // 2
    for i in range(n):
        x = x @ params[f"w{i}"] + params[f"b{i}"]
        if i < n - 1:
            x = jnp.tanh(x)
    return x


def cross_entropy(logits, labels):
    logz = jax.nn.logsumexp(logits, axis=-1)
    return jnp.mean(logz - jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0])


def classification_batch(key, n=16, sizes=SIZES):
    k1, k2 = jax.random.split(key)
    x = jax.random.normal(k1, (n, sizes[0]))
    y = jax.random.randint(k2, (n,), 0, sizes[-1])
    return x, y


def ce_loss(params, batch):
    x, y = batch
    return cross_entropy(mlp(params, x), y)


def dense_hessian(loss_fn, params, batch):
    """Reference: `jax.hessian` of the loss on the flattened parameters."""
    flat, unravel = ravel_pytree(params)
    return jax.jit(jax.hessian(lambda f, b: loss_fn(unravel(f), b)))(flat, batch)


def random_like(key, params):
    flat, unravel = ravel_pytree(params)
    return unravel(jax.random.normal(key, flat.shape, flat.dtype))


def dense(op):
    """The dense matrix of a curvature operator, built under `jax.jit`."""
    return jax.jit(lambda o: o.as_matrix())(op)
