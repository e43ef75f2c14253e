"""Structured linear operators, Krylov methods and stochastic estimators."""

from ._cg import cg as cg
from ._diagonal import diagonal as diagonal
from ._eigsh import eigsh as eigsh
from ._kronecker import Kronecker as Kronecker
from ._kronecker_plus_diagonal import KroneckerPlusDiagonal as KroneckerPlusDiagonal
from ._lanczos import lanczos as lanczos
from ._slq import slq as slq, slq_quadrature as slq_quadrature
from ._trace import trace as trace
from ._fourier import FourierMultiplier as FourierMultiplier
from ._kronecker_sum import KroneckerSum as KroneckerSum

__all__ = [
    "FourierMultiplier",
    "Kronecker",
    "KroneckerPlusDiagonal",
    "KroneckerSum",
    "cg",
    "diagonal",
    "eigsh",
    "lanczos",
    "slq",
    "slq_quadrature",
    "trace",
]
