"""Edge cases of the spectral pillar: a forcing above the dealiasing cutoff, pytree states,
zero-safe metrics, coefficient validation, NumPy/JAX scalars as sizes, and the matrix phi
functions of channel-coupling symbols.

References: the analytic transient of laminar Kolmogorov flow; a plain Python loop; central
finite differences; the closed-form decay of a uniform state under nonlinear absorption;
the documented `ValueError` messages; a 30-digit exponential of the augmented matrix; the
scalar phi functions.
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

import jaxsci.spectral as sp
from jaxsci.spectral._phi import phi_functions_matrix

# --- 1. a forcing mode above the 2/3 cutoff survives ----------------------------------------


@pytest.mark.parametrize("mode", [4, 6, 7])
@pytest.mark.parametrize("order", [0, 1, 4])
def test_kolmogorov_forcing_above_dealiasing_cutoff(x64, mode, order):
    # Reference: from rest, single-mode Kolmogorov flow has no nonlinear term, so
    # w(t) = w_lam (1 - exp(-(nu kf^2 + drag) t)) with w_lam = -A kf cos(kf y)/(nu kf^2 + drag),
    # the laminar fixed point. With N_y = 16 the 2/3 rule keeps |m| <= 5: modes 6 and 7 are
    # above the cutoff but resolved (< N/2), and used to be deleted with the nonlinear term.
    d = sp.PeriodicDomain((12, 16), (3.0, 2 * np.pi))
    nu, drag, amp, dt = 0.1, 0.05, 1.3, 0.05
    pde = sp.NavierStokes2D(d, nu, drag=drag, forcing_amplitude=amp, forcing_mode=mode)
    kf, rate = float(mode), nu * mode**2 + drag
    w_lam = -amp * kf * np.cos(kf * np.asarray(d.grid()[1])) / rate
    traj = sp.rollout(sp.ETDRK(pde, dt, order), jnp.zeros((1, *d.shape)), 40, save_every=10)
    t = dt * np.arange(10, 41, 10)
    exact = w_lam[None, None] * (1 - np.exp(-rate * t))[:, None, None, None]
    np.testing.assert_allclose(traj, exact, rtol=0, atol=1e-11 * np.abs(w_lam).max())


def test_kolmogorov_forcing_paired_ensemble_and_range(x64):
    # Reference: the laminar fixed point (analytic) for every member of a paired ensemble,
    # and the documented range of `forcing_mode`.
    d = sp.PeriodicDomain((16, 16))
    pde = sp.NavierStokes2D(d, 0.1, forcing_amplitude=1.0, forcing_mode=6)
    w_lam = -6.0 * np.cos(6.0 * np.asarray(d.grid()[1])) / (0.1 * 36)
    u0 = jnp.stack([jnp.asarray(w_lam)[None]] * 3)
    out = sp.ensemble_rollout(sp.ETDRK(pde, 0.05, 4), u0, 10, save_every=10, pair=True)
    np.testing.assert_allclose(out[:, -1], u0, atol=1e-11 * np.abs(w_lam).max())
    for bad in (8, 9, -1, 2.0, True):
        with pytest.raises(ValueError, match="forcing_mode"):
            sp.NavierStokes2D(d, 0.1, forcing_amplitude=1.0, forcing_mode=bad)
    assert sp.NavierStokes2D(d, forcing_mode=np.int64(7)).forcing_mode == 7


# --- 2. pytree states --------------------------------------------------------------------


def _tree_step(s):
    return {"a": 0.9 * s["a"] + 0.1 * jnp.sin(s["b"][:1]), "b": s["b"] + 1.0}


def _loop(s, n, save_every=1, include_init=False):
    out = [s] if include_init else []
    for i in range(1, n + 1):
        s = _tree_step(s)
        if i % save_every == 0:
            out.append(s)
    return jax.tree.map(lambda *xs: jnp.stack(xs), *out)


@pytest.mark.parametrize(
    "n,save_every,checkpoint,include_init",
    [
        (4, 1, 2, False),
        (4, 1, None, True),
        (16, 1, "sqrt", True),
        (10, 1, 4, False),  # a remainder after the checkpointed segments
        (12, 2, 4, True),
        (12, 4, 2, False),
    ],
)
def test_pytree_rollout_matches_python_loop(x64, n, save_every, checkpoint, include_init):
    # Reference: the stepper applied in a Python loop; the checkpointed segments, their
    # remainder and `include_init` must handle a dict state leaf by leaf.
    s0 = {"a": jnp.linspace(0.5, 1.0, 3), "b": jnp.array([0.2, -0.4])}
    got = sp.rollout(_tree_step, s0, n, save_every=save_every, checkpoint=checkpoint, include_init=include_init)
    want = _loop(s0, n, save_every, include_init)
    assert jax.tree.structure(got) == jax.tree.structure(want)
    jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-14), got, want)


def test_pytree_ensemble_rollout_matches_python_loop(x64):
    # Reference: a Python loop over the members and over the steps.
    s0 = {"a": jnp.arange(6.0).reshape(2, 3), "b": jnp.array([[0.1, 0.2], [0.3, 0.4]])}
    got = sp.ensemble_rollout(_tree_step, s0, 4, checkpoint=2, include_init=True)
    want = [_loop(jax.tree.map(lambda x: x[i], s0), 4, include_init=True) for i in range(2)]
    want = jax.tree.map(lambda *xs: jnp.stack(xs), *want)
    jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-14), got, want)
    with pytest.raises(ValueError, match="members"):
        sp.ensemble_rollout(_tree_step, {"a": jnp.ones((2, 3)), "b": jnp.ones((3, 2))}, 4)


# --- 3. relative_l2 at zero error ------------------------------------------------------------


def test_relative_l2_gradient_at_zero_error(x64):
    # Reference: central finite differences of a Burgers inverse problem (recover nu from
    # a rollout); at the true nu the error is 0 and the gradient must be finite (0), where
    # jnp.linalg.norm gave NaN.
    d = sp.PeriodicDomain(32)
    u0 = jnp.sin(d.grid()[0])[None]

    def loss(nu):
        return sp.relative_l2(sp.rollout(sp.ETDRK(sp.Burgers(d, nu), 0.05, 2), u0, 10)[-1], target)

    target = sp.rollout(sp.ETDRK(sp.Burgers(d, 0.1), 0.05, 2), u0, 10)[-1]
    grad, loss = jax.jit(jax.grad(loss)), jax.jit(loss)
    assert float(loss(0.1)) == 0.0 and float(grad(0.1)) == 0.0
    for nu, h in ((0.13, 1e-6), (0.07, 1e-6)):
        fd = (loss(nu + h) - loss(nu - h)) / (2 * h)
        np.testing.assert_allclose(grad(nu), fd, rtol=1e-6)
    zero = jnp.zeros((2, 3))
    assert float(sp.relative_l2(zero, zero)) == 0.0  # no error
    assert float(sp.relative_l2(zero + 1.0, zero)) == np.inf  # any error relative to nothing
    g = jax.grad(sp.relative_l2, argnums=(0, 1))(zero, zero)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in g)
    z = jnp.array([1.0 + 2.0j, -0.5j])  # complex fields, e.g. NLS states
    np.testing.assert_allclose(sp.relative_l2(z, 2 * z), 0.5, rtol=1e-14)


# --- 4. ill-posed and complex coefficients, negative or complex dt ---------------------------

_D1, _D2, _D3 = sp.PeriodicDomain(16), sp.PeriodicDomain((8, 8)), sp.PeriodicDomain((4, 4, 4))

_BAD = [
    (lambda: sp.Diffusion(_D1, -1.0), "nu"),
    (lambda: sp.AdvectionDiffusion(_D1, 1.0, -0.1), "nu"),
    (lambda: sp.HyperDiffusion(_D1, -1.0), "mu"),
    (lambda: sp.Burgers(_D1, -1.0), "nu"),
    (lambda: sp.KortewegDeVries(_D1, nu=-0.1), "nu"),
    (lambda: sp.KortewegDeVries(_D1, mu=-0.1), "mu"),
    (lambda: sp.KuramotoSivashinsky(_D1, fourth_order=-1.0), "fourth_order"),
    (lambda: sp.KuramotoSivashinskyConservative(_D1, fourth_order=-1.0), "fourth_order"),
    (lambda: sp.CahnHilliard(_D1, 0.0), "gamma"),
    (lambda: sp.FisherKPP(_D1, -0.1), "nu"),
    (lambda: sp.GrayScott(_D2, diffusivity_u=-1e-5), "diffusivity_u"),
    (lambda: sp.GrayScott(_D2, diffusivity_v=-1e-5), "diffusivity_v"),
    (lambda: sp.NavierStokes2D(_D2, -0.1), "nu"),
    (lambda: sp.NavierStokes2D(_D2, 0.1, drag=-0.1), "drag"),
    (lambda: sp.NavierStokes3D(_D3, -0.1), "nu"),
    (lambda: sp.Diffusion(_D1, 0.1 + 1j), "nu"),
    (lambda: sp.Burgers(_D1, 0.1, scale=1j), "scale"),
    (lambda: sp.Advection(_D1, 1.0 + 0.5j), "velocity"),
    (lambda: sp.ComplexGinzburgLandau(_D1, alpha=1.0 + 2.0j), "alpha"),
    (lambda: sp.ETDRK(sp.Diffusion(_D1), 0.1 + 0.1j), "dt"),
    (lambda: sp.ETDRK(sp.Diffusion(_D1), -0.1), "dt"),
]


@pytest.mark.parametrize("make,name", _BAD)
def test_ill_posed_or_complex_coefficients_raise(make, name):
    with pytest.raises(ValueError, match=f"`{name}` must be"):
        make()


def test_traced_negative_dt_and_viscosity_fail_at_run_time():
    # Reference: the eager rollout for valid traced values; an error (not a silent blow-up)
    # for invalid ones, which cannot be checked at trace time.
    d = sp.PeriodicDomain(16)
    u0 = jnp.sin(d.grid()[0])[None]
    run = eqx.filter_jit(lambda nu, dt: sp.rollout(sp.ETDRK(sp.Diffusion(d, nu), dt, 1), u0, 2)[-1])
    np.testing.assert_allclose(run(0.1, 0.05), sp.rollout(sp.ETDRK(sp.Diffusion(d, 0.1), 0.05, 1), u0, 2)[-1])
    with pytest.raises(eqx.EquinoxRuntimeError, match="`dt` must be positive"):
        run(0.1, -0.05)
    with pytest.raises(eqx.EquinoxRuntimeError, match="`nu` must be non-negative"):
        run(-0.1, 0.05)
    with pytest.raises(eqx.EquinoxRuntimeError, match="`dt` must be positive"):
        eqx.filter_jit(jax.vmap(run, in_axes=(None, 0)))(0.1, jnp.array([0.05, -0.05]))


def test_complex_nls_coefficient_gives_nonlinear_absorption(x64):
    # Reference: a uniform state of i psi_t + psi_xx / 2 + g |psi|^2 psi = 0 with g = i gamma
    # has psi_t = -gamma |psi|^2 psi, so |psi|^2 = a^2 / (1 + 2 gamma a^2 t) and the phase
    # stays put. Complex-field PDEs may take complex coefficients.
    d, a, gamma = sp.PeriodicDomain(8), 1.5, 0.3
    psi0 = jnp.full((1, 8), a, jnp.complex128)
    psi = sp.rollout(sp.ETDRK(sp.NonlinearSchrodinger(d, 1j * gamma), 0.01, 4), psi0, 100)[-1]
    np.testing.assert_allclose(psi, a / np.sqrt(1 + 2 * gamma * a**2 * 1.0), rtol=1e-9)


# --- 5., 6. NumPy and JAX scalars as sizes ---------------------------------------------------


def test_domain_accepts_numpy_and_jax_scalars():
    # Reference: the domain built from Python ints and floats.
    for shape in (np.int64(8), np.array(8), jnp.asarray(8), np.array([8])):
        d = sp.PeriodicDomain(shape, jnp.asarray(3.0))
        assert d.shape == (8,) and d.extent == (3.0,) and type(d.shape[0]) is int
    for extent in (np.array(3.0), jnp.asarray(3.0), np.float32(3.0), jnp.array([3.0, 3.0])):
        d = sp.PeriodicDomain(np.array([8, 6]), extent)
        assert d == sp.PeriodicDomain((8, 6), 3.0) and type(d.extent[0]) is float
    assert sp.PeriodicDomain(jnp.array([8, 6], jnp.int32), (1.0, np.float64(2.0))).spacing == (1 / 8, 2 / 6)
    for shape in (8.0, True, np.array([8.0, 8.0]), "8", np.array([[8, 8]])):
        with pytest.raises(ValueError, match="shape"):
            sp.PeriodicDomain(shape)
    for extent in (1 + 1j, "3", np.array([[1.0]])):
        with pytest.raises(ValueError, match="extent"):
            sp.PeriodicDomain(8, extent)


def test_rollout_accepts_numpy_integers():
    # Reference: the same rollout with Python ints.
    st = sp.ETDRK(sp.Diffusion(sp.PeriodicDomain(16), 0.1), 0.1, 1)
    u0 = jnp.sin(st.pde.domain.grid()[0])[None]
    want = sp.rollout(st, u0, 4, save_every=2, checkpoint=2)
    got = sp.rollout(st, u0, np.int64(4), save_every=np.int32(2), checkpoint=np.int64(2))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(sp.ensemble_rollout(st, u0[None], np.int64(4), save_every=jnp.asarray(2)), want[None])
    bad = [
        ({"num_steps": True}, "num_steps"),
        ({"num_steps": 4.0}, "num_steps"),
        ({"num_steps": 4, "save_every": np.bool_(True)}, "save_every"),
        ({"num_steps": 4, "checkpoint": True}, "checkpoint"),
    ]
    for kwargs, name in bad:
        with pytest.raises(ValueError, match=name):
            sp.rollout(st, u0, **kwargs)


def test_coupled_symbol_exponential_is_balanced():
    # The wave symbol [[0, 1], [-c^2 k^2, 0]] dt is far from normal: unbalanced, float32
    # exp(dt L) lost 3 digits (8e-3 on cos(k dt), N = 256, dt = 0.5) and from a norm of about
    # 1e6 expm returned NaN (c = 30, L = 1, dt = 5e-3), in float64 too. Reference: the exact
    # [[cos, sin / (ck)], [-ck sin, cos]].
    k = np.arange(129)
    e = sp.ETDRK(sp.Wave(sp.PeriodicDomain(256), 1.0), 0.5, order=0).coefs[0]
    assert float(jnp.abs(e[0, 0] - np.cos(0.5 * k)).max()) < 2e-4
    for dt in (1e-3, 5e-3):
        e = sp.ETDRK(sp.Wave(sp.PeriodicDomain(256, 1.0), 30.0), dt, order=4).coefs
        assert all(bool(jnp.all(jnp.isfinite(c))) for c in e)
        w = 30.0 * 2 * np.pi * k * dt
        assert float(jnp.abs(e[0][0, 0] - np.cos(w)).max()) < 2e-3
        assert float(jnp.abs(e[0][1, 0] / (30.0 * 2 * np.pi * np.maximum(k, 1)) + np.sin(w) * (k > 0)).max()) < 2e-3


# --- 7. matrix phi functions of coupled symbols ---------------------------------------------


def _phi_augmented_mp(a):
    """phi_0..phi_3 of each `(C, C)` matrix `a[..., p]`: the first block row of the exponential
    of [[a, I, 0, 0], [0, 0, I, 0], [0, 0, 0, I], [0, 0, 0, 0]], to 30 digits."""
    a = np.asarray(a).astype(complex)
    c, out = a.shape[0], np.zeros((4, *a.shape), complex)
    with mpmath.workdps(30):
        for p in range(a.shape[-1]):
            aug = mpmath.zeros(4 * c)
            for i, j in np.ndindex(c, c):
                aug[i, j] = mpmath.mpc(complex(a[i, j, p]))
            for i in range(3 * c):
                aug[i, i + c] = 1
            e = mpmath.expm(aug)
            for k, i, j in np.ndindex(4, c, c):
                out[k, i, j, p] = complex(e[i, k * c + j])
    return out


# Eigenvalues: zero, tiny, oscillatory (+-64i: the wave symbol at N = 256, dt = 0.5), mildly
# growing, stiff and dissipative, mixed scales; the last ones are too stiff for float32 (its
# rounding of a 1e8 symbol moves eigenvalues by ~10).
_EIGS = [
    (0.0, 0.0), (-1e-6, 2e-6j), (0.3j, -0.3j), (64j, -64j), (0.8, -2.0), (-5 + 30j, -1e3), (1e-3, -1e4),
    (3e3j, -3e3j), (-1e4, -2 + 5j, 0.5), (2j, -2j, -1e-3), (-1e6, -1e6 + 1e3j), (-1e8, -1e3, -1.0),
    (-1e12, 1e6j, -1e6j),
]


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_matrix_phi_functions_match_dense_reference(dtype):
    # Reference: the augmented-matrix exponential (Al-Mohy & Higham 2011) of the same rounded
    # symbols, to 30 digits. A = D^-1 N D with N normal and D = diag(2^-12 .. 2^12) is as far
    # from normal as the wave symbol [[0, dt], [-c^2 k^2 dt, 0]]; in the basis of D the error is
    # a few ulps times max(1, rho(A)), norms up to 1e12 (jax.scipy expm, before: NaN there).
    eps = np.finfo(dtype).eps
    rng = np.random.default_rng(0)
    with jax.enable_x64(dtype == np.complex128):
        for c in (2, 3):
            eigs = [lam for lam in _EIGS if len(lam) == c and (dtype == np.complex128 or max(map(abs, lam)) <= 1e4)]
            u = np.linalg.qr(rng.normal(size=(len(eigs), c, c)) + 1j * rng.normal(size=(len(eigs), c, c)))[0]
            d = 2.0 ** rng.integers(-12, 13, size=(c, len(eigs)))
            n = np.einsum("pij,pj,pkj->ikp", u, np.array(eigs), u.conj())
            a = jnp.asarray(n * d[None] / d[:, None], dtype)
            got = np.stack(phi_functions_matrix(a))
            assert got.dtype == dtype and got.shape == (4, c, c, len(eigs))
            want = _phi_augmented_mp(a)
            err = np.linalg.norm((got - want) * d[:, None] / d[None, :], axis=(1, 2))
            err /= np.maximum(np.linalg.norm(want * d[:, None] / d[None, :], axis=(1, 2)), 1e-300)  # exp(-1e6) = 0
            rho = np.maximum(1.0, np.abs(np.array(eigs)).max(1))
            assert np.all(err <= 4 * eps * rho), (c, err / (eps * rho))


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_matrix_phi_functions_of_large_real_coupled_symbols(dtype):
    # Reference: as above, for damped-wave symbols h [[0, 1], [-w^2, -g]] (real, so rounding
    # keeps their eigenvalues in the left half-plane) with entries up to w^2 h = 1e15, w h up to
    # 1e6 and g h up to 1e8, in the basis diag(1, 1 / w) where they read [[0, w h], [-w h, -g h]].
    # There |phi_k| <= 1/k! and the error is relative to max(|phi_k|, 1/k!): phi_1 of a rotation
    # by 2 pi n vanishes. A few ulps times max(1, w h) (expm, before, in float64: 9e-11 at
    # w h = 64, 2e-9 at g h = 1e8).
    eps = np.finfo(dtype).eps
    wh = np.array([0.0, 0.5, 64.0, 3e3, 1e6, 64.0, 10.0, 1e3, 1e-2])
    gh = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1e-3, 1e3, 1e6, 1e8])
    h = np.array([0.5, 0.5, 0.5, 1e-3, 1e-3, 0.1, 1e-3, 1.0, 1e-2])
    w = np.maximum(wh / h, 1.0)
    with jax.enable_x64(dtype == np.complex128):
        a = jnp.asarray(np.stack([np.stack([0 * h, h]), np.stack([-(w**2) * h, -gh])]), dtype)
        got = np.stack(phi_functions_matrix(a))
    assert np.all(np.isfinite(got))
    want = _phi_augmented_mp(a)
    d = np.stack([np.ones_like(w), 1 / w])
    err = np.linalg.norm((got - want) * d[:, None] / d[None, :], axis=(1, 2))
    size = np.linalg.norm(want * d[:, None] / d[None, :], axis=(1, 2))
    err /= np.maximum(size, 1 / np.array([1.0, 1.0, 2.0, 6.0])[:, None])
    assert np.all(err <= 4 * eps * np.maximum(1.0, wh)), (err / (eps * np.maximum(1.0, wh))).tolist()


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_matrix_phi_functions_of_diagonal_symbols(dtype):
    # Reference: the scalar phi functions (accurate to a few ulps, test_etdrk.py) of the
    # diagonal, normwise: diag(z1, z2) mixes scales from 1e-8 to 3e18 (62 doublings); an
    # eigenvalue far below the norm keeps its phi_k - 1/k! (expm, before: errors up to 1e8 ulps,
    # NaN beyond 24 squarings). Off the diagonal, exact zeros.
    z1 = [0, 1e-8, -1e-8j, 0.5, -0.99, 1.01j, 20.0, -7 + 3j, -1e3, 1e3j, -1e6, -1e6 + 5e5j, -1e12, -3e18, 1e-3, -30]
    z2 = [0, 0, 0.3, -5e5, -1e6, -1.5e18, 10, 10, -1e3 + 1e3j, 0.5, -1e6, 1e-8, 0.0, 1j, -1e6, -40]
    eps = np.finfo(dtype).eps
    with jax.enable_x64(dtype == np.complex128):
        z = jnp.asarray([z1, z2], dtype)
        a = jnp.zeros((2, 2, len(z1)), dtype).at[0, 0].set(z[0]).at[1, 1].set(z[1])
        got = np.stack(phi_functions_matrix(a))
        want = np.stack(sp.phi_functions(z))
    assert np.all(got[:, 0, 1] == 0) and np.all(got[:, 1, 0] == 0)
    diag, want = np.stack([got[:, 0, 0], got[:, 1, 1]], 1).astype(complex), want.astype(complex)
    err = np.abs(diag - want).max(1) / np.maximum(np.abs(want).max(1), 1e-300)  # exp(-1e3) = 0
    assert np.all(err <= 64 * eps * np.maximum(1.0, np.abs(np.imag([z1, z2])).max(0))), err / eps


def test_coupled_coefficients_on_128_squared_grid():
    # The ETDRK4 coefficients of the wave equation on 128^2 (2 x 8320 symbols): one elementwise
    # program, without the LAPACK custom calls of jax.scipy expm, which on a 2-core CPU could
    # deadlock (two batched LU factorisations, for phi(z) and phi(z / 2), each waiting for work
    # queued on the thread pool they both held). Reference: the exact exponential
    # [[cos, sin / (c k)], [-c k sin, cos]] of the symbol.
    d = sp.PeriodicDomain((128, 128))
    z = sp.Wave(d, 1.0).linear() * 0.1
    program = jax.jit(phi_functions_matrix).lower(z.astype(jnp.complex64)).compile().as_text()
    assert "custom-call" not in program and "custom_call" not in program
    st = sp.ETDRK(sp.Wave(d, 1.0), 0.1, order=4)
    assert all(bool(jnp.all(jnp.isfinite(c))) for c in st.coefs)
    ck = np.sqrt(-np.asarray(sp.Wave(d, 1.0).linear()[1, 0], np.float64))
    np.testing.assert_allclose(st.coefs[0][0, 0], np.cos(0.1 * ck), rtol=0, atol=2e-6)
    np.testing.assert_allclose(st.coefs[0][1, 0], -ck * np.sin(0.1 * ck), rtol=0, atol=2e-6 * ck.max())


# --- 8. a constant source enters every Runge-Kutta stage -------------------------------------

_DS = sp.PeriodicDomain(32)
_XS = 2 * np.pi * np.arange(32) / 32  # in float64: a float32 grid puts 1e-7 noise on every mode
_FS = np.cos(2 * _XS) + 0.5 * np.sin(3 * _XS)


class _ForcedPDE(sp.AbstractPDE):
    """Forced viscous Burgers (`coupled=False`) or a forced damped wave with a cubic term
    (`coupled=True`, a channel-coupling symbol), with the forcing f either as `source()` or
    added inside `nonlinear()` (`inside=True`)."""

    domain: sp.PeriodicDomain
    inside: bool = eqx.field(static=True)
    coupled: bool = eqx.field(static=True)

    def linear(self):
        lap = self.domain.laplacian()
        if not self.coupled:
            return (0.1 * lap)[None]
        zero, one = jnp.zeros_like(lap), jnp.ones_like(lap)
        return jnp.stack([jnp.stack([zero, one]), jnp.stack([0.5 * lap, -0.2 * one])])

    def _f_hat(self):
        f = self.domain.fourier_constant(_FS)[None]
        return jnp.concatenate([f, 0.5 * f]) if self.coupled else f

    def nonlinear(self, u_hat):
        u = self.domain.ifft(u_hat)
        if self.coupled:
            out = jnp.stack([jnp.zeros_like(u_hat[0]), -self.domain.fft(u[0] ** 3)])
        else:
            out = -0.5 * self.domain.derivative(0, 1) * self.domain.fft(u * u)
        return out + self._f_hat() if self.inside else out

    def source(self):
        return None if self.inside else self._f_hat()


@pytest.mark.parametrize("coupled", [False, True])
def test_source_step_equals_forcing_inside_nonlinear(x64, coupled):
    # Reference: the same forcing written inside `nonlinear()`, where every scheme treats it
    # as a part of N. The forcing's modes (2, 3) are below the 2/3 cutoff, so both steps are
    # the same arithmetic up to round-off. Before, the source entered only the final update:
    # an O(dt^2) difference a step, first-order convergence at every order.
    x = _DS.grid()[0]
    u0 = jnp.stack([jnp.sin(x) + 0.5 * jnp.cos(2 * x), 0.3 * jnp.cos(x)])[: 2 if coupled else 1]
    schemes = [(1, "cox-matthews"), (2, "cox-matthews"), (3, "cox-matthews"), (4, "cox-matthews"), (4, "krogstad")]
    if coupled:  # same stages; what is coupled is the source's matrix phi_1 (full and half step)
        schemes = [(4, "cox-matthews")]

    def make(inside, order, scheme):
        return sp.ETDRK(_ForcedPDE(_DS, inside, coupled), 0.2, order, scheme=scheme)

    @jax.jit  # one program for all the steppers (built inside, so their coefficients too)
    def steps(u):
        return [(make(False, *s)(u), make(True, *s)(u)) for s in schemes]

    for (order, scheme), (via_source, via_nonlinear) in zip(schemes, steps(u0)):
        assert float(jnp.abs(via_source - u0).max()) > 0.05  # the step does something
        np.testing.assert_allclose(via_source, via_nonlinear, rtol=0, atol=1e-14, err_msg=f"{order} {scheme}")


def test_forced_problem_converges_at_the_order_of_the_scheme(x64):
    # Reference: a fine ETDRK4 solution (dt = 1/320) of the forced Burgers problem above up to
    # t = 1; the order is the log-log slope of the error against dt, as for unforced Burgers
    # in test_etdrk.py (before: slope 1 at every order).
    x = _DS.grid()[0]
    u0 = (jnp.sin(x) + 0.5 * jnp.cos(2 * x))[None]
    pde = _ForcedPDE(_DS, False, False)

    @functools.partial(jax.jit, static_argnums=0)
    def solve(order, n):  # n traced: one program per order
        stepper = sp.ETDRK(pde, 1 / n, order)
        u_hat = jax.lax.fori_loop(0, n, lambda i, u: stepper.step_fourier(u), stepper.to_fourier(u0))
        return stepper.from_fourier(u_hat)

    ref = solve(4, 320)
    ns = np.array([10, 20, 40])
    for order in (2, 3, 4):
        errs = [float(jnp.abs(solve(order, n) - ref).max()) for n in ns]
        slope = np.polyfit(np.log(1.0 / ns), np.log(errs), 1)[0]
        assert abs(slope - order) < 0.3, (order, slope, errs)


# --- 9. NavierStokes3D.project is an exact projection, also at Nyquist modes ------------------


def test_navier_stokes_3d_projection_is_idempotent_and_divergence_free(x64):
    # Reference: exact identities of an orthogonal projection onto divergence-free fields,
    # for the domain's own derivative symbols: P(P f) = P f, div(P f) = 0, P(grad phi) = 0, and
    # P is self-adjoint (<P f, g> = <f, P g>). On an even, non-cubic grid every axis has a
    # Nyquist mode, where the first-derivative symbol is zero; before, the projection divided
    # by the Laplacian's |k|^2 there and was neither (max |div P f| of order |f| |k|).
    d = sp.PeriodicDomain((8, 6, 4), (2.0, 3.0, 1.0))
    pde = sp.NavierStokes3D(d, 0.01)
    ks = [d.derivative(a, 1) for a in range(3)]

    # P acts mode by mode, so random complex coefficients on the rfftn grid test every mode.
    rng = np.random.default_rng(0)
    f_hat, g_hat, phi_hat = (
        jnp.asarray(rng.normal(size=(c, *d.fourier_shape())) + 1j * rng.normal(size=(c, *d.fourier_shape())))
        for c in (3, 3, 1)
    )

    @jax.jit
    def residuals(f_hat, g_hat, phi_hat):
        p = pde.project(f_hat)
        div = lambda v: jnp.abs(sum(k * c for k, c in zip(ks, v))).max()  # noqa: E731
        inner = lambda a, b: jnp.sum(jnp.conj(a) * b)  # noqa: E731
        return (
            jnp.abs(pde.project(p) - p).max(),
            div(p),
            jnp.abs(pde.project(jnp.stack([k * phi_hat[0] for k in ks]))).max(),
            jnp.abs(inner(p, g_hat) - inner(f_hat, pde.project(g_hat))) / jnp.abs(inner(p, g_hat)),
            jnp.abs(f_hat).max(),
        )

    idem, div_p, grad_part, adjoint, scale = map(float, residuals(f_hat, g_hat, phi_hat))
    assert idem < 1e-13 * scale and div_p < 1e-13 * scale and grad_part < 1e-13 * scale
    assert adjoint < 1e-13


# --- 10. gaussian_random_field: Gaussian with the stated spectrum ----------------------------


@pytest.mark.parametrize("shape,exponent", [((32,), 3.0), ((16, 16), 4.0)])
def test_gaussian_random_field_ensemble_spectrum(x64, shape, exponent):
    # Reference: the stated law. Every Fourier coefficient of the field is Gaussian with
    # E|u_hat(m)|^2 = c |m|^-exponent (fftn grid, zero at the mean and Nyquist modes), with c
    # fixed by E<u^2> = 1 (Parseval: sum_m E|u_hat(m)|^2 = N^2). Over M samples, |u_hat(m)|^2 is
    # exponential, so the ratio of the sample mean to the expected power has standard deviation
    # 1/sqrt(M); 4.5 of those (0.071 at M = 4000) over at most 112 independent modes fail by
    # chance with probability < 1e-3. The old per-sample unit-RMS rescaling had the power of
    # some modes off by about 60% (16^2) and 110% (32 points): it cannot pass.
    m_samples = 4000
    d = sp.PeriodicDomain(shape)
    keys = jax.random.split(jax.random.key(1), m_samples)
    us = np.asarray(jax.jit(jax.vmap(lambda k: sp.gaussian_random_field(k, d, exponent=exponent)[0]))(keys))
    n = int(np.prod(shape))
    modes = np.meshgrid(*[np.fft.fftfreq(s, 1 / s) for s in shape], indexing="ij")
    m2 = sum(m**2 for m in modes)
    kept = (m2 > 0) & np.all([2 * np.abs(m) < s for m, s in zip(modes, shape)], axis=0)
    law = np.where(kept, np.maximum(m2, 1.0) ** (-exponent / 2), 0.0)
    expected = law * n**2 / law.sum()
    power = np.mean(np.abs(np.fft.fftn(us, axes=tuple(range(1, len(shape) + 1)))) ** 2, axis=0)
    assert np.all(power[~kept] < 1e-20 * n)  # mean and Nyquist modes are zero
    ratio = power[kept] / expected[kept]
    assert np.abs(ratio - 1).max() < 4.5 / np.sqrt(m_samples), np.abs(ratio - 1).max()
    # The normalisation: E<u^2> = 1. With mu_m = E|u_hat(m)|^2 and |u_hat(m)|^2 exponential
    # (variance mu_m^2, u_hat(-m) its conjugate), <u^2> = sum_m |u_hat(m)|^2 / N^2 has variance
    # 2 sum_m mu_m^2 / N^4; the mean over M samples is within 4.5 of its standard deviations.
    mean_square = np.mean(us**2, axis=tuple(range(1, len(shape) + 1)))
    sigma = np.sqrt(2 * np.sum(expected**2) / n**4 / m_samples)
    assert abs(mean_square.mean() - 1) < 4.5 * sigma, (mean_square.mean(), sigma)
    assert mean_square.std() > 0.05  # a sample is not rescaled to unit RMS


# --- 11. argument checks: coefficients, flags, dealiasing, num_channels, u0 ------------------


def test_array_valued_coefficients_raise_and_vmap_still_works(x64):
    # Reference: the documented `ValueError` naming the coefficient; the vmapped rollout over
    # scalar viscosities equals a Python loop. Before, nu = [0.1, 0.2, 0.3] on a (16, 4) grid
    # (Fourier grid (16, 3)) silently became a per-mode viscosity.
    d2 = sp.PeriodicDomain((16, 4))
    for make, name in (
        (lambda: sp.Burgers(_D1, jnp.array([0.1, 0.2])), "nu"),
        (lambda: sp.Diffusion(d2, [0.1, 0.2, 0.3]), "nu"),
        (lambda: sp.NavierStokes2D(_D2, 0.1, forcing_amplitude=np.ones(8), forcing_mode=1), "forcing_amplitude"),
        (lambda: sp.KuramotoSivashinsky(_D1, second_order=np.ones((1,))), "second_order"),
        (lambda: sp.ETDRK(sp.Diffusion(_D1), jnp.array([0.1])), "dt"),
    ):
        with pytest.raises(ValueError, match=f"`{name}` must be a scalar"):
            make()
    assert sp.Advection(d2, [1.0, 2.0]).velocity.shape == (2,)  # a vector, one entry per axis
    X, Y = d2.grid()
    u0 = (jnp.cos(X) + jnp.cos(Y))[None]
    run = lambda nu: sp.rollout(sp.ETDRK(sp.Diffusion(d2, nu), 0.1, 0), u0, 3)[-1]  # noqa: E731
    nus = jnp.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(jax.vmap(run)(nus), jnp.stack([run(nu) for nu in nus]), rtol=1e-14)


def test_flags_must_be_bools():
    # Reference: the documented `ValueError`; before, `zero_mean="no"` meant True and
    # `include_init="no"` prepended u0.
    st = sp.ETDRK(sp.Diffusion(_D1, 0.1), 0.1, 0)
    u0 = jnp.sin(_D1.grid()[0])[None]
    for bad in ("no", "False", 0, 1, None):
        with pytest.raises(ValueError, match="`zero_mean` must be True or False"):
            sp.KuramotoSivashinsky(_D1, zero_mean=bad)
        with pytest.raises(ValueError, match="`include_init`"):
            sp.rollout(st, u0, 2, include_init=bad)
        with pytest.raises(ValueError, match="`check_finite`"):
            sp.rollout(st, u0, 2, check_finite=bad)
        with pytest.raises(ValueError, match="`paired`"):
            sp.PeriodicDomain(8, paired=bad)
    ks = sp.KuramotoSivashinsky(_D1, zero_mean=np.bool_(False))
    assert ks.zero_mean is False
    assert sp.rollout(st, u0, 2, include_init=np.bool_(True)).shape == (3, 1, 16)


def test_dealiasing_must_be_a_fraction_or_none():
    # Reference: the documented `ValueError`; accepted values are stored as Python floats (a
    # static field) and give the mask of the same float. Before, "2/3" raised an unnamed
    # TypeError and True was taken as the fraction 1.
    pde = sp.Burgers(_D1, 0.1)
    for bad in ("2/3", True, np.bool_(False), 1 + 0j, 0.0, -0.5, 1.5, float("nan"), jnp.array([0.5]), [0.5]):
        with pytest.raises(ValueError, match="`dealiasing` must be None or a real number"):
            sp.ETDRK(pde, 0.1, dealiasing=bad)
    for good in (np.float32(0.5), jnp.asarray(0.5), 1):
        st = sp.ETDRK(pde, 0.1, dealiasing=good)
        assert type(st.dealiasing) is float
        np.testing.assert_array_equal(st.mask, sp.ETDRK(pde, 0.1, dealiasing=float(good)).mask)
    assert sp.ETDRK(pde, 0.1, dealiasing=None).mask is None


def test_num_channels_must_be_a_positive_int():
    # Reference: the documented `ValueError`; before, 0 returned an empty array, -1 raised an
    # MLIRError and 2.0 a shape TypeError.
    for fn in (sp.random_fourier_series, sp.gaussian_random_field):
        for bad in (0, -1, 2.0, True, "2"):
            with pytest.raises(ValueError, match="`num_channels` must be a positive int"):
                fn(jax.random.key(0), _D1, num_channels=bad)
        shape = jax.eval_shape(lambda k: fn(k, _D1, num_channels=np.int64(2)), jax.random.key(0)).shape
        assert shape == (2, 16)


def test_rollout_initial_state_conversion_and_nan_message():
    # Reference: the rollout of the same u0 as a float32 array. A list is converted; a
    # bfloat16/float16 u0 (which the FFT refuses) is evolved in float32; a NaN in u0 is named
    # as such, not blamed on the time step (diffusion is unconditionally stable).
    st = sp.ETDRK(sp.Diffusion(_D1, 0.1), 0.01, 1)
    u0 = jnp.sin(_D1.grid()[0])[None]
    want = sp.rollout(st, u0, 2)
    np.testing.assert_array_equal(sp.rollout(st, np.asarray(u0).tolist(), 2), want)
    for low in (jnp.bfloat16, jnp.float16):
        got = sp.rollout(st, u0.astype(low), 2)
        assert got.dtype == jnp.float32
        np.testing.assert_array_equal(got, sp.rollout(st, u0.astype(low).astype(jnp.float32), 2))
    with pytest.raises(ValueError, match="`u0` must be an array"):
        sp.rollout(st, "u0", 2)
    with pytest.raises(ValueError, match="`u0` must have shape"):
        sp.rollout(st, [[1.0, 2.0]], 2)
    bad = u0.at[0, 3].set(jnp.nan)
    with pytest.raises(eqx.EquinoxRuntimeError, match="`u0` contains inf/NaN") as info:
        sp.rollout(st, bad, 2)
    assert "time step" not in str(info.value)
    with pytest.raises(Exception, match="`u0` contains inf/NaN"):
        jax.jit(lambda u: sp.rollout(st, u, 2))(bad).block_until_ready()
    assert np.isnan(sp.rollout(st, bad, 2, check_finite=False)).any()


def test_enstrophy_spectrum_keeps_the_field_dtype(x64):
    # Reference: the float64 spectrum of the same field; float32 in gives float32 out, as for
    # `energy_spectrum` (before: float64 under x64). Both spectra also work under jit.
    d = sp.PeriodicDomain((16, 16))
    x, y = d.grid()
    u = jnp.stack([jnp.sin(3 * y) + jnp.cos(x + 2 * y), jnp.sin(x)])
    z32 = sp.enstrophy_spectrum(u.astype(jnp.float32), d)
    assert z32.dtype == jnp.float32
    z64, e32 = eqx.filter_jit(lambda v: (sp.enstrophy_spectrum(v, d), sp.energy_spectrum(v.astype(jnp.float32), d)))(u)
    assert z64.dtype == jnp.float64 and e32.dtype == jnp.float32
    np.testing.assert_allclose(z32, z64, rtol=1e-5, atol=1e-6 * float(z64.max()))
