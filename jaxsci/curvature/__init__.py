"""Curvature of any loss over any pytree: Hessian, GGN and Fisher products and estimators."""
