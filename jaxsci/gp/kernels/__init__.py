"""One-dimensional stationary kernels with closed-form derivatives."""

from ._base import AbstractKernel as AbstractKernel
from ._matern12 import Matern12 as Matern12
from ._matern32 import Matern32 as Matern32
from ._matern52 import Matern52 as Matern52
from ._matern_cosine_mixture import MaternCosineMixture as MaternCosineMixture
from ._periodic import Periodic as Periodic
from ._spectral_mixture import SpectralMixture as SpectralMixture
from ._squared_exponential import SquaredExponential as SquaredExponential

__all__ = [
    "AbstractKernel",
    "SquaredExponential",
    "Matern12",
    "Matern32",
    "Matern52",
    "Periodic",
    "SpectralMixture",
    "MaternCosineMixture",
]
