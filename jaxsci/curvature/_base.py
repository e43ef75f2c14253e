"""The common base of the curvature operators: a lineax operator over a parameter pytree."""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
from jax.flatten_util import ravel_pytree

from ._tree import check_like, structure_of, zeros_like_structure


class AbstractCurvatureOperator(lx.AbstractLinearOperator):
    """A symmetric curvature matrix of a loss, acting on pytrees shaped like the parameters.

    The vector space is the floating-point array leaves of `params` (found with
    `equinox.is_inexact_array`; other leaves such as activation functions are held fixed),
    so a vector is `v = jax.tree.map(f, equinox.filter(params, equinox.is_inexact_array))`.
    For plain dicts of arrays and `flax.nnx.State` that is just a pytree like `params`.

    Concrete operators implement `mv(v)` (a matrix-free product by forward-over-reverse
    autodiff), `quadratic_form(v)` ($v^\\top A v$, by forward mode only, which needs less
    work than a product: the trace estimators use it) and `linearise()` (a product function
    with the primal pass done once, for algorithms that multiply many times).
    """

    params: eqx.AbstractVar[object]

    @abc.abstractmethod
    def quadratic_form(self, v):
        """$v^\\top A v$ for one vector `v` shaped like the parameters."""

    @abc.abstractmethod
    def linearise(self):
        """A function `v -> A v` with the forward pass done once, for many products.

        The model's primal computation (activations, the gradient) is evaluated here and
        its residuals are kept, so each call of the returned function only costs the
        tangent part: the right thing for Lanczos, CG or Hutch++, which call the product
        many times at the same parameters.
        """

    def in_structure(self):
        return structure_of(self.params)

    def out_structure(self):
        return structure_of(self.params)

    def transpose(self):
        return self

    def as_matrix(self):
        """The dense matrix (costly: one product per parameter; for tests and tiny models)."""
        structure = self.in_structure()
        flat, unravel = ravel_pytree(zeros_like_structure(structure))
        eye = jnp.eye(flat.size, dtype=flat.dtype)
        cols = jax.vmap(lambda e: ravel_pytree(self.mv(unravel(e)))[0])(eye)
        return cols.T


def matvec_of(op):
    """The product `v -> A v` of any lineax operator, linearised once for curvature operators."""
    return op.linearise() if isinstance(op, AbstractCurvatureOperator) else op.mv


def check_vector(op: AbstractCurvatureOperator, v, name: str = "v"):
    """Raise `ValueError` unless `v` is shaped like the parameters of `op`; cast its dtype."""
    structure = op.in_structure()
    check_like(v, structure, name)
    return jax.tree.map(lambda x, s: jnp.asarray(x, s.dtype), v, structure)


@lx.is_symmetric.register(AbstractCurvatureOperator)
def _(op):
    return True


@lx.is_positive_semidefinite.register(AbstractCurvatureOperator)
@lx.is_negative_semidefinite.register(AbstractCurvatureOperator)
@lx.is_diagonal.register(AbstractCurvatureOperator)
@lx.is_tridiagonal.register(AbstractCurvatureOperator)
@lx.has_unit_diagonal.register(AbstractCurvatureOperator)
@lx.is_lower_triangular.register(AbstractCurvatureOperator)
@lx.is_upper_triangular.register(AbstractCurvatureOperator)
def _(op):
    # A Hessian is indefinite in general; the GGN and Fisher register themselves as PSD.
    return False


@lx.linearise.register(AbstractCurvatureOperator)
@lx.conj.register(AbstractCurvatureOperator)
def _(op):
    return op


@lx.materialise.register(AbstractCurvatureOperator)
def _(op):
    return lx.MatrixLinearOperator(op.as_matrix(), lx.symmetric_tag)


@lx.diagonal.register(AbstractCurvatureOperator)
def _(op):
    return jnp.diag(op.as_matrix())


@lx.tridiagonal.register(AbstractCurvatureOperator)
def _(op):
    m = op.as_matrix()
    return jnp.diag(m), jnp.diag(m, -1), jnp.diag(m, 1)
