"""The interpreter's compute layer: primitives that many kernels share.

GEMM flavours (``float_gemm``; ``int_gemm`` on float BLAS; ``simd_gemm`` with one
module per instruction set, ``gemm_vnni`` and ``gemm_avx2``), patch matrices
(``patches``), window geometry (``conv_geometry``), fixed point and gemmlowp rounding
(``fixedpoint``, ``gemmlowp``, ``rounding``), lookup tables (``lut``), float32 helpers in
LiteRT's exact operation order (``float_order``), dynamic-range input quantization
(``dynamic_range``), the JIT decorator (``jit``) and the thread policy (``threads``).

Nothing here imports a kernel (``tests/test_layering.py`` checks it); kernels in
``edgelite.interpreter.kernels`` build on these.
"""
