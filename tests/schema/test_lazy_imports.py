"""The generated accessors import only what runs: start-up does not load ~150 option modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edgelite.schema.regenerate import OUTPUT_DIR, drop_type_only_imports

ROOT = Path(__file__).resolve().parents[2]


def test_type_comment_imports_dropped_and_used_ones_kept():
    src = (
        "import flatbuffers\n"
        "import edgelite.schema.fb.AddOptions\n"
        "import edgelite.schema.fb.BuiltinOptions\n"
        "class T:\n"
        "    def __init__(self):\n"
        "        self.o = None  # type: Union[None, edgelite.schema.fb.AddOptions.AddOptionsT]\n"
        "    def unpack(self, t):\n"
        "        self.o = edgelite.schema.fb.BuiltinOptions.BuiltinOptionsCreator(1, t)\n"
    )
    out = drop_type_only_imports(src)
    assert "import edgelite.schema.fb.AddOptions\n" not in out
    assert "import edgelite.schema.fb.BuiltinOptions\n" in out
    assert "import flatbuffers\n" in out and "# type: Union" in out


def test_committed_accessors_are_already_lean():
    for path in sorted(OUTPUT_DIR.glob("*.py")):
        text = path.read_text()
        assert drop_type_only_imports(text) == text, f"{path.name}: run python -m edgelite.schema.regenerate"


def test_reading_a_model_loads_few_generated_modules():
    code = (
        "import sys; from edgelite.schema import read_model\n"
        f"m = read_model({str(ROOT / 'tests' / 'fixtures' / 'mobilenet_v2_035_96_int8.tflite')!r})\n"
        "assert m.subgraphs[0].operators\n"
        "print(sum(1 for n in sys.modules if n.startswith('edgelite.schema.fb.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    # 177 before the type-only imports were dropped; the union creators import the rest on demand.
    assert int(out.stdout.strip()) < 60
