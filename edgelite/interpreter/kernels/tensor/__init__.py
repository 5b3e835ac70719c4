"""kernels.tensor."""
