"""One-dimensional stationary kernels with closed-form derivatives."""

from ._base import AbstractKernel as AbstractKernel
