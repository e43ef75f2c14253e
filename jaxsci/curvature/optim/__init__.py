"""Second-order optimisers as `optax.GradientTransformation`s (pass `hvp_fn=` to `update`)."""

from ._adahessian import AdaHessianState as AdaHessianState, adahessian as adahessian
from ._sophia import SophiaState as SophiaState, sophia_h as sophia_h

__all__ = [
    "AdaHessianState",
    "SophiaState",
    "adahessian",
    "sophia_h",
]
