"""kernels.matmul."""
