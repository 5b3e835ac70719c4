"""Build the converter's acceptance models with PyTorch and export them to ONNX.

Run once (needs ``pip install torch==2.13.0``; the tests themselves never import torch):

    python tests/converter/models/make_models.py            # small copies, committed here
    python tests/converter/models/make_models.py --full     # full-size ones into models/

Architectures are written out here (no torchvision): MobileNetV2, MobileNetV3-Small
(hard-swish, squeeze-excite), ResNet18, a small U-Net (ConvTranspose, bilinear
resize, skip concatenation), a Conv1d keyword-spotting net (flatten before linear) and
a 2-layer transformer encoder (embedding Gather, MatMul, LayerNormalization, erf GELU,
Softmax, Where mask). Random weights from a fixed seed, eval mode, BatchNorm
statistics randomized so that folding them is actually tested.
"""

from __future__ import annotations

import argparse
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FULL_DIR = os.path.join(HERE, "..", "..", "..", "models")


def _div(v, d=8, min_value=None):
    min_value = min_value or d
    new = max(min_value, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def conv_bn(cin, cout, k, s, groups=1, act=nn.ReLU6):
    layers = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = [] if expand == 1 else [conv_bn(cin, hidden, 1, 1)]
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, cout, 1, 1, act=None)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x) if self.use_res else self.body(x)


class MobileNetV2(nn.Module):
    def __init__(self, width=1.0, classes=1000, last=1280):
        super().__init__()
        cfg = [
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        ]
        cin = _div(32 * width)
        last = _div(last * max(1.0, width))
        layers = [conv_bn(3, cin, 3, 2)]
        for t, c, n, s in cfg:
            cout = _div(c * width)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        layers.append(conv_bn(cin, last, 1, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, classes))

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


class SqueezeExcite(nn.Module):
    def __init__(self, c, squeeze):
        super().__init__()
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s


