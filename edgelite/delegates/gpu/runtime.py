"""``GpuPartition``: one delegated partition on a WebGPU device.

Built once per ``allocate_tensors`` (``prepare_partition``):

1. each operator's builder (``edgelite.delegates.gpu.ops``) records dispatches on
   *virtual* buffers: weights and other constants, the partition's inputs, and
   activations (RESHAPE-like operators alias their input's buffer instead of copying);
2. constants are converted to the storage type and uploaded once;
3. activations get physical buffers from a pool: a buffer whose last reader has been
   recorded goes back to the pool and is reused by a later tensor of a fitting size
   (the GPU-side counterpart of the arena plan); partition inputs and outputs keep
   their own buffers;
4. pipelines (cached per WGSL source in the delegate, shared by partitions) and bind
   groups are created.

Per ``invoke``: inputs written with ``queue.write_buffer``, every dispatch recorded in
one compute pass, the outputs copied into one persistent ``MAP_READ`` buffer, *one*
``queue.submit``, then one map + read back. No readback between operators.

Example:
    >>> # GpuPartition(delegate, partition) is created by GpuDelegate.prepare_partition
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgelite.delegates.gpu.device import import_wgpu
from edgelite.delegates.gpu.shaders import grid
from edgelite.errors import DelegateError
from edgelite.interpreter.delegation import Partition, PartitionKernel


def _pad4(nbytes: int) -> int:
    return max(4, (nbytes + 3) // 4 * 4)


@dataclass(eq=False)
class VBuf:
    """A virtual buffer: what a dispatch binds before physical buffers are assigned."""

    id: int
    nbytes: int
    kind: str  # "const", "input", "act"
    data: bytes | None = None  # for constants
    pinned: bool = False  # partition inputs/outputs: one buffer for the whole run
    first: int = -1
    last: int = -1
    phys: object = None


@dataclass
class Dispatch:
    source: str
    bindings: list[VBuf]
    n: int
    label: str
    pipeline: object = None
    bind_group: object = None
    groups: tuple[int, int] = (1, 1)


@dataclass
class Builder:
    """What operator builders use to record their work (see ``ops``)."""

    T: str  # WGSL storage type: "f32" or "f16"
    np_type: type
    limits: dict
    vbufs: list[VBuf] = field(default_factory=list)
    tensors: dict[int, VBuf] = field(default_factory=dict)  # tensor index -> buffer
    dispatches: list[Dispatch] = field(default_factory=list)
    weight_bytes: int = 0

    def _new(self, nbytes: int, kind: str, data: bytes | None = None) -> VBuf:
        v = VBuf(id=len(self.vbufs), nbytes=_pad4(nbytes), kind=kind, data=data)
        self.vbufs.append(v)
        return v

    def const(self, array: np.ndarray, elem: str = "T") -> VBuf:
        """Upload ``array`` once (as the storage type, or as ``f32``/``i32``/``u32``)."""
        dtype = {"T": self.np_type, "f32": np.float32, "i32": np.int32, "u32": np.uint32}[elem]
        raw = np.ascontiguousarray(np.asarray(array).astype(dtype, copy=False)).tobytes()
        raw += b"\0" * (_pad4(len(raw)) - len(raw))
        self.weight_bytes += len(raw)
        return self._new(len(raw), "const", raw)

    def tensor(self, t) -> VBuf:
        """The buffer holding ``TensorInfo`` ``t`` (constants are uploaded on first use)."""
        v = self.tensors.get(t.index)
        if v is None:
            if t.data is None:
                raise DelegateError(f"GPU delegate: tensor {t.index} ({t.name!r}) is read before it is written")
            v = self.const(dequantized(t))
            self.tensors[t.index] = v
        return v

    def input(self, t) -> VBuf:
        """The buffer of partition input ``t`` (written once per invoke)."""
        n = int(np.prod(t.shape, dtype=np.int64))
        v = self._new(n * np.dtype(self.np_type).itemsize, "input")
        v.pinned = True
        self.tensors[t.index] = v
        return v

    def output(self, t) -> VBuf:
        """A new activation buffer for output ``TensorInfo`` ``t``."""
        n = int(np.prod(t.shape, dtype=np.int64))
        v = self._new(n * np.dtype(self.np_type).itemsize, "act")
        self.tensors[t.index] = v
        return v

    def alias(self, out, src) -> None:
        """``out`` shares ``src``'s buffer (same elements in the same order: RESHAPE & co)."""
        self.tensors[out.index] = self.tensor(src)

    def fake_quant(self, buf: VBuf, t) -> None:
        """Round ``buf`` (tensor ``t``'s real values) to ``t``'s int8/uint8 grid, in place."""
        from edgelite.delegates.gpu.shaders import f32, kernel

        scale, zp = float(t.quant.scale[0]), int(t.quant.zero_point[0])
        info = np.iinfo(t.dtype)
        n = int(np.prod(t.shape, dtype=np.int64))
        # TfLiteRound: half away from zero
        body = f"""  let v = f32(y[i]) / {f32(scale)};
  let q = clamp(sign(v) * floor(abs(v) + 0.5) + {zp}.0, {info.min}.0, {info.max}.0);
  y[i] = T((q - {zp}.0) * {f32(scale)});"""
        self.dispatch(kernel(self.T, [("y", "T", "read_write")], n, body), [buf], n, f"fake-quant {t.name}")

    def dispatch(self, source: str, bindings: list[VBuf], n: int, label: str) -> None:
        """Record one dispatch of ``source`` over ``n`` threads (outputs are written bindings)."""
        for v in bindings:
            if v.kind != "const":
                if v.first < 0:
                    v.first = len(self.dispatches)
                v.last = len(self.dispatches)
        self.dispatches.append(Dispatch(source, list(bindings), n, label))


