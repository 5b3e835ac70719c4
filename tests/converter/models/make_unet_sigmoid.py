"""unet_sigmoid.onnx: the PyTorch-exported U-Net (``make_models.py``, ``unet.onnx``) with a
sigmoid head, the shape of the model in issue 16 (convs, a transposed conv, skip
concatenations, bilinear upsampling, a sigmoid at the output).

The sigmoid is appended with onnx.helper rather than re-exported from PyTorch, so the
file regenerates without torch: ``python tests/converter/models/make_unet_sigmoid.py``.
"""

from __future__ import annotations

import os

import onnx
from onnx import helper

HERE = os.path.dirname(os.path.abspath(__file__))


def make(out: str = os.path.join(HERE, "unet_sigmoid.onnx")) -> str:
    m = onnx.load(os.path.join(HERE, "unet.onnx"))
    g = m.graph
    old = g.output[0]
    logits = "logits"
    for node in g.node:
        node.output[:] = [logits if o == old.name else o for o in node.output]
    g.node.append(helper.make_node("Sigmoid", [logits], [old.name], name="head_sigmoid"))
    onnx.checker.check_model(m)
    onnx.save(m, out)
    return out


if __name__ == "__main__":
    print(make())
