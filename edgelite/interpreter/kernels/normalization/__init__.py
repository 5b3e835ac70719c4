"""Normalization kernels: L2_NORMALIZATION (float, int8) and LOCAL_RESPONSE_NORMALIZATION (float)."""
