"""kernels.spectral."""
