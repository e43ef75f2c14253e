"""Exact Gaussian-process inference on grids through Kronecker structure."""

from . import kernels as kernels
from ._fit import fit as fit
from ._gridgp import GridGP as GridGP
from ._pde_problem import PDEProblem as PDEProblem
from ._pde_solution import PDESolution as PDESolution
from ._pde_solve import solve_pde as solve_pde

__all__ = ["kernels", "GridGP", "fit", "PDEProblem", "PDESolution", "solve_pde"]
