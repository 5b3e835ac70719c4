"""kernels.movement."""
