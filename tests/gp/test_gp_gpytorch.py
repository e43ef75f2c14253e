"""Agreement with GPyTorch's exact Kronecker path (KroneckerProductAddedDiagLinearOperator).

Reference: GPyTorch 1.15 RBF and Matern-5/2 kernels and `MultivariateNormal.log_prob` on the
same grid, data and hyperparameters, in float64, with torch autograd for the gradients.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.gp import GridGP
from jaxsci.gp.kernels import Matern52, SquaredExponential

torch = pytest.importorskip("torch")
gpytorch = pytest.importorskip("gpytorch")


def _gpytorch_lml(grid, y, ls1, ls2, noise):
    from linear_operator.operators import (
        ConstantDiagLinearOperator,
        KroneckerProductAddedDiagLinearOperator,
        KroneckerProductLinearOperator,
    )

    k1 = gpytorch.kernels.RBFKernel().double()
    k2 = gpytorch.kernels.MaternKernel(nu=2.5).double()
    k1.lengthscale, k2.lengthscale = ls1, ls2
    s2 = torch.tensor([noise], dtype=torch.float64, requires_grad=True)
    xs = [torch.tensor(np.asarray(x), dtype=torch.float64)[:, None] for x in grid]
    kron = KroneckerProductLinearOperator(k1(xs[0]).to_dense(), k2(xs[1]).to_dense())
    cov = KroneckerProductAddedDiagLinearOperator(kron, ConstantDiagLinearOperator(s2, diag_shape=kron.shape[-1]))
    target = torch.tensor(np.asarray(y).reshape(-1), dtype=torch.float64)
    lml = gpytorch.distributions.MultivariateNormal(torch.zeros_like(target), cov).log_prob(target)
    lml.backward()
    # gpytorch stores softplus-raw lengthscales: d/d ls = d/d raw / sigmoid(raw)
    g1 = k1.raw_lengthscale.grad / torch.sigmoid(k1.raw_lengthscale)
    g2 = k2.raw_lengthscale.grad / torch.sigmoid(k2.raw_lengthscale)
    grads = [float(g.detach()) for g in (g1, g2, s2.grad)]
    return float(lml.detach()), np.array(grads)


def test_lml_and_gradient_agree_with_gpytorch(getkey, x64):
    grid = (jnp.linspace(0, 1, 12), jnp.linspace(0, 2, 10))
    y = jax.random.normal(getkey(), (12, 10))

    def lml(theta):
        return GridGP(grid, (SquaredExponential(theta[0]), Matern52(theta[1])), noise=theta[2]).log_marginal_likelihood(y)

    theta = jnp.array([0.3, 0.5, 0.2])
    value, grad = jax.jit(jax.value_and_grad(lml))(theta)
    ref_value, ref_grad = _gpytorch_lml(grid, y, 0.3, 0.5, 0.2)
    np.testing.assert_allclose(value, ref_value, rtol=1e-8)  # GPyTorch clamps/jitters its eigenvalues
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-6)
