"""Resize kernels: RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR (float, integer)."""
