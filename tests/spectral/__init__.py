"""Tests of jaxsci.spectral."""
