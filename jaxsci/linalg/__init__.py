"""Structured linear operators, Krylov methods and stochastic estimators."""
