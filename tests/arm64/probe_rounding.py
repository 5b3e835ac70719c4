"""Which requantization form does this platform's LiteRT use? (a probe, not a test)

Runs every int8 fixture in LiteRT (built-in kernels, no XNNPACK), then replays each
quantized CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED in isolation: edgelite's numpy
reference kernel gets LiteRT's own input tensor and runs once per rounding form
(``fixedpoint.ROUND_*``); the output of each form is compared with LiteRT's. A form with
zero mismatches on every op is the one that platform's LiteRT computes.

    python tests/arm64/probe_rounding.py [single] [fixtures] [all]   # on the host (x86 LiteRT)
    sudo tests/arm64/run.sh pi5 --py tests/arm64/probe_rounding.py   # LiteRT aarch64 under qemu
"""

from __future__ import annotations

import dataclasses
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ai_edge_litert import interpreter as litert  # noqa: E402

import edgelite  # noqa: E402
from edgelite.interpreter import OpResolverType  # noqa: E402
from edgelite.interpreter.compute import fixedpoint as fp  # noqa: E402
from tests.fixtures.catalog import fixtures  # noqa: E402
from tests.interpreter.compute import rounding_models  # noqa: E402
from tests.interpreter.model_inputs import random_inputs  # noqa: E402

FORMS = {"double(gemmlowp)": fp.ROUND_DOUBLE, "single": fp.ROUND_SINGLE, "double_up(x86)": fp.ROUND_DOUBLE_UP}
OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def probe(label: str, content: bytes, feeds) -> dict:
    """Replay each conv-like op of one model (``feeds``: one input list per run)."""
    totals = {name: 0 for name in FORMS}
    for run, inputs in enumerate(feeds):
        ref = litert.Interpreter(model_content=content, experimental_preserve_all_tensors=True,
                                 experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        ref.allocate_tensors()
        for d, x in zip(ref.get_input_details(), inputs):
            ref.set_tensor(d["index"], x)
        ref.invoke()
        ours = edgelite.Interpreter(model_content=content, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        ours.allocate_tensors()
        for i, step in enumerate(ours._runtime(0).steps):
            name = step.op.name
            p = step.params
            if name not in OPS or p is None or not hasattr(p, "mode") or p.mode not in FORMS.values():
                continue
            ins = [ref.get_tensor(t) if t >= 0 else None for t in step.op.inputs]
            want = ref.get_tensor(step.op.outputs[0])
            row = []
            for form, mode in FORMS.items():
                out = np.empty_like(want)
                # the fast numpy plan (int8_numpy) is prepared for one form: drop it to replay another
                plan = {"ref_plan": None} if hasattr(p, "ref_plan") else {}
                step.op.kernel.eval(dataclasses.replace(p, mode=mode, **plan), ins, [out])
                bad = int(np.count_nonzero(out != want))
                totals[form] += bad
                row.append(f"{form}={bad}")
            shifts = np.asarray(getattr(p, "shift", [0]))
            print(f"  {label} run {run} op {i} {name} {want.dtype} {want.size} elems, shifts "
                  f"[{int(shifts.min())}, {int(shifts.max())}], edgelite's mode {p.mode}: " + " ".join(row), flush=True)
    return totals


def main() -> int:
    print(f"machine {platform.machine()}, numpy {np.__version__}", flush=True)
    grand = {name: 0 for name in FORMS}
    which = sys.argv[1:] or ["single", "fixtures"]
    if "single" in which:
        for case in rounding_models.CASES:
            content = rounding_models.build(case)
            feeds = [[rounding_models.inputs(content, s)] for s in range(2)]
            for form, n in probe(case, content, feeds).items():
                grand[form] += n
    if "fixtures" in which or "all" in which:
        for fx in sorted({f.path for f in fixtures("int8")}):
            if "efficientnet" in fx.stem and "all" not in which:
                continue
            content = fx.read_bytes()
            ref = litert.Interpreter(model_content=content)
            for form, n in probe(fx.stem, content, [random_inputs(ref.get_input_details(), 1)]).items():
                grand[form] += n
    print("mismatching elements over all probed ops: " + ", ".join(f"{k} {v}" for k, v in grand.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
