"""Export a PyTorch ``nn.TransformerEncoder`` to ONNX (the attention-layout test model).

    /work/venvs/<branch>/bin/python tests/converter/models/make_transformer_encoder.py

Two layers, d_model 32, 4 heads, feed-forward 64, batch_first, sequence 10, eval mode
(the fused fast path off, so the export shows the head split/merge permutations that
``nn.MultiheadAttention`` writes). Committed as ``torch_transformer_encoder.onnx``.
"""

from __future__ import annotations

import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    torch.manual_seed(0)
    torch.backends.mha.set_fastpath_enabled(False)
    layer = torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
    x = torch.randn(1, 10, 32)
    path = os.path.join(HERE, "torch_transformer_encoder.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (x,), path, input_names=["x"], output_names=["y"], opset_version=17, dynamo=False)
    print("wrote", path)


if __name__ == "__main__":
    main()
