"""Elementwise kernels: arithmetic, comparison, logical and unary operators (float and integer)."""
