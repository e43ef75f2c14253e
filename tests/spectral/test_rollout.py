"""rollout: saving, checkpointing, gradients, vmap and sharding."""

import functools
import logging
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsci.spectral as sp
from jaxsci.parallel import ensemble_map, make_mesh, shard_batch

D = sp.PeriodicDomain(32)


def _u0():
    (x,) = D.grid()
    return (jnp.sin(x) + 0.3 * jnp.cos(3 * x))[None]


@functools.partial(jax.jit, static_argnums=2)
def _loss(nu, u0, checkpoint=None):
    st = sp.ETDRK(sp.Burgers(D, nu), 0.05, 2)
    traj = sp.rollout(st, u0, 24, save_every=2, checkpoint=checkpoint)
    return jnp.mean(traj**2)


_grad = jax.jit(jax.grad(_loss, argnums=(0, 1)), static_argnums=2)


def test_rollout_matches_python_loop_and_saving(x64):
    # Reference: the stepper applied in a Python loop (physical-space round trips).
    st = sp.ETDRK(sp.KuramotoSivashinskyConservative(sp.PeriodicDomain(32, 20.0)), 0.1, 1)
    (x,) = st.pde.domain.grid()
    u = u0 = jnp.cos(2 * np.pi * x / 20)[None]
    loop, step = [], jax.jit(lambda v: st(v))
    for _ in range(12):
        u = step(u)
        loop.append(u)
    loop = jnp.stack(loop)
    np.testing.assert_allclose(sp.rollout(st, u0, 12), loop, atol=1e-12)
    traj = sp.rollout(st, u0, 12, save_every=4, include_init=True, checkpoint=8)
    np.testing.assert_allclose(traj, jnp.concatenate([u0[None], loop[3::4]]), atol=1e-12)
    # A plain callable is scanned as is.
    np.testing.assert_allclose(sp.rollout(lambda v: st(v), u0, 12, save_every=3), loop[2::3], atol=1e-12)
    with pytest.raises(ValueError, match="save_every"):
        sp.rollout(st, u0, 10, save_every=3)
    with pytest.raises(ValueError, match="checkpoint"):
        sp.rollout(st, u0, 12, save_every=4, checkpoint=6)
    with pytest.raises(ValueError, match="num_steps"):
        sp.rollout(st, u0, 0)


def test_grad_matches_finite_differences_and_checkpointing(x64):
    # Reference: central finite differences of the same loss (in nu and along an IC
    # direction); checkpointed (segments inside and across saved blocks, 'sqrt') and
    # plain gradients must agree to round-off.
    u0, nu = _u0(), 0.08
    g_nu, g_u0 = _grad(nu, u0, None)
    h = 1e-6
    fd = (_loss(nu + h, u0) - _loss(nu - h, u0)) / (2 * h)
    np.testing.assert_allclose(g_nu, fd, rtol=1e-6)
    v = jnp.cos(2 * D.grid())
    fd_dir = (_loss(nu, u0 + h * v) - _loss(nu, u0 - h * v)) / (2 * h)
    np.testing.assert_allclose(jnp.sum(g_u0 * v), fd_dir, rtol=1e-6)
    for ck in (1, "sqrt"):  # segments inside, resp. across, saved blocks
        g_ck = _grad(nu, u0, ck)
        np.testing.assert_allclose(g_ck[0], g_nu, rtol=1e-12)
        np.testing.assert_allclose(g_ck[1], g_u0, rtol=1e-11, atol=1e-14)


def test_checkpoint_reduces_gradient_memory():
    # Reference: XLA's compiled memory analysis of the gradient; segment checkpointing
    # with ~sqrt(n) segments must need much less temporary memory than the plain scan.
    d = sp.PeriodicDomain(256, 50.0)
    u0 = jnp.cos(2 * np.pi * d.grid() / 50.0)

    def loss(u0, ck):
        st = sp.ETDRK(sp.KuramotoSivashinskyConservative(d), 0.1, 1)
        return jnp.sum(sp.rollout(st, u0, 400, save_every=400, checkpoint=ck)[-1] ** 2)

    def temp_bytes(ck):
        c = jax.jit(jax.grad(loss), static_argnums=1).lower(u0, ck).compile()
        return c.memory_analysis().temp_size_in_bytes

    plain, ckpt = temp_bytes(None), temp_bytes(20)
    assert ckpt < plain / 5, (plain, ckpt)


def test_vmap_over_initial_conditions_and_coefficients(x64):
    # Reference: a Python loop over the batch.
    nus = jnp.array([0.05, 0.08, 0.12])
    u0s = jnp.stack([_u0(), 2 * _u0(), -_u0()])
    batched = jax.jit(jax.vmap(_loss))(nus, u0s)
    loop = jnp.stack([_loss(n, u) for n, u in zip(nus, u0s)])
    np.testing.assert_allclose(batched, loop, rtol=1e-13)


