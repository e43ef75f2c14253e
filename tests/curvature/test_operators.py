"""Curvature operators against dense float64 references (`jax.hessian`, explicit J^T H J)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import pytest
from jax.flatten_util import ravel_pytree

from ._problems import dense, ce_loss, classification_batch, cross_entropy, dense_hessian, mlp, mlp_params, random_like
from jaxsci.curvature import GGN, Categorical, EmpiricalFisher, Fisher, Gaussian, Hessian

pytestmark = pytest.mark.usefixtures("x64")


def _flat(tree):
    return ravel_pytree(tree)[0]


@pytest.fixture(scope="module")
def problem():
    with jax.enable_x64(True):
        params = mlp_params(jax.random.key(1))
        batch = classification_batch(jax.random.key(2))
    return params, batch


@pytest.fixture(scope="module")
def dense_h(problem):
    with jax.enable_x64(True):
        return dense_hessian(ce_loss, *problem)


def test_hessian_matches_dense_jax_hessian(problem, dense_h, getkey):
    params, batch = problem
    H = Hessian(ce_loss, params, batch)
    assert 1000 <= dense_h.shape[0] <= 2000
    assert jnp.max(jnp.abs(dense(H) - dense_h)) < 1e-10
    v = random_like(getkey(), params)
    assert jnp.allclose(H.quadratic_form(v), _flat(v) @ dense_h @ _flat(v), rtol=1e-10)
    # as a lineax operator: tags, structure and jit of the product
    assert lx.is_symmetric(H) and not lx.is_positive_semidefinite(H)
    jitted = jax.jit(lambda op, u: op.mv(u))(H, v)
    assert jnp.allclose(_flat(jitted), dense_h @ _flat(v), atol=1e-10)


def test_ggn_matches_explicit_jacobian_product(problem):
    params, (x, y) = problem
    flat, unravel = ravel_pytree(params)
    out = mlp(params, x)
    J = jax.jacfwd(lambda f: mlp(unravel(f), x).reshape(-1))(flat)  # (N*C, d)
    HL = jax.hessian(lambda o: cross_entropy(o.reshape(out.shape), y))(out.reshape(-1))
    reference = J.T @ HL @ J
    G = GGN(mlp, cross_entropy, params, (x, y))
    assert jnp.max(jnp.abs(dense(G) - reference)) < 1e-10
    assert lx.is_positive_semidefinite(G)
    # exact categorical Fisher equals the GGN of softmax cross-entropy
    F = Fisher(mlp, Categorical(), params, (x, y))
    assert jnp.max(jnp.abs(dense(F) - reference)) < 1e-10


def test_linear_model_squared_loss_hessian_equals_ggn(getkey):
    params = {"w": jax.random.normal(getkey(), (6, 3)), "b": jnp.zeros(3)}
    x, y = jax.random.normal(getkey(), (20, 6)), jax.random.normal(getkey(), (20, 3))
    model = lambda p, x: x @ p["w"] + p["b"]
    mse = lambda f, t: 0.5 * jnp.mean(jnp.sum((f - t) ** 2, axis=-1))
    H = dense(Hessian(lambda p, b: mse(model(p, b[0]), b[1]), params, (x, y)))
    G = dense(GGN(model, mse, params, (x, y)))
    F = dense(Fisher(model, Gaussian(1.0), params, (x, y)))
    assert jnp.max(jnp.abs(H - G)) < 1e-12
    assert jnp.max(jnp.abs(F - G)) < 1e-12  # Gaussian Fisher = GGN of 1/2 squared loss


def test_quadratic_forms_and_linearised_products(problem, getkey):
    params, batch = problem
    v = random_like(getkey(), params)
    b2 = classification_batch(getkey(), 5)
    for op in (
        Hessian(ce_loss, params, [batch, b2]),
        GGN(mlp, cross_entropy, params, [batch, b2]),
        Fisher(mlp, Categorical(), params, batch),
        Fisher(mlp, Categorical(), params, [batch, b2], key=getkey(), num_samples=3),
        EmpiricalFisher(mlp, Categorical(), params, [batch, b2]),
    ):
        av, qf, lin = jax.jit(lambda o, u: (o.mv(u), o.quadratic_form(u), o.linearise()(u)))(op, v)
        av = _flat(av)
        assert jnp.allclose(qf, jnp.vdot(_flat(v), av), rtol=1e-10), type(op).__name__
        # linearise(): the primal pass done once, the same products
        assert jnp.allclose(_flat(lin), av, rtol=1e-10, atol=1e-14), type(op).__name__


def test_empirical_fisher_is_mean_outer_product_of_per_example_gradients(problem):
    params, (x, y) = problem
    flat, unravel = ravel_pytree(params)
    per_example = lambda f: Categorical().nll(mlp(unravel(f), x), y)
    grads = jax.jacrev(per_example)(flat)  # (N, d)
    reference = grads.T @ grads / x.shape[0]
    E = EmpiricalFisher(mlp, Categorical(), params, (x, y))
    assert jnp.max(jnp.abs(dense(E) - reference)) < 1e-10


def test_monte_carlo_fisher_approaches_exact_fisher(problem, getkey):
    params, batch = problem
    v = random_like(getkey(), params)
    exact = _flat(Fisher(mlp, Categorical(), params, batch).mv(v))
    mv = jax.jit(lambda op: op.mv(v))
    mc = Fisher(mlp, Categorical(), params, batch, key=getkey(), num_samples=4000)
    err = jnp.linalg.norm(_flat(mv(mc)) - exact) / jnp.linalg.norm(exact)
    assert err < 0.05  # Monte-Carlo error ~ 1/sqrt(4000 * 16 examples)
    few = Fisher(mlp, Categorical(), params, batch, key=getkey(), num_samples=1)
    assert jnp.linalg.norm(_flat(mv(few)) - exact) / jnp.linalg.norm(exact) > err


def test_sequence_of_batches_is_size_weighted_average(getkey):
    params = mlp_params(getkey())
    b1, b2 = classification_batch(getkey(), n=6), classification_batch(getkey(), n=10)
    whole = tuple(jnp.concatenate([a, b]) for a, b in zip(b1, b2))
    v = random_like(getkey(), params)
    for make in (lambda b: Hessian(ce_loss, params, b), lambda b: GGN(mlp, cross_entropy, params, b),
                 lambda b: Fisher(mlp, Categorical(), params, b)):
        mv = jax.jit(lambda b, u: make(b).mv(u))
        assert jnp.allclose(_flat(mv([b1, b2], v)), _flat(mv(whole, v)), atol=1e-12)


def test_dict_equinox_and_nnx_parameterisations_agree(problem, getkey):
    from flax import nnx

    params, batch = problem
    v = random_like(getkey(), params)
    n = len(params) // 2

    class EqxMLP(eqx.Module):
        layers: list
        act: callable = jnp.tanh

        def __call__(self, x):
            for layer in self.layers[:-1]:
                x = self.act(jax.vmap(layer)(x))
            return jax.vmap(self.layers[-1])(x)

    keys = jax.random.split(getkey(), n)
    sizes = [params[f"w{i}"].shape for i in range(n)]
    model = EqxMLP([eqx.nn.Linear(a, b, key=k) for (a, b), k in zip(sizes, keys)])
    to_eqx = lambda p: eqx.tree_at(
        lambda m: [x for l in m.layers for x in (l.weight, l.bias)],
        model, [x for i in range(n) for x in (p[f"w{i}"].T, p[f"b{i}"])])
    eqx_loss = lambda m, b: cross_entropy(m(b[0]), b[1])
    eqx_v = eqx.filter(to_eqx(v), eqx.is_inexact_array)
    Hv_eqx = eqx.filter_jit(lambda m, u: Hessian(eqx_loss, m, batch).mv(u))(to_eqx(params), eqx_v)

    class NnxMLP(nnx.Module):
        def __init__(self):
            self.layers = nnx.List([nnx.Linear(a, b, rngs=nnx.Rngs(0), param_dtype=jnp.float64) for a, b in sizes])

        def __call__(self, x):
            for layer in self.layers[:-1]:
                x = jnp.tanh(layer(x))
            return self.layers[-1](x)

    graphdef, state = nnx.split(NnxMLP(), nnx.Param)
    for i in range(n):
        state["layers"][i]["kernel"][...] = params[f"w{i}"]
        state["layers"][i]["bias"][...] = params[f"b{i}"]
    nnx_v = jax.tree.map(lambda x: x, state)
    for i in range(n):
        nnx_v["layers"][i]["kernel"][...] = v[f"w{i}"]
        nnx_v["layers"][i]["bias"][...] = v[f"b{i}"]
    nnx_loss = lambda s, b: cross_entropy(nnx.merge(graphdef, s)(b[0]), b[1])
    Hv_nnx = jax.jit(lambda s_, u: Hessian(nnx_loss, s_, batch).mv(u))(state, nnx_v)

    Hv = jax.jit(lambda p, u: Hessian(ce_loss, p, batch).mv(u))(params, v)
    for i in range(n):
        assert jnp.allclose(Hv_eqx.layers[i].weight.T, Hv[f"w{i}"], atol=1e-12)
        assert jnp.allclose(Hv_eqx.layers[i].bias, Hv[f"b{i}"], atol=1e-12)
        assert jnp.allclose(Hv_nnx["layers"][i]["kernel"][...], Hv[f"w{i}"], atol=1e-12)
        assert jnp.allclose(Hv_nnx["layers"][i]["bias"][...], Hv[f"b{i}"], atol=1e-12)


def test_vmap_and_grad_of_products(problem, dense_h, getkey):
    params, batch = problem
    H = Hessian(ce_loss, params, batch)
    V = jax.vmap(lambda k: random_like(k, params))(jax.random.split(getkey(), 3))
    batched = jax.jit(jax.vmap(H.mv))(V)
    flatV = jax.vmap(_flat)(V)
    assert jnp.allclose(jax.vmap(_flat)(batched), flatV @ dense_h, atol=1e-10)
    v = random_like(getkey(), params)
    grad = jax.jit(jax.grad(H.quadratic_form))(v)  # d/dv v^T H v = 2 H v
    assert jnp.allclose(_flat(grad), 2 * dense_h @ _flat(v), atol=1e-10)


def test_bad_input_raises(problem):
    params, batch = problem
    H = Hessian(ce_loss, params, batch)
    with pytest.raises(ValueError, match="shaped like the parameters"):
        H.mv({"w0": jnp.ones(3)})
    bad = dict(params, w0=jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="shaped like the parameters"):
        H.mv(bad)
    with pytest.raises(ValueError, match="inputs, targets"):
        GGN(mlp, cross_entropy, params, batch[0]).mv(params)
    with pytest.raises(ValueError, match="num_samples"):
        Fisher(mlp, Categorical(), params, batch, num_samples=4)
