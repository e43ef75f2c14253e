"""Fourier pseudo-spectral PDE solvers with exponential integrators."""
