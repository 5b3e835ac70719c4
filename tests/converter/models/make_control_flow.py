"""Export the small PyTorch control-flow models the converter tests use (committed .onnx).

    /work/venvs/<branch>/bin/python tests/converter/models/make_control_flow.py

``loop_cumulative``: a TorchScript-scripted loop over the rows of its input (an ONNX
``Loop`` whose trip count comes from the input's shape, with a loop-carried state
and an ``If`` on a value computed in the body).
"""

from __future__ import annotations

import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


class LoopCumulative(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.zeros(x.shape[1])
        for i in range(x.shape[0]):
            h = torch.tanh(self.lin(x[i]) + h)
            if h.sum() > 0:
                h = h * 0.5
        return h


def main() -> None:
    torch.manual_seed(0)
    model = torch.jit.script(LoopCumulative().eval())
    x = torch.randn(4, 8)
    path = os.path.join(HERE, "loop_cumulative.onnx")
    torch.onnx.export(model, (x,), path, input_names=["x"], output_names=["h"], opset_version=17, dynamo=False)
    print("wrote", path)


if __name__ == "__main__":
    main()
