"""Exponential time differencing Runge-Kutta integrators of orders 0 to 4."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Complex

from .._checks import checked_int
from ._args import checked_fraction
from ._pde import AbstractPDE, coefficient, constant_source, is_coupled, paired_pde
from ._phi import phi_functions, phi_functions_matrix
from ._stepper import AbstractSpectralStepper

_SCHEMES = ("cox-matthews", "krogstad")


class ETDRK(AbstractSpectralStepper):
    r"""Exponential time differencing Runge-Kutta stepper of order 0-4 for a semilinear PDE.

    With $z = \Delta t\,\hat{\mathcal L}$ and $\varphi_k$ the exponential-integrator
    functions, the schemes are (Cox & Matthews 2002; Krogstad 2005 for `scheme="krogstad"`):

    - order 0: $\hat u' = e^{z}\hat u$ (exact for the linear part, ignores $\mathcal N$);
    - order 1: $\hat u' = e^{z}\hat u + \Delta t\varphi_1(z)\hat N(u)$ (exponential Euler);
    - order 2: $a = e^{z}\hat u + \Delta t\varphi_1\hat N(u)$,
      $\hat u' = a + \Delta t\varphi_2(z)(\hat N(a) - \hat N(u))$;
    - order 3: Cox-Matthews ETDRK3; order 4: Cox-Matthews ETDRK4 (or Krogstad's variant),
      with weights $\varphi_1-3\varphi_2+4\varphi_3$, $\varphi_2-2\varphi_3$, $4\varphi_3-\varphi_2$.

    All coefficients are computed once, in `__init__`, accurately for small and large
    $|z|$ (see `_phi.py`); a channel-coupling symbol uses matrix $\varphi$ functions.
    The dealiasing mask is applied to the nonlinear term's input and folded into the
    coefficients that multiply its output, so post-dealiasing costs nothing per step.
    A constant source $\hat f$ (the PDE's optional `source()`, e.g. a forcing) is treated as
    a part of $\hat N$ that is never dealiased: a stage at time $c\,\Delta t$ gets its exact
    share $c\,\Delta t\varphi_1(c z)\hat f$, the step $\Delta t\varphi_1(z)\hat f$. Forced
    problems therefore converge at the order of the scheme, and the step is the same as with
    $\hat f$ added inside `nonlinear()` (below the dealiasing cutoff). At order 0 the step is
    the exact solution of $u_t = \mathcal L u + f$. Without a source (`None`) the step has
    no extra operation.

    **Arguments:**

    - `pde`: an [`jaxsci.spectral.AbstractPDE`][].
    - `dt`: time step (an array leaf: differentiable and vmappable), must be real and
      positive: a `ValueError` for a concrete value, an `equinox.error_if` error at run
      time for a traced one (e.g. `dt` an argument of a jitted function).
    - `order`: 0, 1, 2, 3 or 4.
    - `dealiasing`: fraction of the resolved modes kept in nonlinear products, a real number
      in (0, 1] (2/3 rule by default; `None` disables dealiasing). Anything else (a bool, a
      string such as `"2/3"`, a traced value) is a `ValueError`.
    - `scheme`: `"cox-matthews"` (default) or `"krogstad"`; only used at order 4.

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain(128, 32 * jnp.pi)
    stepper = sp.ETDRK(sp.KuramotoSivashinskyConservative(domain), dt=0.25, order=4)
    x, = domain.grid()
    u1 = stepper(jnp.cos(x / 16)[None])
    ```

    **Reference:** S. M. Cox, P. C. Matthews, *Exponential time differencing for stiff
    systems*, J. Comput. Phys. 176 (2002); A.-K. Kassam, L. N. Trefethen, *Fourth-order
    time-stepping for stiff PDEs*, SIAM J. Sci. Comput. 26 (2005).
    """

    pde: AbstractPDE
    dt: Array
    order: int = eqx.field(static=True)
    dealiasing: float | None = eqx.field(static=True)
    scheme: str = eqx.field(static=True)
    coupled: bool = eqx.field(static=True)
    mask: Array | None
    coefs: tuple[Array, ...]
    # Increments of the constant source: (full step, half step) at orders 3-4, (full step,)
    # below; None without a source.
    source: tuple[Array, ...] | None

    def __init__(
        self,
        pde: AbstractPDE,
        dt: ArrayLike,
        order: int = 4,
        *,
        dealiasing: float | None = 2 / 3,
        scheme: str = "cox-matthews",
    ):
        if not isinstance(pde, AbstractPDE):
            raise TypeError(f"`pde` must be an AbstractPDE, got {type(pde).__name__}.")
        order = checked_int(order, f"`order` must be an integer in 0..4, got {order!r}.", 0, 4)
        if scheme not in _SCHEMES:
            raise ValueError(f"`scheme` must be one of {_SCHEMES}, got {scheme!r}.")
        dealiasing = checked_fraction(dealiasing, "dealiasing")
        dt = coefficient(dt, "dt", shape=(), sign="positive")
        self.pde, self.dt, self.order = pde, dt, int(order)
        self.dealiasing, self.scheme = dealiasing, scheme
        self.coupled = is_coupled(pde)
        mask = None if dealiasing is None else pde.domain.dealiasing_mask(dealiasing, pde.complex_field)
        self.mask = None if mask is None else mask.astype(dt.dtype)
        self.coefs, self.source = _etd_coefficients(pde, dt, self.mask, self.order, scheme, self.coupled)

    def paired(self) -> ETDRK:
        """The same integrator on the paired layout of its PDE (two real fields per complex
        field, see [`jaxsci.spectral.ensemble_rollout`][]), built anew from `pde`, `dt`,
        `order`, `dealiasing` and `scheme`: its coefficients are computed on the full Fourier
        grid (edits made to `coefs` are not carried over). Raises `ValueError` unless the
        PDE is `pairable`."""
        return ETDRK(paired_pde(self.pde), self.dt, self.order, dealiasing=self.dealiasing, scheme=self.scheme)

    def _low(self, x: Array) -> Array:
        """Zero the modes removed by dealiasing (folded into the coefficients once)."""
        return _masked(x, self.mask)

    def _mul(self, c: Array, x: Array) -> Array:
        return _apply(c, x, self.coupled)

    def _nonlinear(self, u: Array) -> Array:
        # Pre-dealiasing of the input; post-dealiasing is folded into the coefficients.
        return self.pde.nonlinear(self._low(u))

    def step_fourier(self, u_hat: Complex[Array, "c ..."]) -> Complex[Array, "c ..."]:
        """Advance Fourier coefficients `u_hat` (shape `(C, *fourier_shape)`) by `dt`."""
        mul, nl, c, src = self._mul, self._nonlinear, self.coefs, self._add_source
        if self.order == 0:
            return src(mul(c[0], u_hat)).astype(u_hat.dtype)
        u = u_hat
        nu = nl(u)
        if self.order == 1:
            out = mul(c[0], u) + mul(c[2], nu)
        elif self.order == 2:
            a = src(mul(c[1], u) + mul(c[2], nu))
            out = mul(c[0], u) + (mul(c[2], nu) + mul(c[3], nl(a) - nu))
        elif self.order == 3:
            _, el, e2, half, full, w1, w2, w3 = c
            a = src(mul(e2, u) + mul(half, nu), half_step=True)
            na = nl(a)
            b = src(mul(el, u) + mul(full, 2 * na - nu))
            out = mul(c[0], u) + (mul(w1, nu) + mul(w2, na) + mul(w3, nl(b)))
        else:
            out = mul(c[0], u) + self._increment4(u, nu)
        return src(out).astype(u_hat.dtype)

    def _add_source(self, x: Array, half_step: bool = False) -> Array:
        """`x` plus the source's share of a full step (or of a half step); `x` without one."""
        if self.source is None:
            return x
        return x + self.source[1 if half_step else 0].astype(x.dtype)

    def _increment4(self, u: Array, nu: Array) -> Array:
        # Each stage is the Cox-Matthews (or Krogstad) stage of u_t = L u + N(u) + f: the
        # source enters as a part of N, which cancels in the differences N(a) - N(u).
        mul, nl, c, src = self._mul, self._nonlinear, self.coefs, self._add_source
        eu2 = mul(c[2], u)
        a = src(eu2 + mul(c[3], nu), half_step=True)
        na = nl(a)
        if self.scheme == "krogstad":
            _, el, _, _, q2, full, full2, w1, w2, w3 = c
            nb = nl(a + mul(q2, na - nu))
            cc = src(mul(el, u) + mul(full, nu) + mul(full2, nb - nu))
        else:
            _, _, e2, half, w1, w2, w3 = c
            nb = nl(src(eu2 + mul(half, na), half_step=True))
            cc = src(mul(e2, a) + mul(half, 2 * nb - nu), half_step=True)
        return mul(w1, nu) + mul(w2, na + nb) + mul(w3, nl(cc))


def _apply(c: Array, x: Array, coupled: bool) -> Array:
    """A coefficient times a field: per channel, or a `(C, C)` matrix per mode if `coupled`."""
    return jnp.einsum("ij...,j...->i...", c, x) if coupled else c * x


def _masked(x: Array, mask: Array | None) -> Array:
    return x if mask is None else x * mask


@eqx.filter_jit
def _etd_coefficients(
    pde: AbstractPDE, h: Array, mask: Array | None, order: int, scheme: str, coupled: bool
) -> tuple[tuple[Array, ...], tuple[Array, ...] | None]:
    """The stepper's coefficients and the increments of the PDE's constant source over a
    step and, at orders 3-4, over half a step (or `None`), compiled as one program: built op
    by op, the symbol and the phi functions cost about a second of dispatch per new grid
    shape; compiled, they are one fused pass (cached across PDE coefficients and `dt`, which
    are array leaves)."""
    # Coefficients that multiply the nonlinear term carry the dealiasing mask
    # (post-dealiasing at no per-step cost); the exponentials do not.
    z = pde.linear() * h
    phis = phi_functions_matrix if coupled else phi_functions
    if jnp.iscomplexobj(z) or coupled:
        z = z.astype(jnp.result_type(z.dtype, jnp.complex64))
    low = lambda x: _masked(x, mask)  # noqa: E731
    e, p1, p2, p3 = phis(z)
    # The exact step of u_t = L u + f is e^z u + h phi_1(z) f, of a half step
    # e^(z/2) u + (h/2) phi_1(z/2) f: the source's shares of the steps and of the half-step
    # stages. The source is no product, so it is not dealiased: a forcing above the 2/3
    # cutoff survives.
    f = constant_source(pde)
    src = None if f is None else (h * _apply(p1, f, coupled),)
    if order == 0:
        return (e,), src
    if order <= 2:
        return (e, e, low(h * p1)) + ((low(h * p2),) if order == 2 else ()), src
    e2, q1, q2, _ = phis(z / 2)
    src = None if f is None else src + (0.5 * h * _apply(q1, f, coupled),)
    q1, q2, p1, p2, p3 = low(q1), low(q2), low(p1), low(p2), low(p3)
    f1, f2, f3 = h * (p1 - 3 * p2 + 4 * p3), h * (p2 - 2 * p3), h * (4 * p3 - p2)
    half = 0.5 * h * q1
    if order == 3:
        return (e, e, e2, half, h * p1, f1, 4 * f2, f3), src
    if scheme == "krogstad":
        return (e, e, e2, half, h * q2, h * p1, 2 * h * p2, f1, 2 * f2, f3), src
    return (e, e, e2, half, f1, 2 * f2, f3), src
