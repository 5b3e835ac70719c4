"""The ONNX backend test suite (node, simple, pytorch-converted, pytorch-operator and the
9 light models) run through convert + interpret, every passing case also checked in LiteRT.

Cases that do not pass are listed, with their reason, in ``expected_failures.py`` and
are marked as expected failures; one that starts passing fails the run until it is
taken off the list, so the pass count in ``docs/conformance.md`` stays honest.
"""

from __future__ import annotations

import warnings

import pytest

onnx_backend_test = pytest.importorskip("onnx.backend.test")

from tests.converter.backend.edgelite_backend import EdgeliteBackend  # noqa: E402
from tests.converter.backend.expected_failures import EXPECTED_FAILURES  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the case generators divide by zero on purpose
    backend_test = onnx_backend_test.BackendTest(EdgeliteBackend, __name__)

for _name in EXPECTED_FAILURES:
    backend_test.xfail(rf"^{_name}_cpu$")

_cases = backend_test.test_cases
for _cls in _cases.values():
    # Only the CPU variants exist here; drop the CUDA twins instead of listing them skipped.
    for _attr in [a for a in vars(_cls) if a.startswith("test_") and a.endswith("_cuda")]:
        delattr(_cls, _attr)

# The standard way onnx exposes its generated unittest classes to a test runner.
globals().update(_cases)
