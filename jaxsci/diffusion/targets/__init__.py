"""Analytic diffusion targets: exact densities, scores and denoisers at every noise level."""

from ._gaussian import Gaussian as Gaussian
from ._mixture import GaussianMixture as GaussianMixture

__all__ = [
    "Gaussian",
    "GaussianMixture",
]
