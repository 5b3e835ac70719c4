"""kernels.quantization."""
