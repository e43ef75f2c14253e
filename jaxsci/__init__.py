"""jaxsci: differentiable scientific computing for JAX.

Four pillars share one matrix-free core (`jaxsci.linalg`):

- `jaxsci.spectral`: Fourier pseudo-spectral PDE solvers with exponential integrators.
- `jaxsci.gp`: exact Gaussian-process inference on grids through Kronecker structure.
- `jaxsci.diffusion`: samplers, guidance and likelihoods for any denoiser.
- `jaxsci.curvature`: Hessian, GGN and Fisher products and estimators for any loss.
"""

from importlib.metadata import PackageNotFoundError, version as _version

from . import curvature as curvature
from . import diffusion as diffusion
from . import gp as gp
from . import linalg as linalg
from . import parallel as parallel
from . import spectral as spectral

try:
    __version__ = _version("jaxsci")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