def dequantized(t) -> np.ndarray:
    """A constant as float32: float16 widened, int8/uint8 weights dequantized (per channel too)."""
    data = np.asarray(t.data)
    if data.dtype == np.float32:
        return data
    if data.dtype == np.float16:
        return data.astype(np.float32)
    if t.quant is not None and data.dtype in (np.int8, np.uint8, np.int16, np.int32):
        q = t.quant
        shape = [1] * data.ndim
        if q.per_channel:
            shape[q.quantized_dimension] = -1
        scale = q.scale.astype(np.float32).reshape(shape)
        zp = q.zero_point.astype(np.float32).reshape(shape)
        return ((data.astype(np.float32) - zp) * scale).astype(np.float32)
    return data.astype(np.float32)


def _quant_of(t) -> tuple[float, int, int, int] | None:
    """(scale, zero point, min, max) of a quantized boundary tensor, else None."""
    if t.dtype == np.float32:
        return None
    info = np.iinfo(t.dtype)
    return float(t.quant.scale[0]), int(t.quant.zero_point[0]), int(info.min), int(info.max)


class GpuPartition(PartitionKernel):
    """One partition compiled for the delegate's device (see the module docstring)."""

    def __init__(self, delegate, partition: Partition) -> None:
        from edgelite.delegates.gpu.ops import build

        wgpu = import_wgpu()
        self.wgpu = wgpu
        self.device = delegate.gpu.device
        self.np_type = np.float16 if delegate.fp16 else np.float32
        b = Builder(T="f16" if delegate.fp16 else "f32", np_type=self.np_type, limits=delegate.gpu.limits)
        self.in_bufs = []
        self.in_quant = [_quant_of(t) for t in partition.inputs]
        self.out_quant = [_quant_of(t) for t in partition.outputs]
        for t in partition.inputs:
            self.in_bufs.append(b.input(t))
        for ctx in partition.nodes:
            build(ctx, b)
        self.out_bufs = []
        for t in partition.outputs:
            v = b.tensors.get(t.index)
            if v is None:
                raise DelegateError(f"GPU delegate: partition output {t.index} ({t.name!r}) was never written")
            v.pinned = True
            self.out_bufs.append((v, int(np.prod(t.shape, dtype=np.int64))))
        self.builder = b
        self._assign_buffers(b)
        self._compile(delegate.gpu.pipelines, b)
        # Readback: one persistent MAP_READ buffer holding every output back to back.
        self.out_offsets = []
        off = 0
        for v, n in self.out_bufs:
            self.out_offsets.append(off)
            off += _pad4(n * np.dtype(self.np_type).itemsize)
        self.readback_bytes = off
        self.readback = self.device.create_buffer(size=max(off, 4), usage=wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST)
        self.upload_bytes = sum(v.nbytes for v in self.in_bufs)
        self._staging = [np.zeros(v.nbytes // np.dtype(self.np_type).itemsize, self.np_type) for v in self.in_bufs]
        self.invokes = 0

    # -- build ---------------------------------------------------------------------------------

    def _assign_buffers(self, b: Builder) -> None:
        usage = self.wgpu.BufferUsage
        self.physical_bytes = 0
        for v in b.vbufs:
            if v.kind == "const":
                v.phys = self.device.create_buffer_with_data(data=v.data, usage=usage.STORAGE)
                v.data = None
        n = len(b.dispatches)
        starts: dict[int, list[VBuf]] = {}
        ends: dict[int, list[VBuf]] = {}
        for v in b.vbufs:
            if v.kind == "const" or v.first < 0 and not v.pinned:
                continue
            if v.pinned:
                v.first, v.last = 0, n
            starts.setdefault(v.first, []).append(v)
            ends.setdefault(v.last, []).append(v)
        free: list[tuple[int, object]] = []
        flags = usage.STORAGE | usage.COPY_SRC | usage.COPY_DST
        for d in range(n + 1):
            for v in starts.get(d, ()):
                fit = [k for k, (size, _) in enumerate(free) if v.nbytes <= size <= 2 * v.nbytes]
                if fit and not v.pinned:
                    k = min(fit, key=lambda k: free[k][0])
                    v.phys = free.pop(k)[1]
                else:
                    v.phys = self.device.create_buffer(size=v.nbytes, usage=flags)
                    self.physical_bytes += v.nbytes
            for v in ends.get(d, ()):
                if not v.pinned:
                    free.append((v.phys.size, v.phys))

    def _compile(self, cache: dict, b: Builder) -> None:
        new = 0
        for disp in b.dispatches:
            pipe = cache.get(disp.source)
            if pipe is None:
                try:
                    module = self.device.create_shader_module(code=disp.source)
                    pipe = self.device.create_compute_pipeline(layout="auto", compute={"module": module, "entry_point": "main"})
                except self.wgpu.GPUError as e:
                    raise DelegateError(f"GPU delegate: shader for {disp.label} failed to compile: {e}") from None
                cache[disp.source] = pipe
                new += 1
            disp.pipeline = pipe
            disp.groups = grid(disp.n)
            entries = [
                {"binding": k, "resource": {"buffer": v.phys, "offset": 0, "size": v.nbytes}}
                for k, v in enumerate(disp.bindings)
            ]
            disp.bind_group = self.device.create_bind_group(layout=pipe.get_bind_group_layout(0), entries=entries)
        self.new_pipelines = new

    # -- run -----------------------------------------------------------------------------------

    def invoke(self, inputs, outputs) -> None:
        queue = self.device.queue
        for v, stage, arr, q in zip(self.in_bufs, self._staging, inputs, self.in_quant):
            flat = arr.reshape(-1)
            if q is None:
                stage[: flat.size] = flat
            else:  # int8/uint8 in: its real values
                stage[: flat.size] = (flat.astype(np.float32) - q[1]) * q[0]
            queue.write_buffer(v.phys, 0, stage)
        enc = self.device.create_command_encoder()
        cpass = enc.begin_compute_pass()
        for disp in self.builder.dispatches:
            cpass.set_pipeline(disp.pipeline)
            cpass.set_bind_group(0, disp.bind_group)
            cpass.dispatch_workgroups(disp.groups[0], disp.groups[1], 1)
        cpass.end()
        item = np.dtype(self.np_type).itemsize
        for (v, n), off in zip(self.out_bufs, self.out_offsets):
            enc.copy_buffer_to_buffer(v.phys, 0, self.readback, off, _pad4(n * item))
        queue.submit([enc.finish()])
        self.readback.map_sync(self.wgpu.MapMode.READ)
        try:
            raw = np.frombuffer(self.readback.read_mapped(copy=False), np.uint8)
            for (v, n), off, out, q in zip(self.out_bufs, self.out_offsets, outputs, self.out_quant):
                vals = raw[off : off + n * item].view(self.np_type)
                if q is None:
                    out.reshape(-1)[...] = vals
                else:  # already on the int8 grid: recover the integers
                    out.reshape(-1)[...] = np.clip(np.rint(vals.astype(np.float32) / q[0]) + q[1], q[2], q[3])
        finally:
            self.readback.unmap()
        self.invokes += 1

    def stats(self) -> dict:
        return {
            "dispatches_per_invoke": len(self.builder.dispatches),
            "submissions_per_invoke": 1,
            "upload_bytes_per_invoke": self.upload_bytes,
            "readback_bytes_per_invoke": self.readback_bytes,
            "weight_bytes": self.builder.weight_bytes,
            "activation_buffer_bytes": self.physical_bytes,
            "storage": self.builder.T,
        }

    def close(self) -> None:
        for v in self.builder.vbufs:
            if v.phys is not None:
                v.phys.destroy()
                v.phys = None
        self.readback.destroy()
