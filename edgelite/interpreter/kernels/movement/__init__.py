"""Data-movement kernels: reshape, concatenation/split, slicing, gather, pad, transpose/reverse, space/depth/batch, tile, where (any dtype; quantized tensors keep their parameters)."""
