"""Diffusion samplers, guidance, likelihoods and analytic targets for any denoiser."""
