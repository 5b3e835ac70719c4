"""``ConvertOptions``: every knob of ``edgelite.convert`` in one dataclass.

The quantization knobs form their own group, ``QuantizationSettings``
(``ConvertOptions.quantization``); ``edgelite.convert`` also takes them flat
(``quantize="int8", calibration=..., io_type=...``) and ``from_kwargs`` routes them
into the group.

Example:
    >>> from edgelite.converter.options import ConvertOptions
    >>> ConvertOptions(keep_io_layout=True).keep_io_layout
    True
    >>> o = ConvertOptions.from_kwargs(quantize="int8", observer="percentile")
    >>> o.quantization.mode, o.quantization.observer
    ('int8', 'percentile')
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

QUANTIZE_MODES = ("int8", "dynamic", "float16", "int16x8")
QDQ_MODES = ("auto", "import", "off")


@dataclass
class QuantizationSettings:
    """How ``edgelite.convert`` quantizes the model it converts (all off by default).

    Attributes:
        mode: ``None`` (a float model), ``"int8"``, ``"dynamic"``, ``"float16"`` or
            ``"int16x8"`` (see ``edgelite.quantize.QuantizeOptions``).
        calibration: representative data **in the ONNX model's own input layout**
            (NCHW for image models): arrays, ``{input_name: array}`` dicts, an
            iterable of either, a ``.npy``/``.npz`` path or a folder of images. The
            converter transposes it to the layout it gave each input.
        io_type: type of the quantized model's inputs and outputs: ``"float32"``,
            ``"int8"``, ``"uint8"`` (int8 mode) or ``"int16"`` (int16x8 mode).
        observer: ``"minmax"``, ``"percentile"``, ``"entropy"``, ``"mse"`` or
            ``"moving_average"``.
        keep_float: tensor names (ONNX output names) or TFLite operator types whose
            operators stay float.
        per_channel: per-output-channel weights for convolutions and fully-connected layers.
        qdq: ONNX QuantizeLinear/DequantizeLinear pairs: ``"auto"`` imports them (an
            int8 model with the ONNX model's own scales and zero points) when the
            model looks quantized (quantized weights feeding a Conv/Gemm/MatMul and
            at least one activation pair); ``"import"`` always; ``"off"`` keeps them
            as exact float arithmetic.
        bias_correction: ``"auto"`` (default), ``True`` or ``False``: see
            ``edgelite.quantize.QuantizeOptions.bias_correction``.
        target_sqnr, metric, target, fallback: an accuracy target (int8): keep the
            fewest layers float (or int16x8) that meet it (``edgelite.quantize.mixed``).
        fixed_range_outputs: ``"int16"`` (default), ``"float"`` or ``"int8"``: see
            ``edgelite.quantize.QuantizeOptions.fixed_range_outputs``.
    """

    mode: str | None = None
    calibration: Any = None
    io_type: str = "float32"
    observer: str = "minmax"
    keep_float: tuple[str, ...] = ()
    per_channel: bool = True
    qdq: str = "auto"
    bias_correction: bool | str = "auto"
    target_sqnr: float | None = None
    metric: Any = None
    target: float | None = None
    fallback: str = "float"
    fixed_range_outputs: str = "int16"

    def as_metadata(self) -> dict:
        cal = self.calibration
        if cal is None or isinstance(cal, str):
            described = cal
        else:
            described = f"<{type(cal).__name__}>"
        return {
            "mode": self.mode, "calibration": described, "io_type": self.io_type, "observer": self.observer,
            "keep_float": list(self.keep_float), "per_channel": self.per_channel, "qdq": self.qdq,
            "bias_correction": self.bias_correction,
            **({"target_sqnr": self.target_sqnr} if self.target_sqnr is not None else {}),
            **({"metric": getattr(self.metric, "__name__", "metric"), "target": self.target}
               if self.metric is not None else {}),
        }


# Flat keyword -> field of QuantizationSettings (``quantize`` is the mode).
_QUANT_KWARGS = {
    "quantize": "mode", "calibration": "calibration", "io_type": "io_type", "observer": "observer",
    "keep_float": "keep_float", "per_channel": "per_channel", "qdq": "qdq",
    "bias_correction": "bias_correction", "target_sqnr": "target_sqnr", "metric": "metric", "target": "target",
    "fallback": "fallback", "fixed_range_outputs": "fixed_range_outputs",
}


@dataclass
class ConvertOptions:
    """Options of the ONNX -> .tflite conversion.

    Attributes:
        keep_io_layout: keep ONNX's channels-first layout for 4-D (and 3-D/5-D
            convolution) inputs and outputs; by default they become channels-last
            (NHWC), which needs no TRANSPOSE op at all.
        input_shapes: ``{input_name: shape}`` fixing dynamic dimensions (a dynamic
            leading batch dimension defaults to 1).
        allow_custom: emit unsupported ONNX ops as TFLite CUSTOM ops (named after the
            ONNX op type) instead of failing; the runtime then needs a custom kernel.
        description: the model's description string.
        quantization: the quantization group (``QuantizationSettings``).
    """

    keep_io_layout: bool = False
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    allow_custom: bool = False
    description: str = "edgelite converted model"
    quantization: QuantizationSettings = field(default_factory=QuantizationSettings)

    @classmethod
    def from_kwargs(cls, options: ConvertOptions | None = None, **kwargs) -> ConvertOptions:
        """Merge an optional ``ConvertOptions`` with keyword overrides (unknown keys raise TypeError).

        Quantization keywords (``quantize``, ``calibration``, ``io_type``, ``observer``,
        ``keep_float``, ``per_channel``, ``qdq``, ``bias_correction``) go to ``quantization``.
        """
        known = {f.name for f in fields(cls)}
        bad = sorted(set(kwargs) - known - set(_QUANT_KWARGS))
        if bad:
            raise TypeError(f"unknown conversion option(s) {bad}; known: {sorted(known | set(_QUANT_KWARGS))}")
        # Shallow on purpose: calibration data may be a generator or a large array.
        base = {f.name: getattr(options, f.name) for f in fields(cls)} if options is not None else {}
        quant = base.get("quantization") or QuantizationSettings()
        q_over = {_QUANT_KWARGS[k]: kwargs.pop(k) for k in list(kwargs) if k in _QUANT_KWARGS}
        if "keep_float" in q_over:
            kf = q_over["keep_float"]
            q_over["keep_float"] = (kf,) if isinstance(kf, str) else tuple(kf or ())
        if "quantization" in kwargs:
            quant = kwargs.pop("quantization") or QuantizationSettings()
        base.update(kwargs)
        base["quantization"] = replace(quant, **q_over)
        base["input_shapes"] = {k: tuple(int(d) for d in v) for k, v in dict(base.get("input_shapes") or {}).items()}
        return cls(**base)

    def as_metadata(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "quantization"}
        d["input_shapes"] = {k: list(v) for k, v in self.input_shapes.items()}
        d["quantization"] = self.quantization.as_metadata()
        return d


__all__ = ["QDQ_MODES", "QUANTIZE_MODES", "ConvertOptions", "QuantizationSettings"]
