"""Activation kernels: RELU family, LOGISTIC, TANH, ELU, GELU, HARD_SWISH, LEAKY_RELU, PRELU, SOFTMAX, LOG_SOFTMAX (float, int8/uint8, int16)."""
