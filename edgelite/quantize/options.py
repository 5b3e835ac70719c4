"""The options of ``quantize_model``, grouped in one dataclass.

Example:
    >>> from edgelite.quantize import QuantizeOptions
    >>> QuantizeOptions(mode="int8", observer="percentile").io_type
    'float32'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from edgelite.errors import QuantizationError

MODES = ("int8", "int16x8", "dynamic", "float16")
OBSERVERS = ("minmax", "moving_average", "percentile", "entropy", "mse")
IO_TYPES = ("float32", "int8", "uint8", "int16")
BIAS_CORRECTION = ("auto", True, False)
# ``num_threads=None`` uses at most this many: each thread holds its own interpreter
# (activations and packed weights), and calibration runs seldom gain past a few cores.
MAX_DEFAULT_THREADS = 4
# ... and no more than the interpreters' float32 tensors (weights and activations, all
# kept for the observers) fit in this many bytes together.
DEFAULT_THREADS_MEMORY = 2 << 30


@dataclass
class QuantizeOptions:
    """How to quantize a float model.

    Attributes:
        mode: ``"int8"`` (full integer: int8 weights and activations), ``"int16x8"``
            (int16 activations, int8 weights), ``"dynamic"`` (int8 weights, float
            activations, hybrid kernels) or ``"float16"`` (float16 weights).
        io_type: type of the model's inputs and outputs after full-integer
            quantization: ``"float32"`` (QUANTIZE/DEQUANTIZE at the edges), ``"int8"``,
            ``"uint8"`` (int8 mode) or ``"int16"`` (int16x8 mode).
        observer: how calibration turns observed values into a range: ``"minmax"``,
            ``"moving_average"`` (moving-average min/max over batches), ``"percentile"``,
            ``"entropy"`` (KL divergence, TensorRT style) or ``"mse"``.
        percentile: the percentile kept by the percentile observer.
        moving_average_constant: weight of each new batch for ``moving_average``.
        num_bins: histogram bins of the histogram observers.
        per_channel: quantize CONV_2D / DEPTHWISE_CONV_2D weights per output channel.
        per_channel_fully_connected: quantize FULLY_CONNECTED weights per output
            channel too, as TFLite's converter does by default since 2.x (the spec's
            original rule, per tensor, on request with False).
        keep_float: tensor names (an operator is named by its outputs) whose operators
            stay float, with QUANTIZE/DEQUANTIZE inserted around them.
        fixed_ranges: ``{tensor_name: (scale, zero_point)}`` for activations whose
            quantization is already known (from ONNX QuantizeLinear/DequantizeLinear);
            with ranges for every activation no calibration is needed.
        bias_correction: subtract from each CONV_2D / DEPTHWISE_CONV_2D /
            FULLY_CONNECTED bias the mean output shift that rounding its weights causes,
            measured on the calibration data (``edgelite.quantize.bias_correction``;
            int8 and int16x8 with calibration data; weights that arrive quantized are
            left alone). ``"auto"`` (default): quantize with and without it and keep
            the model whose outputs on (up to ``selection_samples``) calibration
            samples are closer to the float model's (``edgelite.quantize.selection``);
            ``True`` / ``False`` force it on / off.
        selection_samples: at most this many calibration samples (spread evenly)
            are what ``"auto"`` scores the candidates on; fewer for large models
            (``edgelite.quantize.selection.scoring_samples``).
        fixed_range_outputs: how a LOGISTIC, SOFTMAX or TANH that writes a float
            model output (``io_type="float32"``) is quantized in ``int8`` mode. TFLite
            fixes their int8 output to steps of 1/256 (1/128 for TANH), which bounds
            the output's precision (a U-Net's sigmoid head: 53.5 dB, against ONNX
            Runtime's 58.4 dB; docs/quantization.md). ``"int16"`` (default): the
            operator runs in int16x8 (int16 kernel, bit-exact with LiteRT's, steps of
            1/32768; 74.9 dB on that U-Net); ``"float"``: it stays float; ``"int8"``:
            TFLite's choice (the operator set TFLite's converter writes).
        target_sqnr: an accuracy target in dB (int8 only): keep the fewest layers
            float that bring the output SQNR against the float model to this value on
            calibration samples held back from range estimation
            (``edgelite.quantize.mixed``).
        metric: a general target instead: ``metric(float_outputs, quant_outputs) ->
            float`` (higher is better; each argument a list over samples of lists over
            model outputs) that must reach ``target``.
        target: the value ``metric`` must reach.
        fallback: the precision of the layers the target keeps: ``"float"`` or
            ``"int16x8"`` (int16 activations where LiteRT has the int16 kernel; the
            other layers stay int8 or, without an int16 kernel, are not candidates).
        target_samples: at most this many calibration samples are held back to score
            the target (at least one, and never more than a quarter of the data).
        on_target_report: called with the ``MixedPrecisionReport`` of the target
            search (which layers stayed float, size and latency cost, target reached).
        max_samples: use at most this many calibration samples.
        dynamic_min_elements: in ``dynamic`` mode, weights with fewer elements stay float
            (TFLite's dynamic-range quantizer uses 1024).
        backend: the calibration runner: ``"auto"`` (edgelite's interpreter when it can
            run the model, else LiteRT), ``"edgelite"`` or ``"litert"``.
        num_threads: how many calibration samples (and ``bias_correction="auto"``
            candidates) run at once, each on its own single-threaded interpreter; the
            result is the same bytes whatever the count (the observers still see the
            samples one by one, in order). Each extra thread holds another copy of the
            model's tensors. ``None`` (default): the CPUs this process may use, at most
            ``MAX_DEFAULT_THREADS`` and as many as fit in ``DEFAULT_THREADS_MEMORY``
            bytes; 1 for models small enough to calibrate on the reference kernels
            (``edgelite.quantize.runner.SMALL_MODEL_ELEMENTS``).
    """

    mode: str = "int8"
    io_type: str = "float32"
    observer: str = "minmax"
    percentile: float = 99.99
    moving_average_constant: float = 0.01
    num_bins: int = 2048
    per_channel: bool = True
    per_channel_fully_connected: bool = True
    keep_float: Sequence[str] = field(default_factory=tuple)
    fixed_ranges: Mapping[str, tuple] | None = None
    bias_correction: bool | str = "auto"
    selection_samples: int = 32
    fixed_range_outputs: str = "int16"
    target_sqnr: float | None = None
    metric: Callable[[list, list], float] | None = None
    target: float | None = None
    fallback: str = "float"
    target_samples: int = 8
    on_target_report: Callable[[object], None] | None = None
    max_samples: int | None = None
    dynamic_min_elements: int = 1024
    backend: str = "auto"
    num_threads: int | None = None

    def validate(self) -> None:
        """Raise ``QuantizationError`` for an unknown mode, observer or io type."""
        if self.mode not in MODES:
            raise QuantizationError(f"unknown quantization mode {self.mode!r}; use one of {', '.join(MODES)}")
        if self.observer not in OBSERVERS:
            raise QuantizationError(f"unknown observer {self.observer!r}; use one of {', '.join(OBSERVERS)}")
        if self.io_type not in IO_TYPES:
            raise QuantizationError(f"unknown io_type {self.io_type!r}; use one of {', '.join(IO_TYPES)}")
        if self.mode == "int8" and self.io_type == "int16":
            raise QuantizationError("io_type 'int16' needs mode 'int16x8'")
        if self.mode == "int16x8" and self.io_type in ("int8", "uint8"):
            raise QuantizationError(f"io_type {self.io_type!r} needs mode 'int8'")
        if not 0.0 < self.percentile <= 100.0:
            raise QuantizationError(f"percentile must be in (0, 100], got {self.percentile}")
        if not (isinstance(self.bias_correction, bool) or self.bias_correction == "auto"):
            raise QuantizationError(f"bias_correction must be 'auto', True or False, got {self.bias_correction!r}")
        if self.selection_samples < 1:
            raise QuantizationError(f"selection_samples must be at least 1, got {self.selection_samples}")
        if self.target_sqnr is not None or self.metric is not None or self.target is not None:
            if self.target_sqnr is not None and (self.metric is not None or self.target is not None):
                raise QuantizationError("give either target_sqnr or metric and target, not both")
            if (self.metric is None) != (self.target is None):
                raise QuantizationError("metric and target go together")
            if self.metric is not None and not callable(self.metric):
                raise QuantizationError("metric must be callable(float_outputs, quant_outputs) -> float")
            if self.mode != "int8":
                raise QuantizationError(f"an accuracy target needs mode 'int8', not {self.mode!r}")
            if self.fallback not in ("float", "int16x8"):
                raise QuantizationError(f"unknown fallback {self.fallback!r}; use 'float' or 'int16x8'")
            if self.target_samples < 1:
                raise QuantizationError(f"target_samples must be at least 1, got {self.target_samples}")
        if self.fixed_range_outputs not in ("int16", "int8", "float"):
            raise QuantizationError(f"fixed_range_outputs must be 'int16', 'int8' or 'float', "
                                    f"got {self.fixed_range_outputs!r}")
        if self.num_threads is not None and (isinstance(self.num_threads, bool) or not isinstance(self.num_threads, int)
                                             or self.num_threads < 1):
            raise QuantizationError(f"num_threads must be a positive integer or None, got {self.num_threads!r}")
        if self.num_bins < 256:
            raise QuantizationError(f"num_bins must be at least 256, got {self.num_bins}")
