"""AdaHessian and Sophia-H against hand-computed recursions and on a Rosenbrock valley."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxsci.curvature import Hessian
from jaxsci.curvature.optim import adahessian, sophia_h

pytestmark = pytest.mark.usefixtures("x64")


def _quadratic():
    """L = 1/2 sum a * theta^2: H is diagonal, so every Hutchinson probe is exact."""
    a = {"w": jnp.array([0.5, 2.0, -1.0, 4.0]), "k": jnp.linspace(0.1, 3.6, 36).reshape(3, 3, 2, 2)}
    loss = lambda p, b: 0.5 * sum(jnp.sum(a[n] * p[n] ** 2) for n in p)
    p0 = {"w": jnp.array([1.0, -2.0, 0.5, 1.5]), "k": jnp.ones((3, 3, 2, 2))}
    return a, loss, p0


def _run(opt, loss, p, steps):
    state = opt.init(p)
    trajectory = []
    update = jax.jit(lambda g, s, p: opt.update(g, s, p, hvp_fn=Hessian(loss, p, None).mv))
    for _ in range(steps):
        u, state = update(jax.grad(loss)(p, None), state, p)
        p = optax.apply_updates(p, u)
        trajectory.append(p)
    return trajectory


def test_adahessian_matches_hand_recursion_on_diagonal_quadratic(getkey):
    a, loss, p0 = _quadratic()
    lr, b1, b2, eps, k, wd = 0.1, 0.9, 0.999, 1e-4, 0.8, 0.01
    opt = adahessian(lr, b1, b2, eps, k, wd, key=getkey())
    traj = _run(opt, loss, p0, 3)
    # hand recursion (numpy); conv kernel (HWIO) diagonal averaged over its 3x3 window
    d = {"w": np.abs(np.asarray(a["w"])), "k": np.broadcast_to(np.abs(np.asarray(a["k"])).mean(axis=(0, 1), keepdims=True), (3, 3, 2, 2))}
    p = {n: np.asarray(x) for n, x in p0.items()}
    m = {n: 0 * x for n, x in p.items()}
    v = {n: 0 * x for n, x in p.items()}
    for t in range(1, 4):
        for n in p:
            g = np.asarray(a[n]) * p[n]
            m[n] = b1 * m[n] + (1 - b1) * g
            v[n] = b2 * v[n] + (1 - b2) * d[n] ** 2
            mhat, vhat = m[n] / (1 - b1**t), v[n] / (1 - b2**t)
            p[n] = p[n] - lr * (mhat / (vhat ** (k / 2) + eps) + wd * p[n])
        for n in p:
            np.testing.assert_allclose(traj[t - 1][n], p[n], rtol=1e-12)


def test_sophia_matches_hand_recursion_on_diagonal_quadratic(getkey):
    a, loss, p0 = _quadratic()
    lr, b1, b2, gamma, eps, wd, every = 0.05, 0.9, 0.95, 0.7, 1e-12, 0.02, 2
    opt = sophia_h(lr, b1, b2, gamma, eps, wd, update_every=every, key=getkey())
    traj = _run(opt, loss, p0, 4)
    p = {n: np.asarray(x) for n, x in p0.items()}
    m = {n: 0 * x for n, x in p.items()}
    h = {n: 0 * x for n, x in p.items()}
    for t in range(4):
        for n in p:
            g = np.asarray(a[n]) * p[n]
            if t % every == 0:
                h[n] = b2 * h[n] + (1 - b2) * np.asarray(a[n])  # z * (H z) = diag(H) exactly
            m[n] = b1 * m[n] + (1 - b1) * g
            ratio = np.clip(m[n] / np.maximum(gamma * h[n], eps), -1, 1)
            p[n] = p[n] - lr * (ratio + wd * p[n])
        for n in p:
            np.testing.assert_allclose(traj[t][n], p[n], rtol=1e-12)


def _rosenbrock(p, batch):
    # Rosenbrock valley (1 - x)^2 + 10 (y - x^2)^2, minimum at (1, 1)
    return (1 - p["x"]) ** 2 + 10.0 * (p["y"] - p["x"] ** 2) ** 2


@pytest.mark.parametrize(
    "make",
    [
        lambda k: adahessian(0.3, key=k),
        lambda k: sophia_h(optax.exponential_decay(0.1, 300, 0.5), b1=0.9, gamma=0.5, update_every=5, key=k),
    ],
    ids=["adahessian", "sophia_h"],
)
def test_converges_on_rosenbrock_valley(make, getkey):
    opt = make(getkey())
    p = {"x": jnp.asarray(-1.2), "y": jnp.asarray(1.0)}

    def step(carry, _):
        p, state = carry
        g = jax.grad(_rosenbrock)(p, None)
        u, state = opt.update(g, state, p, hvp_fn=Hessian(_rosenbrock, p, None).mv)
        return (optax.apply_updates(p, u), state), _rosenbrock(p, None)

    (p, _), losses = jax.jit(lambda c: jax.lax.scan(step, c, None, length=2000))((p, opt.init(p)))
    assert losses[0] > 4.0
    assert jnp.hypot(p["x"] - 1, p["y"] - 1) < 0.03, p
    assert losses[-1] < 1e-3


def test_missing_hvp_raises(getkey):
    opt = adahessian(key=getkey())
    p = {"x": jnp.ones(2)}
    with pytest.raises(ValueError, match="hvp_fn"):
        opt.update(p, opt.init(p), p)
    with pytest.raises(ValueError, match="update_every"):
        sophia_h(update_every=0, key=getkey())
    with pytest.raises(ValueError, match="conv_layout"):
        adahessian(conv_layout="nchw", key=getkey())
