"""kernels.pooling."""
