"""Run every ONNX backend case through edgelite, count passes per suite, and write
``expected_failures.py`` (test name -> reason) and ``docs/conformance.md``.

    python -m tests.converter.backend.classify [--write] [--filter REGEX]

The pytest module ``test_onnx_backend.py`` then marks exactly these cases as expected
failures; the numbers in the docs come from this script's last ``--write`` run.
"""

from __future__ import annotations

import argparse
import collections
import unittest
import re
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx.backend.test import BackendTest

from tests.converter.backend.edgelite_backend import EdgeliteBackend, LiteRTDisagreement
from tests.converter.backend.litert_worker import LiteRTCrash
from tests.converter.backend.root_causes import node_reasons, root_cause

ROOT = Path(__file__).resolve().parents[3]
SUITE_OF_CLASS = {
    "OnnxBackendNodeModelTest": "node",
    "OnnxBackendSimpleModelTest": "simple",
    "OnnxBackendPyTorchConvertedModelTest": "pytorch-converted",
    "OnnxBackendPyTorchOperatorModelTest": "pytorch-operator",
    "OnnxBackendRealModelTest": "light models (real)",
}


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


class _Result(unittest.TestResult):
    """Records one outcome per test, with a per-test time limit."""

    def __init__(self, timeout: int):
        super().__init__()
        self.timeout = timeout
        self.outcomes: dict[str, tuple[bool, str]] = {}

    def startTest(self, test):
        super().startTest(test)
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(self.timeout)

    def stopTest(self, test):
        signal.alarm(0)
        super().stopTest(test)

    def addSuccess(self, test):
        self.outcomes[test._testMethodName] = (True, "")

    def addError(self, test, err):
        exc = err[1]
        why = f"timeout after {self.timeout} s" if isinstance(exc, _Timeout) else _reason(exc)
        self.outcomes[test._testMethodName] = (False, why)

    addFailure = addError

    def addSkip(self, test, reason):
        self.outcomes[test._testMethodName] = (False, f"skipped: {reason}")


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if getattr(exc, "ops", None):
        why = node_reasons(str(exc))
        if why:
            return f"{name}: {'; '.join(why)}"[:300]
        kinds = sorted({str(op[0]) for op in exc.ops})
        return f"{name}: no TFLite lowering for {', '.join(kinds)}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = re.sub(r"0x[0-9a-f]+", "0x..", text)[:160]
    if isinstance(exc, LiteRTDisagreement):
        return f"LiteRT disagrees: {text}"
    if isinstance(exc, LiteRTCrash):
        return f"LiteRT fails: {text}"
    if isinstance(exc, AssertionError):
        return f"wrong result: {text}"
    return f"{name}: {text}"


def run_suites(pattern: str = "", timeout: int = 60) -> dict[str, list[tuple[str, bool, str]]]:
    backend_test = BackendTest(EdgeliteBackend, "classify")
    backend_test.exclude(r"(_cuda$)")
    if pattern:
        backend_test.include(pattern)
    results: dict[str, list[tuple[str, bool, str]]] = {}
    for cls_name, case_cls in sorted(backend_test.test_cases.items()):
        suite_name = SUITE_OF_CLASS.get(cls_name, cls_name)
        names = sorted(n for n in dir(case_cls) if n.startswith("test_") and not n.endswith("_cuda"))
        if pattern:
            names = [n for n in names if re.search(pattern, n)]
        result = _Result(timeout)
        unittest.TestSuite(case_cls(n) for n in names).run(result)
        rows = []
        for n in names:
            ok, why = result.outcomes.get(n, (False, "no outcome recorded"))
            rows.append((n[: -len("_cpu")] if n.endswith("_cpu") else n, ok, why))
        results.setdefault(suite_name, []).extend(rows)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write expected_failures.py and docs/conformance.md")
    parser.add_argument("--details", action="store_true", help="print every failing case")
    parser.add_argument("--filter", default="", help="only cases whose name matches this regex")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per case (raise it on a loaded machine)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    t0 = time.time()
    results = run_suites(args.filter, args.timeout)
    for suite, rows in results.items():
        passed = sum(ok for _, ok, _ in rows)
        print(f"{suite:<20} {passed:>5} / {len(rows):<5} passed")
    total = sum(len(r) for r in results.values())
    passed = sum(ok for r in results.values() for _, ok, _ in r)
    print(f"{'all':<20} {passed:>5} / {total:<5} passed ({100 * passed / max(total, 1):.1f}%) in {time.time() - t0:.0f} s")
    reasons = collections.Counter(why.split(":")[0] for r in results.values() for _, ok, why in r if not ok)
    for why, n in reasons.most_common(15):
        print(f"  {n:>5}  {why}")
    if args.details:
        for suite, rows in results.items():
            for name, ok, why in rows:
                if not ok:
                    print(f"FAIL {suite} {name} :: {why}")
    if args.write and not args.filter:
        _write(results, _plain_section())


