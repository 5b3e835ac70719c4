"""kernels.reduce."""
