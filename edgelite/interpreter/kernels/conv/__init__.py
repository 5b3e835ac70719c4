"""kernels.conv."""
