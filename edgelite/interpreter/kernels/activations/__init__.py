"""kernels.activations."""
