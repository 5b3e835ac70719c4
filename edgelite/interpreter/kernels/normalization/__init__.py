"""kernels.normalization."""
