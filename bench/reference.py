"""Reference networks for the benchmark, written as ONNX graphs (random weights: weights do not change speed).

(b) The original student project's method ran two networks at the full, squared image size:
  - a pix2pix U-Net generator (Isola et al. 2017, `unet_256`): 8 stride-2 downsamplings (4x4 convolutions), 64
    base filters, BatchNorm, transposed-conv upsampling with skip connections, about 54 M parameters;
  - a plain CNN of about 0.9 M parameters: 3x3 convs 1->32->64 (stride 2)->128 (stride 2)->128->256, two x2
    upsamplings with 256->128->64, then 64->32->3.
They are built here layer by layer with onnx.helper (what a PyTorch export of them holds, without the minutes the
exporter takes) and timed under ONNX Runtime, like ours. Input `x` float32 [N,1,H,W], output `y`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Graph:
    """An ONNX graph under construction: nodes, and weights drawn with He's scaling (activations stay in range)."""

    def __init__(self, seed: int = 0):
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(seed)

    def name(self, prefix: str) -> str:
        """A fresh tensor name."""
        return f"{prefix}{len(self.nodes) + len(self.weights)}"

    def weight(self, shape: tuple[int, ...], fan_in: int) -> str:
        """A float32 initializer of `shape`, N(0, 2 / fan_in); its name."""
        name = self.name("w")
        values = self.rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        self.weights.append(numpy_helper.from_array(values, name))
        return name

    def op(self, kind: str, inputs: list[str], **attrs) -> str:
        """Append a node with one output; its output's name."""
        out = self.name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int, bias: bool = True, transpose: bool = False) -> str:
        """A k x k convolution (or transposed convolution) with padding k // 2 (3x3) or 1 (4x4)."""
        shape = (cin, cout, k, k) if transpose else (cout, cin, k, k)
        inputs = [x, self.weight(shape, cin * k * k)]
        if bias:
            inputs.append(self.weight((cout,), cout))
        pad = 1 if k == 4 else k // 2
        kind = "ConvTranspose" if transpose else "Conv"
        return self.op(kind, inputs, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)

    def batchnorm(self, x: str, c: int) -> str:
        """Inference-mode BatchNorm (scale 1, shift 0, mean 0, variance 1)."""
        stats = [np.ones(c, np.float32), np.zeros(c, np.float32), np.zeros(c, np.float32), np.ones(c, np.float32)]
        names = []
        for values in stats:
            names.append(self.name("bn"))
            self.weights.append(numpy_helper.from_array(values, names[-1]))
        return self.op("BatchNormalization", [x, *names])

    def save(self, path: Path, output: str) -> Path:
        """Write the graph as a model whose input is `x` [N,1,H,W] and whose output is `output`, renamed `y`."""
        self.nodes.append(helper.make_node("Identity", [output], ["y"]))
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "H", "W"])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
        graph = helper.make_graph(self.nodes, path.stem, [x], [y], self.weights)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx.save(model, str(path))
        return path


def pix2pix_unet(path: Path, cout: int = 2, ngf: int = 64) -> Path:
    """pix2pix UnetGenerator(input_nc=1, output_nc=2, num_downs=8, ngf=64) in eval mode (no dropout)."""
    g = Graph(0)
    chans = [ngf, ngf * 2, ngf * 4, ngf * 8, ngf * 8, ngf * 8, ngf * 8, ngf * 8]
    x, prev, skips = "x", 1, []
    for i, c in enumerate(chans):
        if i > 0:
            x = g.op("LeakyRelu", [x], alpha=0.2)
        x = g.conv(x, prev, c, 4, 2, bias=False)
        if 0 < i < len(chans) - 1:
            x = g.batchnorm(x, c)
        skips.append(x)
        prev = c
    skips.pop()  # the innermost level has no skip connection
    for i in reversed(range(len(chans))):
        cin = chans[i] if i == len(chans) - 1 else chans[i] * 2
        c = chans[i - 1] if i > 0 else cout
        x = g.conv(g.op("Relu", [x]), cin, c, 4, 2, bias=i == 0, transpose=True)
        x = g.op("Tanh", [x]) if i == 0 else g.batchnorm(x, c)
        if skips:
            x = g.op("Concat", [x, skips.pop()], axis=1)
    return g.save(path, x)


def plain_cnn(path: Path) -> Path:
    """The original project's 0.9 M-parameter CNN (ReLU after each conv but the last)."""
    g = Graph(1)
    twice = g.name("scales")
    g.weights.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), twice))
    x = "x"
    layers = [(1, 32, 1), (32, 64, 2), (64, 128, 2), (128, 128, 1), (128, 256, 1), "up", (256, 128, 1), "up",
              (128, 64, 1), (64, 32, 1)]  # fmt: skip
    for layer in layers:
        if layer == "up":
            x = g.op("Resize", [x, "", twice], mode="nearest")
        else:
            x = g.op("Relu", [g.conv(x, layer[0], layer[1], 3, layer[2])])
    return g.save(path, g.conv(x, 32, 3, 3, 1))


def export_references(folder: Path) -> dict[str, Path]:
    """Write both reference networks (any H, W that are multiples of 256) into `folder`; returns {name: path}."""
    builders = {"pix2pix_unet": pix2pix_unet, "plain_cnn": plain_cnn}
    return {name: build(folder / f"{name}.onnx") for name, build in builders.items()}
