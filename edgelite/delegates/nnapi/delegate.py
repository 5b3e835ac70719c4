"""``NnapiDelegate``: runs partitions of a model through Android's NNAPI (via ctypes).

Options, as LiteRT's NNAPI delegate names them (values may be strings):

* ``execution_preference``: ``undefined`` (default: NNAPI's own, fast single answer),
  ``low_power``, ``fast_single_answer``, ``sustained_speed`` (or -1, 0, 1, 2);
* ``accelerator_name``: compile for this NNAPI device only (``devices()`` lists them);
* ``disallow_nnapi_cpu`` (default true, as LiteRT): leave out ``nnapi-reference``, the
  runtime's CPU implementation, so that only real accelerators are used;
* ``allow_fp16``: let NNAPI compute float32 models in float16;
* ``max_number_delegated_partitions`` (default 3, as LiteRT; 0 = no limit);
* ``library``: path of the NNAPI library (default ``$EDGELITE_NNAPI_LIBRARY``, then
  ``libneuralnetworks.so``);
* edgelite's own: ``min_partition_size``, ``validate``, ``validate_tolerance``.

An operator is delegated when its lowering exists at the runtime's feature level (the
lower of the runtime's and the target devices') and, with target devices, when
``ANeuralNetworksModel_getSupportedOperationsForDevices`` says the devices support it.
Each partition is compiled once in ``prepare_partition`` and reused by every invoke;
``close()`` frees its NNAPI model and compilation.

Example:
    >>> import edgelite
    >>> try:
    ...     nnapi = edgelite.load_delegate("nnapi", {"execution_preference": "sustained_speed"})
    ... except edgelite.errors.DelegateError as e:
    ...     print(str(e).split(":")[0])    # on any machine that is not Android
    NNAPI is not available on this system
"""

from __future__ import annotations

import numpy as np

from edgelite.delegates.base import BaseDelegate, check_keys, parse_bool, parse_float, parse_int
from edgelite.delegates.nnapi import abi
from edgelite.delegates.nnapi.compiled import CompiledModel, supported_operations
from edgelite.delegates.nnapi.library import Device, NnapiLibrary
from edgelite.delegates.nnapi.lowering import Lowering
from edgelite.delegates.nnapi.operands import Unsupported
from edgelite.errors import DelegateError
from edgelite.interpreter.delegation import Partition, PartitionKernel
from edgelite.interpreter.kernels.base import OpContext

REFERENCE_DEVICE = "nnapi-reference"
PREFERENCES = {
    "undefined": -1,
    "low_power": int(abi.PreferenceCode.LOW_POWER),
    "fast_single_answer": int(abi.PreferenceCode.FAST_SINGLE_ANSWER),
    "sustained_speed": int(abi.PreferenceCode.SUSTAINED_SPEED),
}
_KEYS = {
    "execution_preference", "accelerator_name", "disallow_nnapi_cpu", "allow_fp16",
    "max_number_delegated_partitions", "library", "min_partition_size", "validate", "validate_tolerance",
}


def parse_preference(value) -> int:
    text = str(value).strip().lower()
    if text in PREFERENCES:
        return PREFERENCES[text]
    if text.lstrip("-").isdigit() and int(text) in PREFERENCES.values():
        return int(text)
    raise DelegateError(
        f"NNAPI delegate option execution_preference={value!r}: expected one of {', '.join(PREFERENCES)} (or -1..2)"
    )


