"""``ConvertOptions``: every knob of ``edgelite.convert`` in one dataclass.

Example:
    >>> from edgelite.converter.options import ConvertOptions
    >>> ConvertOptions(keep_io_layout=True).keep_io_layout
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


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
    """

    keep_io_layout: bool = False
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    allow_custom: bool = False
    description: str = "edgelite converted model"

    @classmethod
    def from_kwargs(cls, options: "ConvertOptions | None" = None, **kwargs) -> "ConvertOptions":
        """Merge an optional ``ConvertOptions`` with keyword overrides (unknown keys raise TypeError)."""
        known = {f.name for f in fields(cls)}
        bad = sorted(set(kwargs) - known)
        if bad:
            raise TypeError(f"unknown conversion option(s) {bad}; known: {sorted(known)}")
        base = asdict(options) if options is not None else {}
        base.update(kwargs)
        base["input_shapes"] = {k: tuple(int(d) for d in v) for k, v in dict(base.get("input_shapes") or {}).items()}
        return cls(**base)

    def as_metadata(self) -> dict:
        d = asdict(self)
        d["input_shapes"] = {k: list(v) for k, v in self.input_shapes.items()}
        return d
