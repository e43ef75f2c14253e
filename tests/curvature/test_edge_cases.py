"""Bad input to the curvature pillar: a `ValueError` naming the argument, never a silent wrong answer."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from jaxsci.curvature import (
    MFAC,
    Categorical,
    EmpiricalFisher,
    Fisher,
    Gaussian,
    Hessian,
    damped_solve,
    spectral_density,
    stability,
)
from jaxsci.curvature.optim import adahessian, sophia_h

_linear = lambda p, x: x @ p["w"]  # one output per example: outputs (N, 1)


def _regression(key, n=6, d=3):
    kx, kw = jax.random.split(key)
    x, w = jax.random.normal(kx, (n, d)), jax.random.normal(kw, (d, 1))
    return x, jnp.arange(float(n)), {"w": w}


def test_empirical_fisher_gaussian_equals_explicit_sum_of_outer_products(x64, getkey):
    x, y, params = _regression(getkey())
    sigma = 0.7
    E = jax.jit(lambda o: o.as_matrix())(EmpiricalFisher(_linear, Gaussian(sigma), params, (x, y[:, None])))
    # reference by hand: per-example nll (y_n - x_n w)^2 / (2 sigma^2) has gradient -(y_n - x_n w) x_n / sigma^2
    residual = y - x @ params["w"][:, 0]
    g = -(residual[:, None] * x) / sigma**2
    reference = sum(jnp.outer(gn, gn) for gn in g) / x.shape[0]
    assert jnp.max(jnp.abs(E - reference)) < 1e-10 * jnp.max(jnp.abs(reference))


def test_likelihood_targets_must_have_the_contracted_shape(getkey):
    x, y, params = _regression(getkey())
    # targets (N,) against outputs (N, 1) used to broadcast to (N, N) and give a wrong EF
    with pytest.raises(ValueError, match="`targets` must have shape \\(6, 1\\)"):
        EmpiricalFisher(_linear, Gaussian(), params, (x, y)).as_matrix()
    with pytest.raises(ValueError, match="targets"):
        Gaussian().nll(jnp.zeros((6, 1)), y)
    with pytest.raises(ValueError, match="targets"):
        Gaussian().nll(jnp.zeros((6, 2)), jnp.zeros((1, 2)))
    # Categorical: integer labels shaped like the logits without their class axis
    with pytest.raises(ValueError, match="`targets` must have shape \\(6,\\)"):
        Categorical().nll(jnp.zeros((6, 3)), jnp.zeros((6, 1), int))
    with pytest.raises(ValueError, match="targets"):
        Categorical().nll(jnp.zeros((6, 3)), jnp.zeros((1,), int))
    assert jnp.allclose(Categorical().nll(jnp.zeros((6, 3)), jnp.zeros(6, int)), jnp.log(3.0))


@pytest.mark.parametrize("sigma", [0.0, -1.0, np.float32(0.0), jnp.array(-0.5), float("nan")])
def test_gaussian_sigma_must_be_positive(sigma):
    with pytest.raises(ValueError, match="sigma"):
        Gaussian(sigma)


def test_gaussian_traced_sigma_is_checked_at_runtime():
    fisher_diag = jax.jit(lambda s: Gaussian(s).output_fisher_mv(None, jnp.ones(2)))
    assert jnp.allclose(fisher_diag(0.5), 4.0)
    with pytest.raises(Exception, match="sigma"):  # equinox.error_if: a runtime error under jit
        jax.block_until_ready(fisher_diag(0.0))


@pytest.mark.parametrize("make", [adahessian, sophia_h], ids=["adahessian", "sophia_h"])
@pytest.mark.parametrize("num_probes", [0, -1, 2.5, True, "2"])
def test_optimisers_reject_bad_num_probes(make, num_probes, getkey):
    with pytest.raises(ValueError, match="num_probes"):
        make(num_probes=num_probes, key=getkey())


@pytest.mark.parametrize("make", [adahessian, sophia_h], ids=["adahessian", "sophia_h"])
def test_optimisers_accept_numpy_integer_num_probes(make, getkey):
    loss = lambda p, b: 0.5 * jnp.sum(b * p**2)  # diagonal Hessian: every probe is exact
    p, b = jnp.ones(3), jnp.array([1.0, 10.0, 100.0])
    opt = make(0.1, num_probes=np.int64(2), key=getkey())
    u, _ = opt.update(jax.grad(loss)(p, b), opt.init(p), p, hvp_fn=Hessian(loss, p, b).mv)
    assert jnp.all(jnp.isfinite(u)) and jnp.all(u < 0)  # a descent step on every coordinate
    assert jnp.allclose(optax.apply_updates(p, u), p + u)


@pytest.mark.parametrize("damping", [jnp.array(-1.0), jnp.array(0.0), np.float64(-2.0), jnp.array(jnp.nan)])
def test_mfac_rejects_non_positive_array_damping(damping):
    with pytest.raises(ValueError, match="damping"):
        MFAC({"w": jnp.zeros(3)}, window=2, damping=damping)


def test_mfac_damping_must_be_a_scalar():
    with pytest.raises(ValueError, match="`damping` must be a scalar"):
        MFAC({"w": jnp.zeros(3)}, window=2, damping=jnp.ones(2))


def test_mfac_traced_damping_is_checked_at_runtime():
    g = {"w": jnp.array([1.0, 0.0, 0.0])}
    solve = jax.jit(lambda d: MFAC({"w": jnp.zeros(3)}, window=2, damping=d).update(g).solve({"w": jnp.ones(3)}))
    assert jnp.allclose(solve(1.0)["w"], jnp.array([0.5, 1.0, 1.0]))  # M = I + e1 e1^T
    with pytest.raises(Exception, match="damping"):  # equinox.error_if: a runtime error under jit
        jax.block_until_ready(solve(-1.0))


def _diagonal_hessian():
    loss = lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2)  # eigenvalues 1, 2, 3, 4
    return Hessian(loss, {"w": jnp.ones(4)}, jnp.arange(1.0, 5.0))


@pytest.mark.parametrize("learning_rate", [0.0, -0.1, jnp.array(-1.0), float("inf")])
def test_stability_rejects_non_positive_learning_rate(learning_rate, getkey):
    with pytest.raises(ValueError, match="learning_rate"):
        stability(_diagonal_hessian(), learning_rate=learning_rate, key=getkey(), num_matvecs=4)


def test_stability_traced_learning_rate_is_checked_at_runtime(getkey):
    H, key = _diagonal_hessian(), getkey()
    threshold = jax.jit(lambda lr: stability(H, learning_rate=lr, key=key, num_matvecs=4).threshold)
    assert jnp.allclose(threshold(0.5), 4.0)
    with pytest.raises(Exception, match="learning_rate"):  # equinox.error_if: a runtime error under jit
        jax.block_until_ready(threshold(-0.5))


@pytest.mark.parametrize(
    "grad",
    [{"w": jnp.ones(3)}, {"v": jnp.ones(4)}, jnp.ones(4), {"w": jnp.ones(4), "b": jnp.ones(1)}],
    ids=["leaf-shape", "key", "bare-array", "extra-leaf"],
)
def test_stability_rejects_grad_not_shaped_like_params(grad, getkey):
    with pytest.raises(ValueError, match="`grad`"):
        stability(_diagonal_hessian(), learning_rate=0.1, key=getkey(), grad=grad, num_matvecs=4)


def test_stability_checks_pass_good_input(getkey):
    H = _diagonal_hessian()
    top = {"w": jnp.array([0.0, 0.0, 0.0, 1.0])}  # the top eigenvector of diag(1, 2, 3, 4)
    r = stability(H, learning_rate=jnp.asarray(0.4), key=getkey(), grad=top, num_matvecs=4)
    assert bool(r.stable) and jnp.allclose(r.threshold, 5.0) and jnp.allclose(r.alignment, 1.0, atol=1e-5)


@pytest.mark.parametrize("num_samples", [2.5, 0, -3, True, "4"])
def test_fisher_num_samples_must_be_a_positive_int(num_samples, getkey):
    x, y, params = _regression(getkey())
    with pytest.raises(ValueError, match="num_samples"):
        Fisher(_linear, Gaussian(), params, (x, y[:, None]), key=getkey(), num_samples=num_samples)


def test_fisher_accepts_numpy_integer_num_samples(getkey):
    x, y, params = _regression(getkey())
    F = Fisher(_linear, Gaussian(), params, (x, y[:, None]), key=getkey(), num_samples=np.int64(3))
    assert F.num_samples == 3 and type(F.num_samples) is int
    v = {"w": jnp.ones((3, 1))}
    assert jnp.isfinite(F.quadratic_form(v)) and F.quadratic_form(v) >= 0
    assert ravel_pytree(F.mv(v))[0].shape == (3,)


def _two_level_hessian():
    # Hessian diag(1 x 25, 2 x 25): two distinct eigenvalues, so 20 Lanczos steps break down after 2
    loss = lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2)
    return Hessian(loss, {"w": jnp.ones(50)}, jnp.where(jnp.arange(50) < 25, 1.0, 2.0))


def test_spectral_density_after_lanczos_breakdown(getkey):
    # reference: the exact spectrum {1, 2}. The spare Ritz values of a broken-down run used to be
    # 0, which stretched the grid to [-0.12, 2.12] and the default width to 0.02.
    sd = spectral_density(_two_level_hessian(), key=getkey(), num_probes=3, num_steps=20)
    live = sd.weights > 0
    assert jnp.all(jnp.sum(live, axis=1) == 2)
    np.testing.assert_allclose(jnp.sort(jnp.where(live, sd.nodes, 0.0))[:, -2:], jnp.tile(jnp.array([1.0, 2.0]), (3, 1)),
                               rtol=1e-5)
    np.testing.assert_allclose(sd.sigma, 0.01, rtol=1e-5)  # 1% of the range [1, 2]
    np.testing.assert_allclose([sd.grid[0], sd.grid[-1]], [1.0 - 6 * 0.01, 2.0 + 6 * 0.01], rtol=1e-5)
    area = jnp.sum(sd.density) * (sd.grid[1] - sd.grid[0])
    np.testing.assert_allclose(area, 1.0, atol=1e-2)
    assert jnp.all(jnp.isfinite(sd.density))


@pytest.mark.parametrize(
    "bad", [{"sigma": 0.0}, {"sigma": -1.0}, {"sigma": float("nan")}, {"sigma": jnp.ones(2)}, {"num_points": 1},
            {"num_points": 2.5}, {"num_points": True}]
)
def test_spectral_density_rejects_bad_sigma_and_num_points(bad, getkey):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f"`{name}` must be"):
        spectral_density(_two_level_hessian(), key=getkey(), num_probes=2, num_steps=4, **bad)


def test_spectral_density_traced_sigma(getkey):
    run = jax.jit(lambda s: spectral_density(_two_level_hessian(), key=jax.random.key(0), num_probes=2, num_steps=4,
                                             sigma=s).sigma)
    np.testing.assert_allclose(run(0.1), 0.1)
    with pytest.raises(Exception, match="`sigma` must be positive and finite"):
        run(-0.1).block_until_ready()


@pytest.mark.parametrize("labels", [[0, 3], [-1, 0], [0.5, 1.0]])
def test_categorical_labels_must_be_classes(labels):
    # out-of-range labels used to pick no logit and give a NaN loss
    with pytest.raises(ValueError, match="`targets` must be class labels"):
        Categorical().nll(jnp.zeros((2, 3)), jnp.asarray(labels))
    with pytest.raises(Exception, match="`targets` must be class labels"):
        jax.jit(Categorical().nll)(jnp.zeros((2, 3)), jnp.asarray(labels)).block_until_ready()


def test_categorical_float_labels_that_are_whole_numbers(getkey):
    logits = jax.random.normal(getkey(), (4, 3))
    reference = -jax.nn.log_softmax(logits)[jnp.arange(4), jnp.array([0, 2, 1, 2])]
    np.testing.assert_allclose(Categorical().nll(logits, jnp.array([0.0, 2.0, 1.0, 2.0])), reference, rtol=1e-6)


def test_damped_solve_mixed_dtype_params(getkey):
    # reference: the exact inverse of the diagonal H + damping I. float32 + bfloat16 parameters used to
    # fail inside lineax's CG.
    d = {"a": jnp.array([1.0, 2.0, 3.0]), "b": jnp.array([4.0, 5.0], jnp.bfloat16)}
    loss = lambda p, _: 0.5 * (jnp.sum(d["a"] * p["a"] ** 2) + jnp.sum((d["b"] * p["b"] ** 2).astype(jnp.float32)))
    params = {"a": jnp.ones(3), "b": jnp.ones(2, jnp.bfloat16)}
    x = damped_solve(Hessian(loss, params, None), params, damping=1.0)
    assert x["a"].dtype == jnp.float32 and x["b"].dtype == jnp.bfloat16
    np.testing.assert_allclose(x["a"], 1.0 / (d["a"] + 1.0), rtol=1e-5)
    np.testing.assert_allclose(x["b"].astype(jnp.float32), 1.0 / (jnp.array([4.0, 5.0]) + 1.0), rtol=1e-2)


def test_counts_accept_numpy_integers_and_refuse_bools(getkey):
    # NumPy integers used to reach the jitted estimators as tracers ("got JitTracer(int32[])"),
    # and `True` passed as a count of 1
    from jaxsci.curvature import eigenvalues, trace

    H = _two_level_hessian()
    vals, _ = eigenvalues(H, np.int64(2), num_matvecs=np.int32(10))
    np.testing.assert_allclose(vals, [2.0, 2.0], rtol=1e-5)
    est, _ = trace(H, key=getkey(), num_matvecs=np.int64(4))
    np.testing.assert_allclose(est, 75.0, rtol=1e-5)  # Rademacher probes are exact on a diagonal
    assert spectral_density(H, key=getkey(), num_probes=np.int64(2), num_steps=np.int64(4)).nodes.shape == (2, 4)
    for call in (lambda: eigenvalues(H, True), lambda: trace(H, key=getkey(), num_matvecs=True),
                 lambda: spectral_density(H, key=getkey(), num_steps=True)):
        with pytest.raises(ValueError, match="must be"):
            call()


# --- review of curvature + linalg (second pass): regression tests, one per finding ---


def test_damped_solve_nan_damping_or_curvature_raises_not_zero():
    # lineax's CG used to stop after zero steps on a NaN and return x = 0 as "successful"
    loss = lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2)
    b, curvature = {"w": jnp.ones(3)}, jnp.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="`damping` must be finite"):
        damped_solve(Hessian(loss, b, curvature), b, damping=float("nan"))
    solve = eqx.filter_jit(lambda d, c: damped_solve(Hessian(loss, b, c), b, damping=d)["w"])
    np.testing.assert_allclose(solve(1.0, curvature), 1.0 / (curvature + 1.0), rtol=1e-5)  # exact inverse of H + I
    with pytest.raises(eqx.EquinoxRuntimeError, match="`damping` must be finite"):  # traced: equinox.error_if
        solve(jnp.nan, curvature)
    with pytest.raises(eqx.EquinoxRuntimeError, match="cg: no solution"):  # a diverged model's curvature
        solve(1.0, curvature.at[1].set(jnp.nan))


def test_gaussian_sigma_must_be_a_scalar():
    # a vector sigma was read along the batch axis in `nll` and the output axis in the Fisher
    with pytest.raises(ValueError, match="`sigma` must be a scalar"):
        Gaussian(jnp.array([1.0, 2.0]))


@pytest.mark.parametrize("batch_size", [0, -5, 2.5, True, "8"])
def test_stability_rejects_bad_batch_size(batch_size, getkey):
    with pytest.raises(ValueError, match="`batch_size` must be a positive int"):
        stability(_diagonal_hessian(), learning_rate=0.1, key=getkey(), batch_size=batch_size, num_matvecs=4)


def test_stability_batch_size_bound_and_no_recompile_for_a_new_learning_rate(getkey):
    H, key = _diagonal_hessian(), getkey()
    r = stability(H, learning_rate=0.1, key=key, batch_size=np.int64(8), num_matvecs=4, trace_matvecs=2)
    np.testing.assert_allclose(r.trace_bound, 2 * 8 / 0.1, rtol=1e-6)  # 2B / lr
    compiles = []
    listener = lambda event, duration, **kwargs: compiles.append(event) if "backend_compile" in event else None
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:  # a new Python-float learning rate used to be a new static argument: one compilation per value
        r = stability(H, learning_rate=0.25, key=key, batch_size=8, num_matvecs=4, trace_matvecs=2)
        jax.block_until_ready(r)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiles == []
    np.testing.assert_allclose([r.threshold, r.trace_bound], [8.0, 64.0], rtol=1e-6)


def _exact_quadratic():
    # L = 1/2 sum b w^2: H = diag(b), so every Rademacher probe gives the exact diagonal
    b = jnp.array([1.0, 10.0, 100.0])
    return (lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2)), b


def _first_adahessian_step(lr, g, d, eps=1e-4):
    # step 1 with hessian_power 1: the bias corrections give m_hat = g, v_hat = d^2
    return -lr * g / (np.abs(d) + eps)


def test_adahessian_x64_jit_keeps_float32_updates(x64, getkey):
    # with x64 the bias corrections 1 - b^t were float64 under jit: float64 updates, and
    # apply_if_finite failed (its two branches had different dtypes)
    loss, b = _exact_quadratic()
    p, b = {"w": jnp.ones(3, jnp.float32)}, b.astype(jnp.float32)
    opt = optax.apply_if_finite(adahessian(0.1, key=getkey()), 3)
    step = jax.jit(lambda g, s, p: opt.update(g, s, p, hvp_fn=Hessian(loss, p, b).mv))
    u, _ = step(jax.grad(loss)(p, b), opt.init(p), p)
    assert u["w"].dtype == jnp.float32
    np.testing.assert_allclose(u["w"], _first_adahessian_step(0.1, np.asarray(b), np.asarray(b)), rtol=1e-5)


# float32 array sigma / damping (strongly typed, e.g. from jnp.linspace) with bfloat16 parameters used to
# crash Fisher.mv (vjp cotangent dtype) and damped_solve (lineax structure check); MFAC returned float32


def test_array_sigma_keeps_the_parameter_dtype():
    x = jnp.array([[1.0, 0.0], [0.0, 2.0]], jnp.bfloat16)
    p = {"w": jnp.ones(2, jnp.bfloat16)}
    F = Fisher(lambda p, x: x @ p["w"][:, None], Gaussian(jnp.float32(0.5)), p, (x, jnp.zeros((2, 1), jnp.bfloat16)))
    fv = F.mv(p)["w"]
    assert fv.dtype == jnp.bfloat16  # reference: J^T J v / (N sigma^2) = diag(1, 4) 1 / (2 * 0.25)
    np.testing.assert_allclose(fv.astype(jnp.float32), [2.0, 8.0], rtol=1e-2)


def test_array_damping_keeps_the_parameter_dtype():
    p = {"w": jnp.ones(2, jnp.bfloat16)}
    H = Hessian(lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2), p, jnp.array([1.0, 3.0], jnp.bfloat16))
    sol = jax.jit(lambda d: damped_solve(H, p, damping=d)["w"])(jnp.float32(1.0))
    assert sol.dtype == jnp.bfloat16  # reference: 1 / (diag(H) + damping)
    np.testing.assert_allclose(sol.astype(jnp.float32), [0.5, 0.25], rtol=1e-2)

    @jax.jit
    def mfac(damping, g, v):
        m = MFAC({"w": jnp.zeros(3, jnp.bfloat16)}, window=2, damping=damping).update(g)
        return m.solve(v), m.mv(v)

    v = {"w": jnp.ones(3, jnp.bfloat16)}
    outs = mfac(jnp.float32(1.0), {"w": jnp.array([1.0, 0.0, 0.0], jnp.bfloat16)}, v)
    for out, ref in zip(outs, ([0.5, 1, 1], [2, 1, 1])):
        assert out["w"].dtype == jnp.bfloat16  # reference: M = I + e1 e1^T
        np.testing.assert_allclose(out["w"].astype(jnp.float32), ref, rtol=1e-2)


@pytest.mark.parametrize("make", [adahessian, sophia_h], ids=["adahessian", "sophia_h"])
def test_optimisers_under_inject_hyperparams_with_defaults(make, getkey):
    # the int defaults (num_probes, update_every) became traced hyperparameters and failed in jit
    loss, b = _exact_quadratic()
    p = {"w": jnp.ones(3)}
    opt = optax.inject_hyperparams(make)(learning_rate=0.1, key=getkey())
    u, _ = jax.jit(lambda p, s: opt.update(jax.grad(loss)(p, b), s, p, hvp_fn=Hessian(loss, p, b).mv))(p, opt.init(p))
    g, d = np.asarray(b), np.asarray(b)
    if make is adahessian:
        ref = _first_adahessian_step(0.1, g, d)
    else:  # step 1 refreshes h = (1 - b2) d; m = (1 - b1) g; the ratio clipped to [-1, 1]
        ref = -0.1 * np.clip((1 - 0.965) * g / np.maximum(0.01 * (1 - 0.99) * d, 1e-12), -1, 1)
    np.testing.assert_allclose(u["w"], ref, rtol=1e-5)
    with pytest.raises(ValueError, match="static_args=\\('num_probes',\\)"):
        opt = optax.inject_hyperparams(make)(learning_rate=0.1, num_probes=2, key=getkey())
        jax.jit(lambda p, s: opt.update(p, s, p, hvp_fn=Hessian(loss, p, b).mv))(p, opt.init(p))


@pytest.mark.parametrize("make", [adahessian, sophia_h], ids=["adahessian", "sophia_h"])
def test_optimisers_hold_integer_leaves_fixed_like_hessian(make, getkey):
    # an integer leaf (a step counter) used to get probes and moments, and Hessian.mv refused them
    loss, b = _exact_quadratic()
    params = {"w": jnp.ones(3), "step": jnp.asarray(5, jnp.int32)}
    grads = {"w": b * params["w"], "step": jnp.zeros(())}
    opt = make(0.1, key=getkey(), **({"gamma": 1.0} if make is sophia_h else {}))
    u, _ = jax.jit(lambda g, s, p: opt.update(g, s, p, hvp_fn=Hessian(loss, p, b).mv))(grads, opt.init(params), params)
    assert u["step"].dtype == jnp.int32 and int(u["step"]) == 0
    g = np.asarray(b)
    if make is adahessian:
        ref = _first_adahessian_step(0.1, g, g)
    else:  # gamma = 1: ratio (1 - b1) g / ((1 - b2) d), clipped
        ref = -0.1 * np.clip((1 - 0.965) * g / ((1 - 0.99) * g), -1, 1)
    np.testing.assert_allclose(u["w"], ref, rtol=1e-5)
    new = optax.apply_updates(params, u)
    assert int(new["step"]) == 5 and new["step"].dtype == jnp.int32


@pytest.mark.parametrize("bad", [{"b1": 1.0}, {"b2": 1.0}, {"b1": -0.1}, {"b2": float("nan")}, {"hessian_power": 0.0},
                                 {"hessian_power": -1.0}, {"hessian_power": 3.0}])
def test_adahessian_rejects_out_of_range_hyperparameters(bad, getkey):
    # b1 = 1 or b2 = 1 gave 0/0 bias corrections (NaN updates); k outside (0, 1] is not the method
    with pytest.raises(ValueError, match=f"`{next(iter(bad))}` must be in"):
        adahessian(key=getkey(), **bad)


@pytest.mark.parametrize("make", [adahessian, sophia_h], ids=["adahessian", "sophia_h"])
@pytest.mark.parametrize("key", [None, 0, jnp.ones(2)])
def test_optimisers_require_a_random_key(make, key):
    with pytest.raises(ValueError, match="`key` must be a JAX random key"):
        make(key=key)


def test_empty_parameters_give_a_clear_error(getkey):
    from jaxsci.curvature import diagonal, eigenvalues, trace

    E = Hessian(lambda p, b: 0.0, {}, None)
    for call in (lambda: trace(E, key=getkey(), num_matvecs=4), lambda: diagonal(E, key=getkey(), num_matvecs=4),
                 lambda: eigenvalues(E, 1, num_matvecs=4), lambda: spectral_density(E, key=getkey())):
        with pytest.raises(ValueError, match="no floating-point array leaves"):
            call()
    with pytest.raises(ValueError, match="`like` has no array leaves"):
        MFAC({}, 2, 1.0)


def test_mfac_checks_the_shape_of_its_arguments():
    m = MFAC({"w": jnp.zeros(4)}, 2, 1.0)
    with pytest.raises(ValueError, match="`g` must be shaped like"):
        m.update({"w": jnp.ones(3)})
    m = m.update({"w": jnp.ones(4)})
    for method in (m.solve, m.mv):
        with pytest.raises(ValueError, match="`v` must be shaped like"):
            method({"w": jnp.ones(3)})
        with pytest.raises(ValueError, match="`v` must be a pytree"):
            method({"u": jnp.ones(4)})


def test_counts_accept_concrete_jax_integers(getkey):
    from jaxsci.curvature import eigenvalues, trace

    H = _diagonal_hessian()  # eigenvalues 1, 2, 3, 4
    est, _ = trace(H, key=getkey(), num_matvecs=jnp.array(4))
    np.testing.assert_allclose(est, 10.0, rtol=1e-6)  # Rademacher probes are exact on a diagonal
    vals, _ = eigenvalues(H, jnp.array(1), num_matvecs=jnp.array(4))
    np.testing.assert_allclose(vals, [4.0], rtol=1e-5)
    with pytest.raises(ValueError, match="must be"):
        trace(H, key=getkey(), num_matvecs=jnp.array(True))
