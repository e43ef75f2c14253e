"""Fourier pseudo-spectral PDE solvers with exponential integrators."""

from ._domain import PeriodicDomain as PeriodicDomain
from ._ensemble import ensemble_rollout as ensemble_rollout
from ._etdrk import ETDRK as ETDRK
from ._initial import (
    gaussian_random_field as gaussian_random_field,
    random_fourier_series as random_fourier_series,
)
from ._metrics import (
    energy_spectrum as energy_spectrum,
    enstrophy_spectrum as enstrophy_spectrum,
    relative_l2 as relative_l2,
)
from ._pde import AbstractPDE as AbstractPDE
from ._phi import phi_functions as phi_functions
from ._rollout import rollout as rollout
from ._stepper import AbstractSpectralStepper as AbstractSpectralStepper
from .pdes import (
    Advection as Advection,
    AdvectionDiffusion as AdvectionDiffusion,
    AllenCahn as AllenCahn,
    Burgers as Burgers,
    CahnHilliard as CahnHilliard,
    ComplexGinzburgLandau as ComplexGinzburgLandau,
    Diffusion as Diffusion,
    Dispersion as Dispersion,
    FisherKPP as FisherKPP,
    GrayScott as GrayScott,
    HyperDiffusion as HyperDiffusion,
    KortewegDeVries as KortewegDeVries,
    KuramotoSivashinsky as KuramotoSivashinsky,
    KuramotoSivashinskyConservative as KuramotoSivashinskyConservative,
    NavierStokes2D as NavierStokes2D,
    NavierStokes3D as NavierStokes3D,
    NonlinearSchrodinger as NonlinearSchrodinger,
    SwiftHohenberg as SwiftHohenberg,
    Wave as Wave,
)

__all__ = [
    "AbstractPDE",
    "AbstractSpectralStepper",
    "Advection",
    "AdvectionDiffusion",
    "AllenCahn",
    "Burgers",
    "CahnHilliard",
    "ComplexGinzburgLandau",
    "Diffusion",
    "Dispersion",
    "ETDRK",
    "FisherKPP",
    "GrayScott",
    "HyperDiffusion",
    "KortewegDeVries",
    "KuramotoSivashinsky",
    "KuramotoSivashinskyConservative",
    "NavierStokes2D",
    "NavierStokes3D",
    "NonlinearSchrodinger",
    "PeriodicDomain",
    "SwiftHohenberg",
    "Wave",
    "energy_spectrum",
    "ensemble_rollout",
    "enstrophy_spectrum",
    "gaussian_random_field",
    "phi_functions",
    "random_fourier_series",
    "relative_l2",
    "rollout",
]
