"""Train the small CNN that ships with edgelite as its default model (``edgelite quickstart``).

Data: scikit-learn's 8x8 handwritten digits (bundled with scikit-learn, no download).
A fixed, stratified split: 1,257 training images, 540 held out. The held-out split and
200 calibration images (from the training split) are saved next to the model, so the
quickstart measures float and int8 accuracy on data the model never saw.

Needs torch and scikit-learn (not dependencies of edgelite):

    pip install torch scikit-learn onnx
    python examples/train_digits.py          # writes edgelite/data/digits_cnn.onnx and .npz files
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "edgelite" / "data"


def load_split(seed: int = 0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]  # N, 1, 8, 8 in [0, 1]
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=540, random_state=seed, stratify=y)


def build_model():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 4x4
        nn.Conv2d(32, 32, 3, padding=1, groups=32),  # depthwise
        nn.ReLU6(),
        nn.Flatten(),
        nn.Linear(32 * 16, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def main() -> None:
    import torch

    torch.manual_seed(0)
    x_train, x_test, y_train, y_test = load_split()
    model = build_model()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for epoch in range(40):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
    print(f"held-out accuracy (torch): {acc:.4f}")

    OUT.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        torch.zeros(1, 1, 8, 8),
        str(OUT / "digits_cnn.onnx"),
        input_names=["image"],
        output_names=["logits"],
        opset_version=13,
        dynamo=False,
    )
    rng = np.random.default_rng(0)
    calib = x_train[rng.choice(len(x_train), 200, replace=False)]
    np.savez_compressed(OUT / "digits_heldout.npz", image=x_test, label=y_test)
    np.savez_compressed(OUT / "digits_calibration.npz", image=calib)
    print(f"wrote {OUT}/digits_cnn.onnx, digits_heldout.npz ({len(x_test)}), digits_calibration.npz ({len(calib)})")


if __name__ == "__main__":
    main()