class NnapiDelegate(BaseDelegate):
    """Android NNAPI as an edgelite delegate (see the module docstring for the options).

    Raises:
        DelegateError: "NNAPI is not available on this system: ..." where the library is
            missing; an unknown ``accelerator_name``; a bad option value.
    """

    name = "NNAPI"

    def __init__(
        self,
        *,
        library: str | None = None,
        execution_preference: str | int = "undefined",
        accelerator_name: str | None = None,
        disallow_nnapi_cpu: bool = True,
        allow_fp16: bool = False,
        max_number_delegated_partitions: int = 3,
        min_partition_size: int = 1,
        validate: bool = False,
        validate_tolerance: float | None = None,
    ) -> None:
        super().__init__(
            max_delegated_partitions=max_number_delegated_partitions,
            min_partition_size=min_partition_size,
            validate=validate,
            validate_tolerance=validate_tolerance,
        )
        self.preference = parse_preference(execution_preference)
        self.allow_fp16 = bool(allow_fp16)
        self.lib = NnapiLibrary.load(library)
        self.devices: list[Device] = self.lib.devices()
        self.targets: list[Device] | None = None  # None: let the runtime choose (Compilation_create)
        if accelerator_name:
            found = [d for d in self.devices if d.name == accelerator_name]
            if not found:
                have = ", ".join(d.name for d in self.devices) or "none (feature level < 29 has no device API)"
                raise DelegateError(f"NNAPI accelerator {accelerator_name!r} not found; devices: {have}")
            self.targets = found
        elif disallow_nnapi_cpu and self.devices:
            self.targets = [d for d in self.devices if d.name != REFERENCE_DEVICE]
        levels = [self.lib.feature_level] + [d.feature_level for d in self.targets or []]
        self.feature_level = min(levels)

    @classmethod
    def from_options(cls, options: dict) -> "NnapiDelegate":
        """Build from a LiteRT-style option dict (values may be strings)."""
        check_keys(options, _KEYS, "NNAPI")
        tol = options.get("validate_tolerance")
        return cls(
            library=options.get("library") or None,
            execution_preference=options.get("execution_preference", "undefined"),
            accelerator_name=options.get("accelerator_name") or None,
            disallow_nnapi_cpu=parse_bool(options.get("disallow_nnapi_cpu", True), "disallow_nnapi_cpu"),
            allow_fp16=parse_bool(options.get("allow_fp16", False), "allow_fp16"),
            max_number_delegated_partitions=parse_int(
                options.get("max_number_delegated_partitions", 3), "max_number_delegated_partitions", 0
            ),
            min_partition_size=parse_int(options.get("min_partition_size", 1), "min_partition_size", 1),
            validate=parse_bool(options.get("validate", False), "validate"),
            validate_tolerance=None if tol is None else parse_float(tol, "validate_tolerance"),
        )

    # ---- the Delegate contract ----
    def node_support(self, ctx: OpContext) -> str | None:
        """None when NNAPI can run the operator here, else why not (one line)."""
        if self.targets is not None and not self.targets:
            return "no NNAPI accelerator besides nnapi-reference (disallow_nnapi_cpu is set)"
        query = self.targets is not None and self.lib.has("ANeuralNetworksModel_getSupportedOperationsForDevices")
        lw = Lowering(self.feature_level, with_values=query)
        try:
            lw.lower(ctx)
        except Unsupported as e:
            return str(e)
        if any(0 in tuple(t.shape) for t in list(ctx.inputs) + list(ctx.outputs) if t is not None):
            return "zero-sized tensor"
        if query and lw.model.operations:
            nn = lw.model
            written = {o for op in nn.operations for o in op.outputs}
            nn.inputs = [i for i, o in enumerate(nn.operands) if not o.constant and i not in written]
            nn.outputs = [lw.tensor_operand[t.index] for t in ctx.outputs]
            try:
                flags = supported_operations(self.lib, nn, [d.handle for d in self.targets])
            except DelegateError as e:
                return f"supported-operations query failed: {e}"
            if not all(flags):
                return f"not supported by NNAPI device(s) {', '.join(d.name for d in self.targets)}"
        return None

    def prepare_partition(self, partition: Partition) -> "NnapiPartition":
        """Lower the partition to one NNAPI model and compile it (once)."""
        lw = Lowering(self.feature_level)
        for ctx in partition.nodes:
            try:
                lw.lower(ctx)
            except Unsupported as e:  # node_support accepted it: the shapes changed since
                raise DelegateError(f"NNAPI: {ctx.op_name} (operator {ctx.op_index}) cannot be lowered: {e}") from None
        nn = lw.model
        nn.inputs = [lw.operand(t) for t in partition.inputs]
        nn.outputs = [lw.tensor_operand[t.index] for t in partition.outputs]
        compiled = CompiledModel(
            self.lib,
            nn,
            preference=self.preference,
            device_handles=[d.handle for d in self.targets] if self.targets else None,
            relax_fp16=self.allow_fp16 and self.feature_level >= 28,
        )
        return NnapiPartition(compiled, self)

    def __repr__(self) -> str:
        where = ", ".join(d.name for d in self.targets) if self.targets is not None else "runtime's choice"
        return (
            f"NnapiDelegate(feature_level={self.feature_level}, devices=[{where}], "
            f"max_number_delegated_partitions={self.max_delegated_partitions})"
        )


class NnapiPartition(PartitionKernel):
    """One compiled NNAPI model standing for a partition; one NNAPI execution per invoke."""

    def __init__(self, compiled: CompiledModel, delegate: NnapiDelegate):
        self.compiled = compiled
        self.delegate = delegate
        self.invokes = 0

    def invoke(self, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> None:
        ins = [np.ascontiguousarray(a, o.dtype) for a, o in zip(inputs, self.compiled.input_operands)]
        direct = [a.flags.c_contiguous and a.dtype == o.dtype for a, o in zip(outputs, self.compiled.output_operands)]
        outs = [a if ok else np.empty(a.shape, o.dtype) for a, ok, o in zip(outputs, direct, self.compiled.output_operands)]
        self.compiled.run(ins, outs)
        for a, b, ok in zip(outputs, outs, direct):
            if not ok:
                a[...] = b
        self.invokes += 1

    def stats(self) -> dict:
        return {
            "nnapi_operations": len(self.compiled.nn.operations),
            "feature_level": self.delegate.feature_level,
            "invokes": self.invokes,
        }

    def close(self) -> None:
        self.compiled.close()
