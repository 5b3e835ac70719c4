"""Tensor creation and type kernels: CAST, BITCAST, DENSIFY, FILL, ZEROS_LIKE, RANGE, ONE_HOT."""
