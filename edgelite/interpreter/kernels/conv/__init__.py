"""Convolution kernels: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV (float, int8/uint8/int16x8, dynamic-range hybrid)."""
