"""Float ``.tflite`` models built with ModelBuilder for the quantizer's tests and benchmark."""

from __future__ import annotations

import numpy as np

from edgelite.schema.builder import ModelBuilder
from edgelite.schema.fb.ActivationFunctionType import ActivationFunctionType as Act
from edgelite.schema.fb.AddOptions import AddOptionsT
from edgelite.schema.fb.ConcatenationOptions import ConcatenationOptionsT
from edgelite.schema.fb.Conv2DOptions import Conv2DOptionsT
from edgelite.schema.fb.DepthwiseConv2DOptions import DepthwiseConv2DOptionsT
from edgelite.schema.fb.FullyConnectedOptions import FullyConnectedOptionsT
from edgelite.schema.fb.Padding import Padding
from edgelite.schema.fb.Pool2DOptions import Pool2DOptionsT
from edgelite.schema.fb.ReducerOptions import ReducerOptionsT
from edgelite.schema.fb.ReshapeOptions import ReshapeOptionsT
from edgelite.schema.fb.SoftmaxOptions import SoftmaxOptionsT


class Net:
    """A tiny graph-building helper over ModelBuilder (NHWC, float32)."""

    def __init__(self, seed: int = 0):
        self.b = ModelBuilder()
        self.rng = np.random.default_rng(seed)
        self.n = 0
        self.shapes: dict[int, tuple] = {}

    def _name(self, kind: str) -> str:
        self.n += 1
        return f"{kind}_{self.n}"

    def input(self, name, shape):
        i = self.b.add_input(name, shape, np.float32)
        self.shapes[i] = tuple(shape)
        return i

    def tensor(self, kind, shape):
        i = self.b.add_tensor(self._name(kind), shape, np.float32)
        self.shapes[i] = tuple(shape)
        return i

    def conv(self, x, cout, k=3, stride=1, act=Act.RELU6, padding=Padding.SAME):
        n, h, w, cin = self.shapes[x]
        wt = self.rng.normal(0, np.sqrt(2.0 / (k * k * cin)), (cout, k, k, cin)).astype(np.float32)
        bias = self.rng.normal(0, 0.1, cout).astype(np.float32)
        oh, ow = (-(-h // stride), -(-w // stride)) if padding == Padding.SAME else ((h - k) // stride + 1, (w - k) // stride + 1)
        y = self.tensor("conv", (n, oh, ow, cout))
        wi = self.b.add_constant(self._name("conv_w"), wt)
        bi = self.b.add_constant(self._name("conv_b"), bias)
        opt = Conv2DOptionsT()
        opt.padding, opt.strideH, opt.strideW, opt.fusedActivationFunction = padding, stride, stride, act
        opt.dilationHFactor = opt.dilationWFactor = 1
        self.b.add_operator("CONV_2D", [x, wi, bi], [y], opt)
        return y

    def dwconv(self, x, k=3, stride=1, act=Act.RELU6):
        n, h, w, c = self.shapes[x]
        wt = self.rng.normal(0, np.sqrt(2.0 / (k * k)), (1, k, k, c)).astype(np.float32)
        bias = self.rng.normal(0, 0.1, c).astype(np.float32)
        y = self.tensor("dw", (n, -(-h // stride), -(-w // stride), c))
        wi = self.b.add_constant(self._name("dw_w"), wt)
        bi = self.b.add_constant(self._name("dw_b"), bias)
        opt = DepthwiseConv2DOptionsT()
        opt.padding, opt.strideH, opt.strideW, opt.fusedActivationFunction = Padding.SAME, stride, stride, act
        opt.depthMultiplier, opt.dilationHFactor, opt.dilationWFactor = 1, 1, 1
        self.b.add_operator("DEPTHWISE_CONV_2D", [x, wi, bi], [y], opt)
        return y

    def add(self, a, c, act=Act.NONE):
        y = self.tensor("add", self.shapes[a])
        opt = AddOptionsT()
        opt.fusedActivationFunction = act
        self.b.add_operator("ADD", [a, c], [y], opt)
        return y

    def pool(self, x, kind="AVERAGE_POOL_2D", k=2):
        n, h, w, c = self.shapes[x]
        y = self.tensor("pool", (n, h // k, w // k, c))
        opt = Pool2DOptionsT()
        opt.padding, opt.strideH, opt.strideW, opt.filterHeight, opt.filterWidth = Padding.VALID, k, k, k, k
        self.b.add_operator(kind, [x], [y], opt)
        return y

    def concat(self, xs, axis=3):
        shape = list(self.shapes[xs[0]])
        shape[axis] = sum(self.shapes[x][axis] for x in xs)
        y = self.tensor("concat", tuple(shape))
        opt = ConcatenationOptionsT()
        opt.axis = axis
        self.b.add_operator("CONCATENATION", list(xs), [y], opt)
        return y

    def mean(self, x):
        n, h, w, c = self.shapes[x]
        axes = self.b.add_constant(self._name("axes"), np.array([1, 2], np.int32))
        y = self.tensor("mean", (n, c))
        opt = ReducerOptionsT()
        opt.keepDims = False
        self.b.add_operator("MEAN", [x, axes], [y], opt)
        return y

    def reshape(self, x, shape):
        s = self.b.add_constant(self._name("shape"), np.array(shape, np.int32))
        y = self.tensor("reshape", tuple(shape))
        opt = ReshapeOptionsT()
        opt.newShape = list(shape)
        self.b.add_operator("RESHAPE", [x, s], [y], opt)
        return y

    def fc(self, x, units, act=Act.NONE, bias=True):
        n, k = self.shapes[x]
        wt = self.rng.normal(0, np.sqrt(1.0 / k), (units, k)).astype(np.float32)
        wi = self.b.add_constant(self._name("fc_w"), wt)
        bi = self.b.add_constant(self._name("fc_b"), self.rng.normal(0, 0.1, units).astype(np.float32)) if bias else -1
        y = self.tensor("fc", (n, units))
        opt = FullyConnectedOptionsT()
        opt.fusedActivationFunction = act
        self.b.add_operator("FULLY_CONNECTED", [x, wi, bi], [y], opt)
        return y

    def softmax(self, x):
        y = self.tensor("softmax", self.shapes[x])
        opt = SoftmaxOptionsT()
        opt.beta = 1.0
        self.b.add_operator("SOFTMAX", [x], [y], opt)
        return y

    def unary(self, op, x):
        y = self.tensor(op.lower(), self.shapes[x])
        self.b.add_operator(op, [x], [y])
        return y

    def output(self, y):
        self.b.mark_output(y)

    def build(self) -> bytes:
        return self.b.build()


def small_cnn(seed: int = 0, size: int = 16) -> bytes:
    """conv -> depthwise -> conv (residual add) -> pools -> concat -> mean -> FC -> softmax."""
    n = Net(seed)
    x = n.input("image", (1, size, size, 3))
    c1 = n.conv(x, 8, stride=2)
    d1 = n.dwconv(c1)
    c2 = n.conv(d1, 8, k=1, act=Act.NONE)
    r = n.add(c2, c1)
    p1 = n.pool(r, "AVERAGE_POOL_2D")
    p2 = n.pool(r, "MAX_POOL_2D")
    cat = n.concat([p1, p2])
    m = n.mean(cat)
    f = n.fc(m, 10)
    n.output(n.softmax(f))
    return n.build()


def mobilenet_v2(width: float = 1.0, size: int = 224, classes: int = 1000, seed: int = 0) -> bytes:
    """MobileNetV2's architecture (inverted residual blocks) with random weights."""

    def ch(c):
        return max(8, int(c * width + 4) // 8 * 8)

    n = Net(seed)
    x = n.input("input", (1, size, size, 3))
    y = n.conv(x, ch(32), stride=2)
    cin = ch(32)
    blocks = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    for t, c, reps, s in blocks:
        for r in range(reps):
            stride = s if r == 0 else 1
            inp = y
            h = n.conv(y, cin * t, k=1) if t != 1 else y
            h = n.dwconv(h, stride=stride)
            h = n.conv(h, ch(c), k=1, act=Act.NONE)
            y = n.add(h, inp) if stride == 1 and cin == ch(c) else h
            cin = ch(c)
    y = n.conv(y, max(1280, ch(1280)), k=1)
    y = n.mean(y)
    y = n.fc(y, classes)
    n.output(n.softmax(y))
    return n.build()


def image_batch(n: int, size: int, seed: int = 1) -> np.ndarray:
    """Smooth random 'images' (N, size, size, 3) in [-1, 1]: more image-like than white noise."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(-1, 1, (n, max(2, size // 4), max(2, size // 4), 3)).astype(np.float32)
    rep = -(-size // low.shape[1])
    img = np.repeat(np.repeat(low, rep, axis=1), rep, axis=2)[:, :size, :size]
    return np.clip(img + rng.normal(0, 0.1, img.shape).astype(np.float32), -1, 1)
