"""Exact Gaussian-process inference on grids through Kronecker structure."""