def test_sharded_ensemble_matches_single_device():
    # Reference: the same jitted vmapped rollout on one device; and the compiled program of
    # `ensemble_map`, which must hold no collective (each device runs its own members).
    mesh = make_mesh(4)
    key = jax.random.key(3)
    u0s = jax.vmap(lambda k: sp.random_fourier_series(k, D, max_wavenumber=4))(jax.random.split(key, 8))
    nus = jnp.linspace(0.03, 0.1, 8)

    def run(nu, u0):
        st = sp.ETDRK(sp.Burgers(D, nu), 0.05, 2)
        return sp.rollout(st, u0, 20, save_every=10)

    ref = jax.jit(jax.vmap(run))(nus, u0s)
    sharded = ensemble_map(run, mesh)
    out = sharded(nus, u0s)
    assert len(out.sharding.device_set) == 4
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-6, atol=1e-6)
    args = shard_batch((nus, u0s), mesh)
    hlo = jax.jit(lambda n, u: sharded(n, u)).lower(*args).compile().as_text()
    assert not re.search(r"all-gather|all-reduce|all-to-all|collective-permute", hlo)


def test_jit_does_not_recompile_for_new_coefficients():
    # Reference: jax's jit cache; dt and coefficients are array leaves, not static.
    @jax.jit
    def run(nu, dt):
        return sp.rollout(sp.ETDRK(sp.Burgers(D, nu), dt, 1), _u0(), 4)[-1]

    a = run(0.1, 0.01)
    b = run(0.2, 0.02)
    assert run._cache_size() == 1
    assert not np.allclose(a, b)


class _CompileLog(logging.Handler):
    """Collects the names of the programs XLA compiles (`jax.log_compiles` messages)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.names = []

    def emit(self, record):
        message = record.getMessage()
        if message.startswith("Compiling "):
            self.names.append(message.split(" ")[1])


def _compiled_by(fn):
    handler, logger = _CompileLog(), logging.getLogger("jax")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles():
            jax.block_until_ready(fn())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return handler.names


def test_eager_rollout_compiles_once():
    # Reference: XLA's compilation log. Eager rollouts with the same stepper structure and
    # shapes but new coefficients, dt and u0 reuse one program (before: the scan compiled on
    # every call, about 0.3 s on a 64-point KS); the results are those of new values.
    d = sp.PeriodicDomain(24)
    (x,) = d.grid()
    a = (sp.ETDRK(sp.Burgers(d, 0.1), 0.05, 2), jnp.sin(x)[None])
    b = (sp.ETDRK(sp.Burgers(d, 0.2), 0.04, 2), jnp.cos(x)[None])
    run = lambda st, u: sp.rollout(st, u, 6, save_every=2, include_init=True)  # noqa: E731
    first = _compiled_by(lambda: run(*a))
    assert first, "the log caught no compilation"  # the check below can fail
    assert _compiled_by(lambda: run(*b)) == []
    want = jax.jit(lambda st, u: run(st, u))(*b)  # compiled anew: the numbers of the new values
    np.testing.assert_allclose(run(*b), want, rtol=1e-6, atol=1e-6)


def test_unstable_step_raises_unless_check_finite_is_off():
    # Reference: Cahn-Hilliard with O(1) data; explicit nonlinear stiffness 3 u^2 k^2 dt ~ 8
    # at dt = 0.01 on 32^2 blows up to inf/NaN, dt = 1e-4 does not.
    d = sp.PeriodicDomain((32, 32))
    pde = sp.CahnHilliard(d, 1e-2)
    u0 = jax.random.normal(jax.random.key(0), (1, 32, 32))
    with pytest.raises(eqx.EquinoxRuntimeError, match="check_finite"):
        sp.rollout(sp.ETDRK(pde, 0.01), u0, 50, save_every=10)
    with pytest.raises(eqx.EquinoxRuntimeError, match="inf/NaN"):
        sp.ensemble_rollout(sp.ETDRK(pde, 0.01), jnp.stack([0 * u0, u0]), 50, save_every=10)
    traj = sp.rollout(sp.ETDRK(pde, 0.01), u0, 50, save_every=10, check_finite=False)
    assert not np.isfinite(traj[-1]).any()
    stable = sp.rollout(sp.ETDRK(pde, 1e-4), u0, 50, save_every=10)
    assert np.isfinite(stable).all()


def test_finiteness_check_on_pytree_states_and_under_jax_jit():
    # Reference: a plain callable on a dict state; every floating leaf's last frame is checked.
    ok = sp.rollout(lambda u: {"a": u["a"] + 1, "n": u["n"] + 1}, {"a": jnp.zeros(3), "n": jnp.zeros(3, int)}, 3)
    np.testing.assert_array_equal(ok["a"][-1], 3.0)
    with pytest.raises(eqx.EquinoxRuntimeError, match="inf/NaN"):
        sp.rollout(lambda u: {"a": u["a"] / 0.0 * 0.0}, {"a": jnp.zeros(3)}, 3)
    # under jax.jit the same message arrives inside a JaxRuntimeError
    with pytest.raises(Exception, match="inf/NaN"):
        jax.jit(lambda u: sp.rollout(lambda v: v / 0.0 * 0.0, u, 3))(jnp.zeros(3)).block_until_ready()
