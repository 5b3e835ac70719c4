"""Regenerate the Python FlatBuffers accessors in ``edgelite/schema/fb/``.

Usage::

    python -m edgelite.schema.regenerate [--flatc PATH]

Runs ``flatc --python --gen-object-api`` on ``edgelite/schema/tflite.fbs`` in
a temporary directory and replaces ``edgelite/schema/fb/`` with the generated
package. Nothing else is copied, so ``edgelite/__init__.py`` and
``edgelite/schema/__init__.py`` are never touched.

flatc must be on PATH (Debian/Ubuntu: ``apt-get install flatbuffers-compiler``;
the committed code was generated with flatc 2.0.8).

One edit is made to flatc's output (``drop_type_only_imports``): ``Operator.py`` imports
all ~150 option modules at module level only to name them in ``# type:`` comments, which
cost about 50 ms of every process start. Those imports are removed; the generated API
and the bytes written are unchanged (the union creators import each option module when
it is first needed).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent
FBS_PATH = SCHEMA_DIR / "tflite.fbs"
OUTPUT_DIR = SCHEMA_DIR / "fb"
# Package path implied by `namespace edgelite.schema.fb;` in tflite.fbs.
GENERATED_SUBDIR = Path("edgelite", "schema", "fb")


_MODULE_IMPORT = re.compile(r"^import (edgelite\.schema\.fb\.(\w+))\n", re.M)


def drop_type_only_imports(source: str) -> str:
    """``source`` without module-level ``import edgelite.schema.fb.X`` lines whose
    module is named only in ``# type:`` comments (never by code that runs)."""
    code = "\n".join(line.split("# type:")[0] for line in source.splitlines() if not line.startswith("import "))

    def keep(m: re.Match) -> str:
        return m.group(0) if re.search(re.escape(m.group(1)) + r"\b", code) else ""

    return _MODULE_IMPORT.sub(keep, source)


class FlatcNotFoundError(RuntimeError):
    """Raised when the FlatBuffers compiler cannot be found."""


def find_flatc(flatc: str | None = None) -> str:
    path = shutil.which(flatc or "flatc")
    if path is None:
        raise FlatcNotFoundError(
            f"flatc (the FlatBuffers compiler) was not found{' at ' + flatc if flatc else ' on PATH'}. "
            "Install it, e.g. `apt-get install flatbuffers-compiler` on Debian/Ubuntu, "
            "or pass --flatc /path/to/flatc."
        )
    return path


def flatc_version(flatc: str) -> str:
    out = subprocess.run([flatc, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or out.stderr.strip()


def regenerate(flatc: str | None = None, fbs: Path = FBS_PATH, output_dir: Path = OUTPUT_DIR) -> list[Path]:
    """Generate accessors from ``fbs`` and install them into ``output_dir``.

    Returns the list of installed files.
    """
    flatc_path = find_flatc(flatc)
    with tempfile.TemporaryDirectory(prefix="edgelite-flatc-") as tmp:
        tmp_path = Path(tmp)
        cmd = [flatc_path, "--python", "--gen-object-api", "-o", str(tmp_path), str(fbs)]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"flatc failed (exit {result.returncode}): {' '.join(cmd)}\n{result.stdout}{result.stderr}"
            )
        generated = tmp_path / GENERATED_SUBDIR
        if not (generated / "Model.py").is_file():
            raise RuntimeError(
                f"flatc did not produce {GENERATED_SUBDIR}/Model.py; "
                "check the namespace / root_type in the schema"
            )
        # flatc only writes __init__.py for packages it creates; make sure the
        # installed package has one.
        (generated / "__init__.py").touch()
        for path in generated.glob("*.py"):
            text = path.read_text()
            lean = drop_type_only_imports(text)
            if lean != text:
                path.write_text(lean)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        shutil.copytree(generated, output_dir)
    return sorted(output_dir.rglob("*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flatc", default=None, help="flatc executable (default: flatc on PATH)")
    args = parser.parse_args(argv)
    try:
        files = regenerate(args.flatc)
    except FlatcNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{flatc_version(find_flatc(args.flatc))}: wrote {len(files)} files to {OUTPUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
