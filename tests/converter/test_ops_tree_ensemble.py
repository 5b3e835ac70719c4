"""ai.onnx.ml TreeEnsemble against the ONNX reference, in edgelite and LiteRT, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import edgelite  # noqa: E402
from edgelite.errors import UnsupportedOperatorError  # noqa: E402
from tests.converter.ext_helpers import oracle  # noqa: E402
from tests.converter.helpers import op_names, run_tflite  # noqa: E402

LEQ, LT, GTE, GT, EQ, NEQ, MEMBER = range(7)
AVERAGE, SUM, MIN, MAX = range(4)


def tree_model(x_shape, dtype, nodes, leaves, roots, n_targets, agg=SUM, members=None, mtt=None, post=0):
    """``nodes``: (mode, feature, split, true_id, true_is_leaf, false_id, false_is_leaf);
    ``leaves``: (weight, target)."""
    dt = np.dtype(dtype)
    tt = helper.np_dtype_to_tensor_dtype(dt)
    attrs = dict(
        nodes_modes=numpy_helper.from_array(np.array([n[0] for n in nodes], np.uint8), "m"),
        nodes_featureids=[n[1] for n in nodes],
        nodes_splits=numpy_helper.from_array(np.array([n[2] for n in nodes], dt), "s"),
        nodes_truenodeids=[n[3] for n in nodes], nodes_trueleafs=[n[4] for n in nodes],
        nodes_falsenodeids=[n[5] for n in nodes], nodes_falseleafs=[n[6] for n in nodes],
        leaf_weights=numpy_helper.from_array(np.array([w for w, _ in leaves], dt), "w"),
        leaf_targetids=[t for _, t in leaves], tree_roots=list(roots), n_targets=n_targets,
        aggregate_function=agg, post_transform=post)
    if members is not None:
        attrs["membership_values"] = numpy_helper.from_array(np.array(members, dt), "mv")
    if mtt is not None:
        attrs["nodes_missing_value_tracks_true"] = list(mtt)
    node = helper.make_node("TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml", **attrs)
    g = helper.make_graph([node], "t", [helper.make_tensor_value_info("X", tt, list(x_shape))],
                          [helper.make_tensor_value_info("Y", tt, [x_shape[0], n_targets])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)])
    m.ir_version = 10
    return m


def check(m, x):
    tfl = edgelite.convert(m, keep_io_layout=True)
    want = oracle(m, {"X": x}, use_reference=True)[0]
    for runtime in ("edgelite", "litert"):
        got = np.asarray(run_tflite(tfl, {"X": x}, runtime)[0])
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)  # NaN == NaN here; 0 == -0
    return op_names(tfl)


def random_forest(rng, n_trees, n_features, n_targets, modes, depth):
    nodes, leaves, roots = [], [], []

    def grow(d):
        """A node id (and whether it is a leaf) for a subtree of depth <= d."""
        if d == 0 or rng.random() < 0.2:
            leaves.append((float(rng.integers(-8, 9)) * 0.375, int(rng.integers(0, n_targets))))
            return len(leaves) - 1, 1
        i = len(nodes)
        nodes.append(None)
        t = grow(d - 1)
        f = grow(d - 1)
        nodes[i] = (int(rng.choice(modes)), int(rng.integers(0, n_features)), float(rng.integers(-3, 4)) * 0.5,
                    t[0], t[1], f[0], f[1])
        return i, 0

    for _ in range(n_trees):
        i = len(nodes)
        nodes.append((LEQ, 0, 0.0, 0, 0, 0, 0))
        t, f = grow(depth - 1), grow(depth - 1)
        nodes[i] = (int(rng.choice(modes)), int(rng.integers(0, n_features)), 0.0, t[0], t[1], f[0], f[1])
        roots.append(i)
    return nodes, leaves, roots


def features(rng, n, f, dtype):
    x = (rng.integers(-4, 5, (n, f)) * 0.5).astype(dtype)  # values on the split grid: ties tested
    x.flat[::7] = np.nan
    x.flat[3::11] = -0.0
    x.flat[5::13] = np.inf
    return x


def test_hand_checked_single_tree():
    # x0 <= 1 ? leaf0 (2.5 -> target 0) : (x1 < 0 ? leaf1 (-1 -> t1) : leaf2 (4 -> t1))
    nodes = [(LEQ, 0, 1.0, 0, 1, 1, 0), (LT, 1, 0.0, 1, 1, 2, 1)]
    m = tree_model((4, 2), np.float32, nodes, [(2.5, 0), (-1.0, 1), (4.0, 1)], [0], 2)
    x = np.array([[1.0, 5.0], [1.5, -3.0], [2.0, 0.0], [np.nan, -1.0]], np.float32)
    tfl = edgelite.convert(m, keep_io_layout=True)
    for runtime in ("edgelite", "litert"):
        got = np.asarray(run_tflite(tfl, {"X": x}, runtime)[0])
        np.testing.assert_array_equal(got, [[2.5, 0], [0, -1], [0, 4], [0, -1]])
    check(m, x)


@pytest.mark.parametrize("agg", [SUM, AVERAGE, MIN, MAX])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_forests_float32(agg, seed):
    rng = np.random.default_rng(seed)
    nodes, leaves, roots = random_forest(rng, 4, 3, 3, [LEQ, LT, GTE, GT, EQ, NEQ], 4)
    mtt = [int(b) for b in rng.integers(0, 2, len(nodes))]
    m = tree_model((40, 3), np.float32, nodes, leaves, roots, 3, agg=agg, mtt=mtt)
    ops = check(m, features(rng, 40, 3, np.float32))
    assert "GATHER" in ops and "SELECT_V2" in ops


def test_set_membership_and_nan_splits():
    # node0: x0 in {1, 2.5, -inf}; node1: x1 != NaN (always true, NaN too); node2: x1 <= NaN (never)
    nodes = [(MEMBER, 0, 0.0, 1, 0, 2, 0), (NEQ, 1, np.nan, 0, 1, 1, 1), (LEQ, 1, np.nan, 2, 1, 3, 1)]
    leaves = [(1.0, 0), (2.0, 1), (3.0, 2), (4.0, 3)]
    m = tree_model((8, 2), np.float32, nodes, leaves, [0], 4, members=[1.0, 2.5, -np.inf, np.nan])
    x = np.array([[1, 0], [2.5, np.nan], [-np.inf, 3], [2, 1], [np.nan, 1], [np.inf, np.nan], [-0.0, 0], [1, 1]],
                 np.float32)
    check(m, x)


@pytest.mark.parametrize("agg", [SUM, MIN, MAX, AVERAGE])
def test_float64_single_tree(agg):
    rng = np.random.default_rng(5)
    nodes, leaves, roots = random_forest(rng, 1, 3, 2, [LEQ, LT, GTE, GT, EQ, NEQ], 5)
    x = features(rng, 50, 3, np.float64)
    x[:5, 0] = [1e-300, -1e-300, 5e-324, -5e-324, 1 + 2**-40]  # keys of tiny and near-split values
    check(tree_model((50, 3), np.float64, nodes, leaves, roots, 2, agg=agg), x)


def test_average_of_three_trees_refused_when_inexact():
    nodes = [(LEQ, 0, 0.0, 0, 1, 1, 1)] * 3
    m = tree_model((2, 1), np.float32, nodes, [(1.0, 0), (3.0, 0)], [0, 1, 2], 1, agg=AVERAGE)
    with pytest.raises(UnsupportedOperatorError, match="AVERAGE"):
        edgelite.convert(m)


@pytest.mark.parametrize("kw,match", [
    (dict(post=2), "post_transform"),
    (dict(members=[0.0, 3.0, np.nan]), "membership value of 0"),
])
def test_refusals(kw, match):
    mode = MEMBER if "members" in kw else LEQ
    m = tree_model((2, 1), np.float32, [(mode, 0, 0.5, 0, 1, 1, 1)], [(1.0, 0), (2.0, 0)], [0], 1, **kw)
    with pytest.raises(UnsupportedOperatorError, match=match):
        edgelite.convert(m)


def test_refuses_float64_forest_and_bad_target():
    nodes = [(LEQ, 0, 0.0, 0, 1, 1, 1)] * 2
    with pytest.raises(UnsupportedOperatorError, match="float64 with more than one tree"):
        edgelite.convert(tree_model((2, 1), np.float64, nodes, [(1.0, 0), (2.0, 0)], [0, 1], 1))
    with pytest.raises(UnsupportedOperatorError, match="target id 5"):
        edgelite.convert(tree_model((2, 1), np.float32, nodes[:1], [(1.0, 0), (2.0, 5)], [0], 1))
