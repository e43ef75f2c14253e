"""Curvature of any loss over any pytree: Hessian, GGN and Fisher products and estimators."""

from . import optim as optim
from ._base import AbstractCurvatureOperator as AbstractCurvatureOperator
from ._fisher import EmpiricalFisher as EmpiricalFisher, Fisher as Fisher
from ._ggn import GGN as GGN
from ._hessian import Hessian as Hessian
from ._likelihoods import (
    AbstractExactLikelihood as AbstractExactLikelihood,
    AbstractLikelihood as AbstractLikelihood,
    Categorical as Categorical,
    Gaussian as Gaussian,
)
from ._density import SpectralDensity as SpectralDensity, spectral_density as spectral_density
from ._eigenvalues import eigenvalues as eigenvalues
from ._trace import diagonal as diagonal, trace as trace
from ._inverse import MFAC as MFAC, damped_solve as damped_solve
from ._monitor import StabilityReport as StabilityReport, stability as stability

__all__ = [
    "AbstractCurvatureOperator",
    "AbstractExactLikelihood",
    "AbstractLikelihood",
    "Categorical",
    "EmpiricalFisher",
    "Fisher",
    "GGN",
    "Gaussian",
    "Hessian",
    "MFAC",
    "SpectralDensity",
    "StabilityReport",
    "damped_solve",
    "diagonal",
    "eigenvalues",
    "optim",
    "spectral_density",
    "stability",
    "trace",
]
