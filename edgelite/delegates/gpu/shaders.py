"""WGSL source assembly for the GPU delegate's compute shaders.

Every shader is one thread per output element (or per row for reductions), 64 threads
per workgroup, with the tensor shapes *baked in* as constants: a partition is built
for one set of shapes (``allocate_tensors`` rebuilds it after a resize), so loops have
constant bounds and index arithmetic needs no uniform buffer. Identical sources share
one compiled pipeline.

Storage type ``T`` is ``f32``, or ``f16`` in fp16 mode (``enable f16;``); arithmetic
is done in ``f32`` either way (values are widened on load and narrowed on store), so
fp16 mode loses precision in storage only.

Example:
    >>> src = kernel("f32", [("x", "T", "read"), ("y", "T", "read_write")], 10, "y[i] = x[i];")
    >>> "fn main" in src and "if (i >= 10u)" in src
    True
"""

from __future__ import annotations

import math

import numpy as np

WORKGROUP = 64
MAX_GROUPS = 65535  # WebGPU's default maxComputeWorkgroupsPerDimension


def grid(n: int) -> tuple[int, int]:
    """Workgroups ``(x, y)`` covering ``n`` threads within the per-dimension limit."""
    groups = max(1, math.ceil(n / WORKGROUP))
    if groups <= MAX_GROUPS:
        return groups, 1
    return MAX_GROUPS, math.ceil(groups / MAX_GROUPS)


def f32(value: float) -> str:
    """A WGSL f32 literal that round-trips ``value`` as float32 (inf/NaN refused upstream)."""
    v = float(np.float32(value))
    if math.isinf(v):
        return "3.4028234663852886e38" if v > 0 else "-3.4028234663852886e38"
    return f"{v:.9e}"


def kernel(T: str, bindings: list[tuple[str, str, str]], n: int, body: str, helpers: str = "") -> str:
    """A compute shader over ``n`` threads; ``i`` is the thread's index in ``body``.

    ``bindings``: ``(name, element type, "read" | "read_write")`` in binding order;
    element type ``"T"`` is the storage type, or ``"i32"``/``"u32"``.
    """
    gx, _ = grid(n)
    lines = []
    if T == "f16":
        lines.append("enable f16;")
    lines.append(f"alias T = {T};")
    for k, (name, elem, access) in enumerate(bindings):
        lines.append(f"@group(0) @binding({k}) var<storage, {access}> {name}: array<{elem}>;")
    lines.append(HELPERS)
    lines.append(helpers)
    lines.append(f"@compute @workgroup_size({WORKGROUP})")
    lines.append("fn main(@builtin(global_invocation_id) gid: vec3<u32>) {")
    lines.append(f"  let i = gid.x + gid.y * {gx * WORKGROUP}u;")
    lines.append(f"  if (i >= {n}u) {{ return; }}")
    lines.append(body)
    lines.append("}")
    return "\n".join(lines)


# Shared functions (unused ones cost nothing: WGSL compilers drop them).
HELPERS = """
fn tanh_s(x: f32) -> f32 {
  // tanh without exp overflow for large |x|
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn sigmoid(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn erf_s(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return sign(x) * y;
}
fn expm1_s(x: f32) -> f32 {
  if (abs(x) < 1e-3) { return x + 0.5 * x * x + x * x * x / 6.0; }
  return exp(x) - 1.0;
}
"""


def clamp_expr(expr: str, lo: float, hi: float) -> str:
    """``expr`` clamped to a fused activation's range (no-op for NONE)."""
    if lo == -math.inf and hi == math.inf:
        return expr
    if hi == math.inf:
        return f"max({expr}, {f32(lo)})"
    return f"clamp({expr}, {f32(lo)}, {f32(hi)})"


def coords(var: str, shape: tuple[int, ...], prefix: str = "c") -> str:
    """WGSL lines splitting flat index ``var`` into ``prefix0..`` over ``shape`` (row-major)."""
    lines = [f"  var r_{prefix} = {var};"]
    for d in range(len(shape) - 1, -1, -1):
        lines.append(f"  let {prefix}{d} = r_{prefix} % {max(shape[d], 1)}u; r_{prefix} = r_{prefix} / {max(shape[d], 1)}u;")
    return "\n".join(lines)


def strides(shape: tuple[int, ...]) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def offset_expr(prefix: str, in_shape: tuple[int, ...], out_rank: int) -> str:
    """Flat offset into a tensor of ``in_shape`` broadcast against coordinates ``prefix*``."""
    shape = (1,) * (out_rank - len(in_shape)) + tuple(in_shape)
    st = strides(shape)
    terms = [f"{prefix}{d} * {st[d]}u" for d in range(out_rank) if shape[d] != 1]
    return " + ".join(terms) if terms else "0u"
