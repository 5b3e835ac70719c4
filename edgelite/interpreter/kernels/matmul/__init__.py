"""Matrix-product kernels: FULLY_CONNECTED and BATCH_MATMUL (float, integer, dynamic-range hybrid)."""
