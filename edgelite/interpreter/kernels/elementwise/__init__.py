"""kernels.elementwise."""
