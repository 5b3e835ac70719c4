"""``--delegate NAME`` for ``edgelite inspect`` and ``edgelite benchmark``.

* ``edgelite inspect MODEL --delegate gpu [--json]`` partitions the model (prepares
  kernels and the delegate, runs nothing) and prints the plan: LiteRT's log lines,
  each partition with its operators, boundary tensors and the delegate's figures,
  the unsupported operators with reasons, and the execution order.
* ``edgelite benchmark MODEL --delegate gpu`` times the model on the CPU kernels and
  through the delegate, then (with ``--profile``) per partition and per CPU operator.

``--delegate-option KEY=VALUE`` (repeatable) passes options as LiteRT does (strings).

Example:
    $ edgelite inspect model.tflite --delegate gpu --delegate-option max_delegated_partitions=0
"""

from __future__ import annotations

import argparse
import json
import sys

from edgelite.errors import DelegateError


def extend(parsers: dict) -> None:
    """Add ``--delegate`` to the ``inspect`` and ``benchmark`` subcommand parsers."""
    for name, run in (("inspect", run_inspect), ("benchmark", run_benchmark)):
        p = parsers.get(name)
        if p is None:
            continue
        p.add_argument("--delegate", metavar="NAME", help="apply a delegate (gpu, nnapi) and show/time its plan")
        p.add_argument("--delegate-option", metavar="KEY=VALUE", action="append", default=[],
                       help="delegate option, repeatable (e.g. max_delegated_partitions=0)")
        plain = p.get_default("func")
        p.set_defaults(func=_either(plain, run))


def _either(plain, delegated):
    def run(args: argparse.Namespace) -> int:
        return delegated(args) if getattr(args, "delegate", None) else plain(args)

    return run


def _options(args) -> dict:
    out = {}
    for item in args.delegate_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DelegateError(f"--delegate-option {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _delegate(args):
    from edgelite.delegates import load_delegate

    return load_delegate(args.delegate, _options(args))


def run_inspect(args: argparse.Namespace) -> int:
    from edgelite.interpreter import Interpreter

    delegate = _delegate(args)
    it = Interpreter(model_path=args.model, experimental_delegates=[delegate])
    plan = it.get_delegation_plan()
    if args.json:
        payload = {"model": args.model, "delegate": repr(delegate), **plan.to_dict()}
        json.dump(payload, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    print(f"model: {args.model}")
    print(f"delegate: {delegate!r}")
    print(plan.describe())
    return 0


def run_benchmark(args: argparse.Namespace) -> int:
    import numpy as np

    from edgelite.interpreter import Interpreter
    from edgelite.interpreter.cli_benchmark import format_results, measure
    from edgelite.interpreter.cli_run import random_input
    from edgelite.interpreter.profiling import OpProfiler, format_table

    delegate = _delegate(args)

    def cpu():
        return Interpreter(model_path=args.model, num_threads=args.num_threads)

    def delegated():
        return Interpreter(model_path=args.model, num_threads=args.num_threads, experimental_delegates=[delegate])

    probe = delegated()
    plan = probe.get_delegation_plan()
    rng = np.random.default_rng(args.seed)
    values = {d["index"]: random_input(d, rng) for d in probe.get_input_details()}
    del probe
    profiler = OpProfiler() if args.profile else None
    results = [
        measure(cpu, values, runtime="edgelite-cpu", num_threads=args.num_threads, runs=args.runs, warmup=args.warmup),
        measure(delegated, values, runtime=f"edgelite-{args.delegate}", num_threads=args.num_threads, runs=args.runs,
                warmup=args.warmup, profiler=profiler),
    ]
    if args.json:
        from dataclasses import asdict

        payload = {"model": args.model, "delegate": repr(delegate), "plan": plan.to_dict(),
                   "results": [asdict(r) for r in results]}
        print(json.dumps(payload, indent=2, default=str))
        return 0
    print(f"model: {args.model}   delegate: {delegate!r}   runs: {args.runs}   warm-up: {args.warmup}")
    print("\n".join(plan.log_lines))
    print(format_results(results))
    if profiler is not None:
        print("\n(DELEGATE rows are whole partitions: upload, dispatches, one submission, readback)")
        print(format_table(profiler))
    return 0
