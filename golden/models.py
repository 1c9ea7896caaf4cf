"""The two architectures xnorgen trains (MLP and small CNN), each in a binary and an FP32-twin form.

Why one builder per architecture with a ``binary`` switch: the FP32 twin must be the same network
trained the same way (same widths, BatchNorm, optimizer, epochs, seed), differing only in
binarization, so that the accuracy gap measures the cost of binarization and nothing else.

Structure (what export.py walks): ``model.stages`` is a sequence of ``Block`` (layer, BatchNorm,
activation, optional 2x2 max-pool), ``nn.Flatten`` and finally ``Head`` (a binary linear layer whose
2P - K scores are multiplied by one positive learnable scalar). The first layer sees uint8 pixels
as float integers 0..255 (binary weights, real inputs), or their binarization when
``input_kind == "bits"``.
"""

from __future__ import annotations

import torch
from torch import nn

from golden.data import BINARY_INPUT_THRESHOLD
from golden.layers import BatchNorm, BinaryConv2d, BinaryLinear, OutputScale, Sign

__all__ = ["ARCHS", "INPUT_KINDS", "Block", "Head", "InputBits", "Net", "build", "cnn", "mlp"]

ARCHS = ("mlp", "cnn")
INPUT_KINDS = ("u8", "bits")


class InputBits(nn.Module):
    """Binarize uint8 pixels: +1 where pixel >= 128, else -1 (same rule as the integer model)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= BINARY_INPUT_THRESHOLD, torch.ones_like(x), -torch.ones_like(x))


class Block(nn.Module):
    """layer -> BatchNorm -> activation [-> max-pool 2x2]: one foldable stage."""

    def __init__(self, layer: nn.Module, bn: nn.Module, act: nn.Module, pool: bool = False):
        super().__init__()
        self.layer, self.bn, self.act = layer, bn, act
        self.pool = nn.MaxPool2d(2) if pool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.layer(x)))
        return self.pool(x) if self.pool is not None else x


class Head(nn.Module):
    """Last layer: scores = (x . sign(W)) * s, one positive scalar s (argmax is integer-exact)."""

    def __init__(self, in_features: int, classes: int, binary: bool):
        super().__init__()
        self.layer = BinaryLinear(in_features, classes) if binary else nn.Linear(in_features, classes)
        self.scale = OutputScale() if binary else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(self.layer(x))


class Net(nn.Module):
    """A sequence of stages plus the metadata the exporter needs."""

    def __init__(self, stages: list[nn.Module], arch: str, binary: bool, input_kind: str,
                 in_shape: tuple[int, ...], classes: int):
        super().__init__()
        self.stages = nn.Sequential(*stages)
        self.arch, self.binary, self.input_kind = arch, binary, input_kind
        self.in_shape, self.classes = tuple(in_shape), classes
        self.input_bits = InputBits() if input_kind == "bits" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: uint8 images [N, C, H, W] (any integer-valued tensor); returns class scores."""
        x = x.float()
        if self.input_bits is not None:
            x = self.input_bits(x)
        return self.stages(x)


def _act(binary: bool, stochastic: bool) -> nn.Module:
    return Sign(stochastic) if binary else nn.ReLU()


def _bn(n: int, binary: bool) -> nn.Module:
    return BatchNorm(n) if binary else (nn.BatchNorm1d(n))


def mlp(in_shape: tuple[int, ...], classes: int, hidden: tuple[int, ...] = (256, 256), binary: bool = True,
        input_kind: str = "u8", scaling: bool = False, stochastic: bool = False) -> Net:
    """Flatten -> [Linear -> BN -> sign] * len(hidden) -> Head."""
    n_in = 1
    for s in in_shape:
        n_in *= s
    stages: list[nn.Module] = [nn.Flatten()]
    for h in hidden:
        lin = BinaryLinear(n_in, h, scaling=scaling) if binary else nn.Linear(n_in, h, bias=False)
        stages.append(Block(lin, _bn(h, binary), _act(binary, stochastic)))
        n_in = h
    stages.append(Head(n_in, classes, binary))
    return Net(stages, "mlp", binary, input_kind, in_shape, classes)


def cnn(in_shape: tuple[int, ...], classes: int, widths: tuple[int, ...] = (16, 32, 32), fc: int = 128,
        binary: bool = True, input_kind: str = "u8", scaling: bool = False, stochastic: bool = False) -> Net:
    """Small VGG-like CNN: unpadded 3x3 input conv, then padded 3x3 convs (pad values -1 and +1
    alternate, so both are exercised) each followed by a 2x2 max-pool while the map is >= 4 wide
    (max-pool of +-1 values is an OR of bits), then one hidden FC layer and the head."""
    c, h, w = in_shape
    stages: list[nn.Module] = []
    for i, width in enumerate(widths):
        pad = 0 if i == 0 else 1
        pad_value = -1 if i % 2 else 1
        if binary:
            conv = BinaryConv2d(c, width, 3, padding=pad, pad_value=pad_value, scaling=scaling)
            bn = BatchNorm(width)
        else:
            conv, bn = nn.Conv2d(c, width, 3, padding=pad, bias=False), nn.BatchNorm2d(width)
        h, w = h + 2 * pad - 2, w + 2 * pad - 2
        pool = i > 0 and min(h, w) >= 4
        stages.append(Block(conv, bn, _act(binary, stochastic), pool=pool))
        if pool:
            h, w = h // 2, w // 2
        c = width
    stages.append(nn.Flatten())
    n_in = c * h * w
    lin = BinaryLinear(n_in, fc, scaling=scaling) if binary else nn.Linear(n_in, fc, bias=False)
    stages.append(Block(lin, _bn(fc, binary), _act(binary, stochastic)))
    stages.append(Head(fc, classes, binary))
    return Net(stages, "cnn", binary, input_kind, in_shape, classes)


def build(arch: str, dataset: str, in_shape: tuple[int, ...], classes: int, binary: bool = True,
          **kw) -> Net:
    """The default network of an (arch, dataset) pair: digits MLP 64-256-256-10, Fashion-MNIST
    MLP 784-256-256-256-10 (FINN's SFC shape), CNNs sized for 8x8 or 28x28 inputs."""
    if arch == "mlp":
        hidden = (256, 256) if dataset == "digits" else (256, 256, 256)
        return mlp(in_shape, classes, hidden, binary=binary, **kw)
    if arch == "cnn":
        widths, fc = ((16, 32, 32), 128) if dataset == "digits" else ((32, 32, 64), 256)
        return cnn(in_shape, classes, widths, fc, binary=binary, **kw)
    raise ValueError(f"unknown arch {arch!r} (expected one of {', '.join(ARCHS)})")
