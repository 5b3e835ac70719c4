"""Spectral kernels: RFFT2D (float)."""
