"""ensemble_rollout and the paired layout: two real fields evolved as one complex field."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsci.spectral as sp
from jaxsci.parallel import data_parallel, make_mesh, shard_batch

D1 = sp.PeriodicDomain(32, 20.0)
D2 = sp.PeriodicDomain((16, 12), (6.0, 5.0))

# Every real PDE of the library, on a small grid, with a step size that keeps the
# random initial states below bounded.
CASES = {
    "Diffusion": (lambda: sp.Diffusion(D2, 0.1), 0.05),
    "Advection": (lambda: sp.Advection(D2, [1.0, -0.5]), 0.05),
    "AdvectionDiffusion": (lambda: sp.AdvectionDiffusion(D1, 1.0, 0.05), 0.05),
    "Dispersion": (lambda: sp.Dispersion(D1, 0.1), 0.05),
    "HyperDiffusion": (lambda: sp.HyperDiffusion(D2, 1e-3), 0.05),
    "Wave": (lambda: sp.Wave(D2, 1.5), 0.05),
    "Burgers": (lambda: sp.Burgers(D2, 0.05), 0.02),
    "KortewegDeVries": (lambda: sp.KortewegDeVries(D1, nu=0.01), 1e-3),
    "KuramotoSivashinsky": (lambda: sp.KuramotoSivashinsky(D2), 0.02),
    "KuramotoSivashinskyConservative": (lambda: sp.KuramotoSivashinskyConservative(D1), 0.1),
    "AllenCahn": (lambda: sp.AllenCahn(D2, 0.2), 0.02),
    "CahnHilliard": (lambda: sp.CahnHilliard(D2, 0.05), 1e-3),
    "FisherKPP": (lambda: sp.FisherKPP(D1, 0.1, 1.0), 0.05),
    "GrayScott": (lambda: sp.GrayScott(D2, 1e-2, 5e-3), 0.5),
    "SwiftHohenberg": (lambda: sp.SwiftHohenberg(D2), 0.05),
    "NavierStokes2D": (
        lambda: sp.NavierStokes2D(sp.PeriodicDomain((16, 16)), 0.05, 0.1, 1.0, 2),
        0.02,
    ),
    "NavierStokes3D": (lambda: sp.NavierStokes3D(sp.PeriodicDomain((8, 8, 6)), 0.1), 0.02),
}


def _members(key, pde, count):
    """`count` random smooth states of `pde`, shape `(count, channels, *shape)`."""
    c = int(pde.linear().shape[0])
    keys = jax.random.split(key, count * c)
    fields = jax.vmap(lambda k: sp.random_fourier_series(k, pde.domain, max_wavenumber=min(3, min(pde.domain.shape) // 2 - 1))[0])(keys)
    return 0.5 * fields.reshape(count, c, *pde.domain.shape)


@pytest.mark.parametrize("name", sorted(CASES))
def test_paired_equals_vmapped_rollout_for_every_real_pde(x64, getkey, name):
    # Reference: the plain vmapped rollout (real FFTs, one member at a time). Three
    # members, so one pair plus one padded member; ETDRK4 exercises every stage.
    make, dt = CASES[name]
    stepper = sp.ETDRK(make(), dt, 4)
    u0 = _members(getkey(), stepper.pde, 3)
    kw = dict(save_every=2, include_init=True)
    paired = sp.ensemble_rollout(stepper, u0, 6, pair=True, **kw)
    plain = sp.ensemble_rollout(stepper, u0, 6, pair=False, **kw)
    assert paired.shape == plain.shape == (3, 4, *u0.shape[1:])
    assert float(jnp.abs(plain[:, -1] - plain[:, 0]).max()) > 1e-3  # the fields did evolve
    np.testing.assert_allclose(paired, plain, rtol=0, atol=1e-12 * float(jnp.abs(plain).max()))


@pytest.mark.parametrize("order,scheme", [(1, "cox-matthews"), (2, "cox-matthews"), (3, "cox-matthews"), (4, "krogstad")])
def test_paired_every_order_and_scheme(x64, getkey, order, scheme):
    # Reference: the vmapped rollout, as above, for the other ETDRK variants.
    stepper = sp.ETDRK(sp.KuramotoSivashinskyConservative(D1), 0.1, order, scheme=scheme)
    u0 = _members(getkey(), stepper.pde, 4)
    paired = sp.ensemble_rollout(stepper, u0, 10, save_every=5, pair=True)
    plain = jax.vmap(lambda u: sp.rollout(stepper, u, 10, save_every=5))(u0)
    np.testing.assert_allclose(paired, plain, rtol=0, atol=1e-12 * float(jnp.abs(plain).max()))


def test_paired_domain_transforms_and_constants(x64, getkey):
    # Reference: NumPy's fftn of each real field of the pair.
    d = sp.PeriodicDomain((8, 6), paired=True)
    u = jax.random.normal(getkey(), (2, 2, 8, 6))  # (channels, pair, *shape)
    z_hat = d.fft(u)
    expected = np.fft.fftn(np.asarray(u[:, 0]), axes=(1, 2)) + 1j * np.fft.fftn(np.asarray(u[:, 1]), axes=(1, 2))
    np.testing.assert_allclose(z_hat, expected, atol=1e-12)
    np.testing.assert_allclose(d.ifft(z_hat), u, atol=1e-13)
    assert d.fourier_shape() == (8, 6) and d.laplacian().shape == (8, 6)
    assert d.derivative(1).shape == (1, 6) and d.dealiasing_mask(2 / 3).shape == (8, 6)
    f = np.cos(2 * np.pi * np.arange(6) / 6)[None] * np.ones((8, 1))
    np.testing.assert_allclose(d.fourier_constant(f), (1 + 1j) * np.fft.fftn(f), atol=1e-12)
    plain = sp.PeriodicDomain((8, 6))
    np.testing.assert_allclose(plain.fourier_constant(f), np.fft.rfftn(f), atol=1e-12)
    with pytest.raises(ValueError, match="field"):
        plain.fourier_constant(np.ones(3))
    with pytest.raises(ValueError, match="complex_field"):
        d.fft(u, complex_field=True)
    with pytest.raises(ValueError, match=r"\(channels, 2, \*domain.shape\)"):
        d.check_field(u[:, 0], 2)


def test_gradients_through_paired_rollouts(x64, getkey):
    # Reference: gradients of the vmapped rollout (tested against finite differences in
    # test_rollout.py), plain and checkpointed.
    u0 = _members(getkey(), sp.Burgers(D1), 5)

    def loss(nu, u0, pair, checkpoint):
        st = sp.ETDRK(sp.Burgers(D1, nu), 0.05, 4)
        traj = sp.ensemble_rollout(st, u0, 16, save_every=4, checkpoint=checkpoint, pair=pair)
        return jnp.mean(traj**2 * jnp.arange(1, 6)[:, None, None, None])

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=(2, 3))
    ref = grad(0.1, u0, False, None)
    for ck in (None, "sqrt", 2):
        g = grad(0.1, u0, True, ck)
        np.testing.assert_allclose(g[0], ref[0], rtol=1e-11)
        np.testing.assert_allclose(g[1], ref[1], rtol=0, atol=1e-11 * float(jnp.abs(ref[1]).max()))


def test_vmap_over_coefficients_and_jit_cache(x64, getkey):
    # Reference: a Python loop over the viscosity.
    u0 = _members(getkey(), sp.Burgers(D2), 4)

    @jax.jit
    def run(nu, u0):
        return sp.ensemble_rollout(sp.ETDRK(sp.Burgers(D2, nu), 0.02, 4), u0, 8, save_every=8, pair=True)

    nus = jnp.array([0.02, 0.05, 0.1])
    batched = jax.vmap(run, in_axes=(0, None))(nus, u0)
    loop = jnp.stack([run(n, u0) for n in nus])
    np.testing.assert_allclose(batched, loop, rtol=1e-12, atol=1e-14)
    assert run._cache_size() == 1
    assert not np.allclose(loop[0], loop[2])


def test_float32_paired_matches_vmapped(getkey):
    # Reference: the vmapped float32 rollout; the KS ensemble of the benchmark, shortened.
    d = sp.PeriodicDomain(256, 32 * np.pi)
    st = sp.ETDRK(sp.KuramotoSivashinskyConservative(d), 0.25, 4)
    u0 = jax.vmap(lambda k: sp.random_fourier_series(k, d, max_wavenumber=6))(jax.random.split(getkey(), 6))
    paired = sp.ensemble_rollout(st, u0, 20, save_every=20, pair=True)
    assert paired.dtype == jnp.float32
    plain = jax.vmap(lambda u: sp.rollout(st, u, 20, save_every=20))(u0)
    assert float(jnp.linalg.norm(paired - plain) / jnp.linalg.norm(plain)) < 1e-5


def test_sharded_paired_ensemble_is_data_parallel(getkey):
    # Reference: the same ensemble rollout on one device; and the compiled program, which
    # must hold no collective (each device evolves its own pairs).
    mesh = make_mesh(4)
    st = sp.ETDRK(sp.KuramotoSivashinskyConservative(D1), 0.1, 4)
    u0 = _members(getkey(), st.pde, 8)
    run = lambda u: sp.ensemble_rollout(st, u, 20, save_every=10, pair=True)  # noqa: E731
    ref = jax.jit(run)(u0)
    sharded = data_parallel(run, mesh)
    out = sharded(u0)
    assert len(out.sharding.device_set) == 4
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-5, atol=1e-5)
    hlo = jax.jit(lambda u: sharded(u)).lower(shard_batch(u0, mesh)).compile().as_text()
    assert not re.search(r"all-gather|all-reduce|all-to-all|collective-permute", hlo)


class _Cubic(sp.AbstractPDE):
    """A user PDE that does not declare `pairable`."""

    domain: sp.PeriodicDomain

    def linear(self):
        return 0.1 * self.domain.laplacian()[None]

    def nonlinear(self, u_hat):
        return -self.domain.fft(self.domain.ifft(u_hat) ** 3)


def test_errors_and_pairability(x64, getkey):
    # Reference: the vmapped rollout (the default path), and the documented errors.
    u0 = _members(getkey(), sp.Burgers(D1), 2)
    cubic = sp.ETDRK(_Cubic(D1), 0.05, 2)
    plain = jax.vmap(lambda u: sp.rollout(cubic, u, 4))(u0)
    np.testing.assert_allclose(sp.ensemble_rollout(cubic, u0, 4), plain, atol=1e-14)
    with pytest.raises(ValueError, match="pairable"):
        sp.ensemble_rollout(cubic, u0, 4, pair=True)
    with pytest.raises(ValueError, match="pairable"):
        sp.ensemble_rollout(lambda u: cubic(u), u0, 4, pair=True)
    nls = sp.ETDRK(sp.NonlinearSchrodinger(D1), 0.01, 2)
    with pytest.raises(ValueError, match="pair=True"):
        sp.ensemble_rollout(nls, u0.astype(jnp.complex128), 4, pair=True)
    with pytest.raises(ValueError, match="complex-field"):
        nls.paired()
    burgers = sp.ETDRK(sp.Burgers(D1), 0.05, 2)
    with pytest.raises(ValueError, match="`pair`"):
        sp.ensemble_rollout(burgers, u0, 4, pair="yes")
    with pytest.raises(ValueError, match="members"):
        sp.ensemble_rollout(burgers, u0[0, 0], 4, pair=True)
    with pytest.raises(ValueError, match=r"u0\[i\]"):
        sp.ensemble_rollout(burgers, u0[:, :, :16], 4, pair=True)
    with pytest.raises(ValueError, match="save_every"):
        sp.ensemble_rollout(burgers, u0, 4, save_every=3, pair=True)
    # A paired field must carry the pair axis; initial conditions and spectra want the
    # ordinary layout.
    pd = sp.PeriodicDomain(8, paired=True)
    with pytest.raises(ValueError, match="paired field"):
        pd.fft(jnp.ones((3, 8)))
    with pytest.raises(ValueError, match="paired=False"):
        sp.random_fourier_series(getkey(), pd, max_wavenumber=2)
    with pytest.raises(ValueError, match="paired=False"):
        sp.energy_spectrum(jnp.ones((1, 8)), pd)

    # Redefining `nonlinear` (or `linear`) revokes an inherited `pairable`.
    class MyBurgers(sp.Burgers):
        def nonlinear(self, u_hat):
            return super().nonlinear(u_hat) - jnp.mean(self.domain.ifft(u_hat))

    class DeclaredBurgers(sp.Burgers):
        pairable = True

        def nonlinear(self, u_hat):
            return 2 * super().nonlinear(u_hat)

    assert sp.Burgers.pairable and not MyBurgers.pairable and DeclaredBurgers.pairable
    with pytest.raises(ValueError, match="pairable"):
        sp.ensemble_rollout(sp.ETDRK(MyBurgers(D1), 0.05, 2), u0, 4, pair=True)


def test_paired_path_uses_complex_ffts_only():
    # Reference: the traced program. The paired rollout must run complex FFTs of the
    # pairs (no real FFT at all), the vmapped one real FFTs.
    st = sp.ETDRK(sp.KuramotoSivashinskyConservative(D1), 0.1, 4)
    u0 = jnp.ones((4, 1, 32))

    def fft_types(pair):
        jaxpr = str(jax.make_jaxpr(lambda u: sp.ensemble_rollout(st, u, 3, pair=pair))(u0))
        found = re.findall(r"fft_type=(?:FftType\.)?(\w+)", jaxpr)
        return {jax.lax.FftType(int(t)).name if t.isdigit() else t for t in found}

    assert fft_types(True) == {"FFT", "IFFT"}
    assert fft_types(False) == {"RFFT", "IRFFT"}


@pytest.mark.parametrize("shape", [(33,), (32,), (9, 8)])
def test_paired_nyquist_and_undealiased_white_noise(x64, getkey, shape):
    # Reference: the vmapped rollout. White-noise states fill every mode, including the
    # Nyquist mode at even N, and with `dealiasing=None` nothing masks them; odd-order
    # symbols (advection, dispersion) must keep each member real on the full grid.
    d = sp.PeriodicDomain(shape, 2 * np.pi)
    for pde in (sp.AdvectionDiffusion(d, 1.0, 0.01), sp.KortewegDeVries(d, nu=0.05, mu=1e-3)):
        st = sp.ETDRK(pde, 1e-3, 4, dealiasing=None)
        u0 = 0.3 * jax.random.normal(getkey(), (3, 1, *shape))
        paired = sp.ensemble_rollout(st, u0, 5, pair=True)
        plain = sp.ensemble_rollout(st, u0, 5)
        np.testing.assert_allclose(paired, plain, rtol=0, atol=1e-12 * float(jnp.abs(plain).max()))
