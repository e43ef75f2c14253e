"""The PDE library: one family per file."""

from ._burgers import Burgers as Burgers
from ._korteweg_de_vries import KortewegDeVries as KortewegDeVries
from ._kuramoto_sivashinsky import (
    KuramotoSivashinsky as KuramotoSivashinsky,
    KuramotoSivashinskyConservative as KuramotoSivashinskyConservative,
)
from ._linear import (
    Advection as Advection,
    AdvectionDiffusion as AdvectionDiffusion,
    Diffusion as Diffusion,
    Dispersion as Dispersion,
    HyperDiffusion as HyperDiffusion,
    Wave as Wave,
)
from ._navier_stokes import NavierStokes2D as NavierStokes2D, NavierStokes3D as NavierStokes3D
from ._pattern_formation import CahnHilliard as CahnHilliard, SwiftHohenberg as SwiftHohenberg
from ._reaction_diffusion import (
    AllenCahn as AllenCahn,
    FisherKPP as FisherKPP,
    GrayScott as GrayScott,
)
from ._schrodinger import (
    ComplexGinzburgLandau as ComplexGinzburgLandau,
    NonlinearSchrodinger as NonlinearSchrodinger,
)
