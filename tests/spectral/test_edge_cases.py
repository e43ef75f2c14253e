"""Edge cases of the spectral pillar: a forcing above the dealiasing cutoff, pytree states,
zero-safe metrics, coefficient validation, NumPy/JAX scalars as sizes, and the matrix phi
functions of channel-coupling symbols.

References: the analytic transient of laminar Kolmogorov flow; a plain Python loop; central
finite differences; the closed-form decay of a uniform state under nonlinear absorption;
the documented `ValueError` messages; a 30-digit exponential of the augmented matrix; the
scalar phi functions.
"""

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