class V3Block(nn.Module):
    def __init__(self, cin, k, exp, cout, se, act, stride):
        super().__init__()
        self.use_res = stride == 1 and cin == cout
        layers = []
        if exp != cin:
            layers.append(conv_bn(cin, exp, 1, 1, act=act))
        layers.append(conv_bn(exp, exp, k, stride, groups=exp, act=act))
        if se:
            layers.append(SqueezeExcite(exp, _div(exp // 4)))
        layers.append(conv_bn(exp, cout, 1, 1, act=None))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x) if self.use_res else self.body(x)


class MobileNetV3Small(nn.Module):
    def __init__(self, width=1.0, classes=1000, hidden=1024):
        super().__init__()
        HS, RE = nn.Hardswish, nn.ReLU
        cfg = [
            (3, 16, 16, True, RE, 2),
            (3, 72, 24, False, RE, 2),
            (3, 88, 24, False, RE, 1),
            (5, 96, 40, True, HS, 2),
            (5, 240, 40, True, HS, 1),
            (5, 240, 40, True, HS, 1),
            (5, 120, 48, True, HS, 1),
            (5, 144, 48, True, HS, 1),
            (5, 288, 96, True, HS, 2),
            (5, 576, 96, True, HS, 1),
            (5, 576, 96, True, HS, 1),
        ]
        cin = _div(16 * width)
        layers = [conv_bn(3, cin, 3, 2, act=HS)]
        for k, exp, c, se, act, s in cfg:
            cout = _div(c * width)
            layers.append(V3Block(cin, k, _div(exp * width), cout, se, act, s))
            cin = cout
        last_conv = _div(576 * width)
        layers.append(conv_bn(cin, last_conv, 1, 1, act=HS))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(last_conv, hidden), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(hidden, classes)
        )

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.classifier(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = conv_bn(cin, cout, 3, stride, act=nn.ReLU)
        self.c2 = conv_bn(cout, cout, 3, 1, act=None)
        self.down = conv_bn(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        return F.relu(self.c2(self.c1(x)) + idt)


class ResNet18(nn.Module):
    def __init__(self, base=64, classes=1000):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, base, 7, 2, 3, bias=False), nn.BatchNorm2d(base), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        )
        layers, cin = [], base
        for i, c in enumerate([base, base * 2, base * 4, base * 8]):
            layers += [BasicBlock(cin, c, 1 if i == 0 else 2), BasicBlock(c, c, 1)]
            cin = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class UNet(nn.Module):
    """Two levels down, one ConvTranspose up and one bilinear up, skip concatenations."""

    def __init__(self, base=8, classes=3):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(conv_bn(cin, cout, 3, 1, act=nn.ReLU), conv_bn(cout, cout, 3, 1, act=nn.ReLU))

        self.e1, self.e2, self.mid = block(3, base), block(base, base * 2), block(base * 2, base * 4)
        self.up2 = nn.ConvTranspose2d(base * 4, base * 2, 2, 2)
        self.d2 = block(base * 4, base * 2)
        self.red1 = nn.Conv2d(base * 2, base, 1)
        self.d1 = block(base * 2, base)
        self.head = nn.Conv2d(base, classes, 1)

    def forward(self, x):
        e1 = self.e1(x)
        e2 = self.e2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.d2(torch.cat([self.up2(m), e2], 1))
        u1 = F.interpolate(self.red1(d2), scale_factor=2, mode="bilinear", align_corners=False)
        d1 = self.d1(torch.cat([u1, e1], 1))
        return self.head(d1)


class KWS(nn.Module):
    """Conv1d keyword spotter on [N, 40 MFCC, T] with a flatten before the classifier."""

    def __init__(self, mfcc=40, frames=49, width=64, classes=12):
        super().__init__()
        layers, cin = [], mfcc
        for i, s in enumerate([1, 2, 2, 2]):
            layers += [nn.Conv1d(cin, width, 3, s, 1, bias=False), nn.BatchNorm1d(width), nn.ReLU()]
            cin = width
        layers += [nn.Conv1d(width, width, 3, 1, 1, groups=width), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        t = frames
        for _ in range(3):
            t = (t + 2 - 3) // 2 + 1
        self.fc = nn.Linear(width * t, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.body(x), 1))


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.h, self.dk = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.f1, self.f2 = nn.Linear(d, ff), nn.Linear(ff, d)

    def forward(self, x, mask):
        n, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (z.reshape(n, t, self.h, self.dk).transpose(1, 2) for z in (q, k, v))
        s = q @ k.transpose(-1, -2) / math.sqrt(self.dk)
        s = torch.where(mask, s, torch.full_like(s, -1e9))
        a = torch.softmax(s, dim=-1) @ v
        x = self.n1(x + self.proj(a.transpose(1, 2).reshape(n, t, d)))
        return self.n2(x + self.f2(F.gelu(self.f1(x))))


class Encoder(nn.Module):
    def __init__(self, vocab=1000, d=64, heads=4, ff=128, layers=2, seq=16, classes=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(1, seq, d) * 0.1)
        self.layers = nn.ModuleList([EncoderLayer(d, heads, ff) for _ in range(layers)])
        self.head = nn.Linear(d, classes)

    def forward(self, ids, attention_mask):
        mask = (attention_mask > 0)[:, None, None, :]
        x = self.emb(ids) + self.pos
        for layer in self.layers:
            x = layer(x, mask)
        return self.head(x)


def _randomize_bn(model):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def specs(full: bool):
    """name -> (module factory, example inputs, input names)."""
    img = 224 if full else 96
    seq = 16
    return {
        "mobilenet_v2": (
            lambda: MobileNetV2(1.0, 1000) if full else MobileNetV2(0.25, 10, last=320),
            (torch.randn(1, 3, img, img),),
            ["input"],
        ),
        "mobilenet_v3_small": (
            lambda: MobileNetV3Small(1.0, 1000) if full else MobileNetV3Small(0.35, 10, hidden=64),
            (torch.randn(1, 3, img, img),),
            ["input"],
        ),
        "resnet18": (
            lambda: ResNet18(64, 1000) if full else ResNet18(8, 10),
            (torch.randn(1, 3, img, img),),
            ["input"],
        ),
        "unet": (
            lambda: UNet(16 if full else 8),
            (torch.randn(1, 3, 128 if full else 64, 128 if full else 64),),
            ["input"],
        ),
        "kws_conv1d": (lambda: KWS(), (torch.randn(1, 40, 49),), ["mfcc"]),
        "transformer_encoder": (
            lambda: Encoder(seq=seq),
            (
                torch.randint(0, 1000, (1, seq)),
                torch.cat([torch.ones(1, 12, dtype=torch.int64), torch.zeros(1, 4, dtype=torch.int64)], 1),
            ),
            ["input_ids", "attention_mask"],
        ),
    }


def export(name: str, full: bool, out_dir: str) -> str:
    torch.manual_seed(0)
    factory, args, in_names = specs(full)[name]
    model = factory()
    _randomize_bn(model)
    model.eval()
    path = os.path.join(out_dir, f"{name}.onnx")
    with torch.no_grad():
        torch.onnx.export(
            model, args, path, input_names=in_names, output_names=["output"], opset_version=17, dynamo=False
        )
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="full-size models into models/ (for the benchmark)")
    ap.add_argument("names", nargs="*", help="subset of models to build")
    a = ap.parse_args()
    out_dir = os.path.abspath(FULL_DIR) if a.full else HERE
    os.makedirs(out_dir, exist_ok=True)
    for name in a.names or specs(a.full):
        path = export(name, a.full, out_dir)
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
