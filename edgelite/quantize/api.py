"""``quantize_model``: float ``.tflite`` model (+ calibration data) -> quantized model.

Example:
    >>> import numpy as np
    >>> from edgelite.schema.builder import ModelBuilder
    >>> from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT
    >>> b = ModelBuilder(); x = b.add_input("x", (1, 4), np.float32)
    >>> w = b.add_constant("w", np.eye(4, dtype=np.float32)); y = b.add_tensor("y", (1, 4), np.float32)
    >>> _ = b.add_operator("FULLY_CONNECTED", [x, w, -1], [y], FullyConnectedOptionsT()); b.mark_output(y)
    >>> data = np.random.default_rng(0).normal(size=(8, 1, 4)).astype(np.float32)
    >>> q = quantize_model(b.build(), "int8", calibration=data, backend="litert")
    >>> q[4:8]
    b'TFL3'
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from typing import Any

from edgelite.errors import QuantizationError
from edgelite.quantize.bias_correction import CORRECTED_OPS, MEAN_SAMPLES
from edgelite.quantize.calibrate import ProgressFn, activation_tensors, calibrate
from edgelite.quantize.calibration import ImageOptions, load_calibration
from edgelite.quantize.full_integer import FIXED_RANGE_NOTE, quantize_full_integer
from edgelite.quantize.legal import check_runtime_limits, describe_degenerate, expand_tiny_range, is_degenerate
from edgelite.quantize.numerics import activation_params
from edgelite.quantize.options import DEFAULT_THREADS_MEMORY, MAX_DEFAULT_THREADS, QuantizeOptions
from edgelite.quantize.runner import SMALL_MODEL_ELEMENTS, model_elements
from edgelite.quantize.selection import Candidate, choose, evaluation_samples, scoring_samples
from edgelite.quantize.weight_only import quantize_dynamic, quantize_float16
from edgelite.schema import read_model, write_model
from edgelite.schema.model import Model, TensorType

_log = logging.getLogger(__name__)


def _load(model_or_bytes: Any) -> tuple[Model, bytes]:
    if isinstance(model_or_bytes, Model):
        return model_or_bytes, write_model(model_or_bytes)
    if isinstance(model_or_bytes, (str, os.PathLike)):
        with open(model_or_bytes, "rb") as f:
            data = f.read()
    else:
        data = bytes(model_or_bytes)
    return read_model(data), data


def _check_float(model: Model) -> None:
    if not activation_tensors(model):
        raise QuantizationError("the model has no float32 activations: is it already quantized?")


def quantize_model(
    model_or_bytes: Any,
    mode: str | None = None,
    calibration: Any = None,
    *,
    options: QuantizeOptions | None = None,
    image_options: ImageOptions | None = None,
    progress: ProgressFn | None = None,
    **option_overrides: Any,
) -> bytes:
    """Quantize a float ``.tflite`` model.

    Args:
        model_or_bytes: the float model: ``.tflite`` bytes, a path, or a ``Model``.
        mode: ``"int8"``, ``"int16x8"``, ``"dynamic"`` or ``"float16"`` (default:
            ``options.mode``).
        calibration: representative data in the model's input layout (see
            ``edgelite.quantize.calibration``): arrays, dicts, ``.npy``/``.npz`` path,
            image folder. Needed by ``int8``/``int16x8`` unless ``fixed_ranges`` gives
            every activation.
        options: a ``QuantizeOptions``; keyword overrides (``observer="entropy"``...)
            replace its fields.
        image_options: normalisation of image-folder calibration data.
        progress: called as ``progress(done, total, stage)`` during calibration (and
            ``stage="choosing"`` while ``bias_correction="auto"`` scores its candidates).

    Returns:
        The quantized model's ``.tflite`` bytes (deterministic for the same inputs).

    Raises:
        QuantizationError: bad options, missing calibration, already-quantized model.
    """
    opts = options or QuantizeOptions()
    if option_overrides:
        unknown = set(option_overrides) - {f.name for f in dataclasses.fields(QuantizeOptions)}
        if unknown:
            raise QuantizationError(f"unknown quantization options {sorted(unknown)}")
        opts = dataclasses.replace(opts, **option_overrides)
    if mode is not None:
        opts = dataclasses.replace(opts, mode=mode)
    opts.validate()
    model, data = _load(model_or_bytes)
    _check_float(model)
    if opts.mode == "float16":
        return write_model(quantize_float16(model))
    if opts.mode == "dynamic":
        return write_model(quantize_dynamic(model, min_elements=opts.dynamic_min_elements,
                                            per_channel=opts.per_channel, keep_float=opts.keep_float))
    bits = 8 if opts.mode == "int8" else 16
    feeds = _load_feeds(model, calibration, opts, image_options)
    targeted = opts.target_sqnr is not None or opts.metric is not None
    held: list[dict] = []
    if targeted:
        if feeds is None or len(feeds) < 2:
            raise QuantizationError("an accuracy target needs at least 2 calibration samples "
                                    "(some are held back to score it)")
        picked = set(evaluation_samples(len(feeds), min(opts.target_samples, max(1, len(feeds) // 4))))
        held = [feeds[k] for k in sorted(picked)]
        feeds = [f for k, f in enumerate(feeds) if k not in picked]
    correct = feeds is not None and opts.bias_correction in (True, "auto")
    means = _bias_correction_inputs(model) if correct else None
    references = None
    if correct and opts.bias_correction == "auto" and means:
        k = scoring_samples(model, opts.selection_samples)
        references = {i: None for i in evaluation_samples(len(feeds), k)}
    auto = bool(references)
    threads = _threads(model, opts) if feeds is not None else 1
    degenerate: list[tuple[str, float, float]] = []
    act = _activation_params(model, data, feeds, opts, bits, progress, means, references, degenerate, threads)
    float_ops: list = []
    widened: list[str] = []
    int16_ops: list = []
    weight_cache: dict = {}  # the candidates below share their quantized weights

    def build(input_means, extra_keep: tuple[str, ...] = ()) -> bytes:
        float_ops.clear()
        widened.clear()
        int16_ops.clear()
        quantized = quantize_full_integer(
            model, act, bits=bits, io_type=opts.io_type, per_channel=opts.per_channel,
            per_channel_fully_connected=opts.per_channel_fully_connected,
            keep_float=tuple(opts.keep_float) + (tuple(extra_keep) if opts.fallback == "float" else ()),
            int16_layers=tuple(extra_keep) if opts.fallback == "int16x8" else (),
            fixed_range_outputs=opts.fixed_range_outputs, int16_report=int16_ops, report=float_ops, input_means=input_means, fixed=_fixed_tensors(model, opts),
            widened=widened, weight_cache=weight_cache,
        )
        # Never hand out a file that a runtime refuses or crashes on (see ``legal``).
        check_runtime_limits(quantized)
        return write_model(quantized)

    result = build(means)
    if auto:
        result = _choose_bias_correction(build(None), result, feeds, references, opts.backend, progress, threads)
    if targeted:
        chosen_means = means if result == build(means) else None
        result = _meet_target(model, data, held, opts, lambda keep: build(chosen_means, keep))
    if degenerate:
        warnings.warn(describe_degenerate(degenerate), stacklevel=2)
    others = sorted(set(widened) - {n for n, _, _ in degenerate})
    if others:
        warnings.warn(f"output scale raised to the smallest one its kernel accepts for {len(others)} tensor(s): "
                      f"{', '.join(repr(n) for n in others[:6])}", stacklevel=2)
    for k, name, why in float_ops:
        if why.startswith(FIXED_RANGE_NOTE):
            _log.info("#%d %s: %s", k, name, why)
    for k, name, out in int16_ops:
        _log.info("#%d %s (%s) runs in int16x8", k, name, out)
    unexpected = [(k, name, why) for k, name, why in float_ops
                  if why != "kept float on request" and not why.startswith(FIXED_RANGE_NOTE)]
    if unexpected:
        listing = "; ".join(f"#{k} {name}: {why}" for k, name, why in unexpected[:8])
        more = f" (+{len(unexpected) - 8} more)" if len(unexpected) > 8 else ""
        warnings.warn(f"{len(unexpected)} operator(s) stay float: {listing}{more}", stacklevel=2)
    return result


def _meet_target(model: Model, data: bytes, held: list[dict], opts: QuantizeOptions, build) -> bytes:
    """``target_sqnr`` / ``metric``: the fewest layers kept float that meet the target."""
    from edgelite.quantize.mixed import model_outputs, search

    references = model_outputs(data, held, opts.backend)
    target = opts.target_sqnr if opts.target_sqnr is not None else opts.target
    result, report = search(build, data, held, references, target=float(target), metric=opts.metric,
                            fallback=opts.fallback, backend=opts.backend)
    _log.info("accuracy target:\n%s", report.to_table())
    if opts.on_target_report is not None:
        opts.on_target_report(report)
    if not report.met:
        warnings.warn(f"accuracy target not reached: {report.to_table().splitlines()[0]}; "
                      + "; ".join(report.notes), stacklevel=3)
    return result


def _choose_bias_correction(plain: bytes, corrected: bytes, feeds: list, references: dict,
                            backend: str, progress: ProgressFn | None, threads: int = 1) -> bytes:
    """``bias_correction="auto"``: the candidate scoring higher on calibration samples."""
    if plain == corrected:  # nothing was corrected (e.g. every weight arrived quantized)
        return plain
    picked = sorted(references)
    try:
        best, scored = choose(
            [Candidate("bias_correction=False", plain), Candidate("bias_correction=True", corrected)],
            [feeds[k] for k in picked], [references[k] for k in picked], backend, progress, threads,
        )
    except QuantizationError as e:  # no interpreter runs the integer model: keep the plain one
        warnings.warn(f"bias_correction='auto' could not score the int8 candidates ({e}); "
                      "quantized without bias correction", stacklevel=3)
        return plain
    _log.info("bias_correction='auto': %s on %d calibration samples; kept %s",
              ", ".join(f"{c.name} {c.sqnr_db:.2f} dB" for c in scored), len(picked), best.name)
    return best.model


def _threads(model: Model, opts: QuantizeOptions) -> int:
    """Samples run at once in calibration (``QuantizeOptions.num_threads``)."""
    if opts.num_threads is not None:
        return opts.num_threads
    elements = model_elements(model)
    if elements < SMALL_MODEL_ELEMENTS:
        return 1  # a sample takes well under a millisecond: threads would cost more than they save
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    # Each thread's interpreter holds every tensor of the model (float32).
    return max(1, min(MAX_DEFAULT_THREADS, cpus, DEFAULT_THREADS_MEMORY // (4 * elements)))


def _fixed_tensors(model: Model, opts: QuantizeOptions) -> set[int]:
    names = set(opts.fixed_ranges or ())
    return {i for i, t in enumerate(model.subgraphs[0].tensors) if t.name in names}


def _bias_correction_inputs(model: Model) -> dict[int, None]:
    """The float activation inputs of the operators whose biases get corrected."""
    sg = model.subgraphs[0]
    wanted: dict[int, None] = {}
    for op in sg.operators:
        if model.opcode_name(op) in CORRECTED_OPS and len(op.inputs) > 2 and op.inputs[0] >= 0 and op.inputs[2] >= 0:
            x = sg.tensors[op.inputs[0]]
            if x.type == TensorType.FLOAT32 and model.tensor_data(x) is None:
                wanted[op.inputs[0]] = None
    return wanted


def _load_feeds(model: Model, calibration: Any, opts: QuantizeOptions,
                image_options: ImageOptions | None) -> list[dict] | None:
    if calibration is None:
        return None
    sg = model.subgraphs[0]
    inputs = [(sg.tensors[i].name, sg.tensors[i].shape, sg.tensors[i].numpy_dtype) for i in sg.inputs]
    return load_calibration(calibration, inputs, max_samples=opts.max_samples, image_options=image_options)


def _activation_params(model: Model, data: bytes, feeds: list[dict] | None, opts: QuantizeOptions, bits: int,
                       progress: ProgressFn | None, means: dict | None = None,
                       references: dict | None = None,
                       degenerate: list | None = None, threads: int = 1) -> dict[int, tuple[float, int]]:
    sg = model.subgraphs[0]
    act: dict[int, tuple[float, int]] = {}
    if feeds is not None:
        ranges = calibrate(
            data, model, feeds, observer=opts.observer, percentile=opts.percentile, num_bins=opts.num_bins,
            moving_average_constant=opts.moving_average_constant, levels=256 if bits == 8 else 65536,
            backend=opts.backend, progress=progress, means=means,
            mean_samples=evaluation_samples(len(feeds), MEAN_SAMPLES), references=references,
            num_threads=threads,
        )
        for t, (lo, hi) in ranges.items():
            if is_degenerate(lo, hi):
                if degenerate is not None:
                    degenerate.append((sg.tensors[t].name, float(lo), float(hi)))
                lo, hi = expand_tiny_range(lo, hi)
            act[t] = activation_params(lo, hi, bits)
    if opts.fixed_ranges:
        by_name: dict[str, int] = {}
        for i, t in enumerate(sg.tensors):
            if t.type == TensorType.FLOAT32:
                by_name.setdefault(t.name, i)
        missing = [n for n in opts.fixed_ranges if n not in by_name]
        if missing:
            raise QuantizationError(f"fixed_ranges names tensors the model lacks: {missing[:5]}")
        for name, value in opts.fixed_ranges.items():
            scale, zp = value
            if not scale > 0:
                raise QuantizationError(f"fixed_ranges[{name!r}]: scale must be positive, got {scale}")
            if bits == 16 and int(zp) != 0:
                raise QuantizationError(f"fixed_ranges[{name!r}]: int16 activations need zero point 0")
            act[by_name[name]] = (float(scale), int(zp))
    if not act:
        raise QuantizationError(f"mode {opts.mode!r} needs calibration data or fixed_ranges")
    return act
