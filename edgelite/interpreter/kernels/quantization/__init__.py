"""QUANTIZE and DEQUANTIZE kernels."""