def _plain_section() -> list[str]:
    """The node suite counted the plain way (``plain_suite``): convert once, resize, set, invoke."""
    from tests.converter.backend.plain_suite import run_all

    outcomes = collections.Counter(o for o, _ in run_all().values())
    total = sum(outcomes.values())
    rows = ", ".join(f"{k} {v} ({100 * v / max(total, 1):.1f}%)" for k, v in sorted(outcomes.items()))
    return ["", "Counted the plain way a newcomer would (`python -m tests.converter.backend.plain_suite`:",
            "convert each node case once without per-case shapes, resize the inputs, allocate, set, invoke,",
            "compare with the case's outputs at its tolerances; no LiteRT run):", "",
            f"- node suite, {total} cases: {rows}",
            "- every `wrong` case is listed with its reason in `test_node_suite_plain.PLAIN_KNOWN`"]


def _write(results, plain: list[str] = ()) -> None:
    lines = [
        '"""Every ONNX backend case that does not pass, with the reason (regenerated by',
        '``python -m tests.converter.backend.classify --write``, then reviewed)."""',
        "",
        "EXPECTED_FAILURES: dict[str, str] = {",
    ]
    for suite, rows in results.items():
        fails = [(n, w) for n, ok, w in rows if not ok]
        if fails:
            lines.append(f"    # --- {suite}: {len(fails)} not passing")
        for name, why in fails:
            lines.append(f"    {name!r}: {why!r},")
    lines.append("}")
    (Path(__file__).parent / "expected_failures.py").write_text("\n".join(lines) + "\n")
    import onnx as _onnx
    import platform

    doc = [
        "# ONNX backend conformance",
        "",
        f"`onnx.backend.test` cases (onnx {_onnx.__version__}) converted with `edgelite.convert(..., keep_io_layout=True)`",
        "and run with `edgelite.Interpreter`; every passing case is also run in LiteRT on the same `.tflite`",
        f"bytes and must agree with it. Generated by `python -m tests.converter.backend.classify --write` on",
        f"{platform.machine()} / Python {platform.python_version()}. The CUDA variants are excluded.",
        "",
        "| suite | passed | total | rate |",
        "| --- | ---: | ---: | ---: |",
    ]
    tp = tt = 0
    for suite, rows in results.items():
        p = sum(ok for _, ok, _ in rows)
        tp, tt = tp + p, tt + len(rows)
        doc.append(f"| {suite} | {p} | {len(rows)} | {100 * p / max(len(rows), 1):.1f}% |")
    doc.append(f"| **all** | **{tp}** | **{tt}** | **{100 * tp / max(tt, 1):.1f}%** |")
    doc += list(plain)
    doc += ["", "Failure reasons (first words), most common first:", ""]
    reasons = collections.Counter(w.split(":")[0] for r in results.values() for _, ok, w in r if not ok)
    for why, n in reasons.most_common():
        doc.append(f"- {n} × {why}")
    doc += ["", "Failures by root cause (`root_causes.py` files each reason under one):", "",
            "| root cause | cases |", "| --- | ---: |"]
    causes = collections.Counter(root_cause(w) for r in results.values() for _, ok, w in r if not ok)
    for cause, n in causes.most_common():
        doc.append(f"| {cause} | {n} |")
    doc += ["", "Every failing case, with its reason: `tests/converter/backend/expected_failures.py`.",
            "How the failures were analysed and which groups can still be lowered: "
            "[conformance-analysis.md](conformance-analysis.md).", ""]
    (ROOT / "docs" / "conformance.md").write_text("\n".join(doc))


if __name__ == "__main__":
    main()
