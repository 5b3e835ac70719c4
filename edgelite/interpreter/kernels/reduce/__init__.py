"""Reduction kernels: MEAN, SUM, REDUCE_*, ARG_MAX/ARG_MIN, CUMSUM, TOPK_V2 (float, integer)."""
