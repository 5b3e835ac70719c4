"""``edgelite inspect/benchmark --delegate gpu``."""

from __future__ import annotations

import json

from edgelite.cli import main
from tests.delegates.conftest import make_gpu
from tests.fixtures import catalog


def test_inspect_plan_text_and_json(gpu, capsys):
    make_gpu()  # skips (with the reason) where the GPU delegate cannot run
    model = str(catalog.fixture("float32_cnn").path)
    assert main(["inspect", model, "--delegate", "gpu", "--delegate-option", "limits=default"]) == 0
    out = capsys.readouterr().out
    assert "Replacing 13 out of 13 node(s) with delegate (GPU) node, yielding 1 partitions for subgraph 0." in out
    assert "execution plan: DELEGATE#13" in out and "submissions_per_invoke=1" in out
    assert main(["inspect", model, "--delegate", "gpu", "--json", "--delegate-option", "max_delegated_partitions=0"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["delegated_nodes"] == 13 and plan["execution_plan"] == [{"kind": "delegate", "index": 13, "op_name": "DELEGATE"}]
    assert plan["partitions"][0]["stats"]["dispatches_per_invoke"] > 0


def test_inspect_without_delegate_is_unchanged(capsys):
    assert main(["inspect", str(catalog.fixture("float32_cnn").path)]) == 0
    assert "DELEGATE" not in capsys.readouterr().out


def test_bad_delegate_and_option(capsys):
    model = str(catalog.fixture("float32_cnn").path)
    assert main(["inspect", model, "--delegate", "tpu"]) == 1
    assert "unknown delegate 'tpu'" in capsys.readouterr().err
    assert main(["inspect", model, "--delegate", "gpu", "--delegate-option", "oops"]) == 1
    assert "KEY=VALUE" in capsys.readouterr().err


def test_benchmark_with_delegate(gpu, capsys):
    make_gpu()
    model = str(catalog.fixture("float32_cnn").path)
    assert main(["benchmark", model, "--delegate", "gpu", "--runs", "1", "--warmup", "0", "--profile"]) == 0
    out = capsys.readouterr().out
    assert "edgelite-cpu" in out and "edgelite-gpu" in out and "DELEGATE" in out
