"""kernels.resize."""
