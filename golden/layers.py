"""torch.nn building blocks of a binary neural network, written so that they fold exactly.

Why these and not plain torch modules:
- ``Sign`` uses xnorgen's sign (sign(0) = +1) and the saturating straight-through estimator.
- ``BinaryLinear`` / ``BinaryConv2d`` binarize their weights with the same sign; the float matmul
  of +-1 (or 8-bit integer) operands is exact in float32, so it equals the integer 2P - K.
- ``BinaryConv2d`` pads the +-1 activation tensor with its declared value (-1 or +1); padding with
  zeros would be a third activation value the XNOR hardware cannot represent.
- ``BatchNorm`` runs, in eval mode, the fused per-channel form ``(z - mean) * c + beta`` with
  ``c = gamma / sqrt(var + eps)`` as a float32 tensor; ``golden.fold`` reproduces exactly those
  float32 operations with fractions, which is what makes thresholds bit-exact (see fold.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from golden.conventions import sign

__all__ = [
    "BatchNorm",
    "BinaryConv2d",
    "BinaryLinear",
    "MultiThresholdAct",
    "OutputScale",
    "Sign",
    "SignSTE",
    "clip_weights",
    "sign_ste",
]


class SignSTE(torch.autograd.Function):
    """sign(x) forward; gradient passes unchanged where |x| <= 1 and is 0 elsewhere (saturating STE).

    With ``stochastic=True`` the forward draws +1 with probability clamp((x + 1) / 2, 0, 1)
    (BinaryConnect's stochastic binarization) from torch's global generator.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, stochastic: bool = False) -> torch.Tensor:
        ctx.save_for_backward(x)
        if stochastic:
            p = ((x + 1) / 2).clamp(0, 1)
            return torch.where(torch.rand_like(x) < p, torch.ones_like(x), -torch.ones_like(x))
        return sign(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype), None


def sign_ste(x: torch.Tensor, stochastic: bool = False) -> torch.Tensor:
    """Functional form of SignSTE."""
    return SignSTE.apply(x, stochastic)


class Sign(nn.Module):
    """Binary activation: +-1 = sign(x), saturating STE; stochastic only while training if asked."""

    def __init__(self, stochastic: bool = False):
        super().__init__()
        self.stochastic = stochastic

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sign_ste(x, self.stochastic and self.training)

    def extra_repr(self) -> str:
        return f"stochastic={self.stochastic}"


def _alpha(weight: torch.Tensor) -> torch.Tensor:
    """XNOR-Net per-output-channel scale alpha = mean |W| over everything but the output axis."""
    return weight.abs().mean(dim=tuple(range(1, weight.dim())))


class _BinaryWeights:
    """sign(W) with the STE, and the XNOR-Net scale alpha = mean|W|: shared by linear and conv."""

    def binary_weight(self) -> torch.Tensor:
        return sign_ste(self.weight)

    def alpha(self) -> torch.Tensor:
        return _alpha(self.weight)


class BinaryLinear(_BinaryWeights, nn.Linear):
    """Linear layer with sign(W) weights; input may be +-1 or real/8-bit (binary-weight first layer).

    ``scaling=True`` multiplies output channel o by alpha_o = mean|W_o| (XNOR-Net).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = False, scaling: bool = False):
        super().__init__(in_features, out_features, bias=bias)
        self.scaling = scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.binary_weight())
        if self.scaling:
            y = y * self.alpha()
        if self.bias is not None:
            y = y + self.bias
        return y

    def extra_repr(self) -> str:
        return super().extra_repr() + f", scaling={self.scaling}"


class BinaryConv2d(_BinaryWeights, nn.Conv2d):
    """Conv2d with sign(W) weights, a stride, and padding with a declared value of -1 or +1.

    The padding is applied to the activation tensor explicitly (``F.pad(value=pad_value)``) before
    an unpadded convolution, so a padded position is a real +-1 input, exactly as in hardware.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, pad_value: int = -1, bias: bool = False, scaling: bool = False):
        if pad_value not in (-1, 1):
            raise ValueError(f"pad_value must be -1 or +1, got {pad_value!r}")
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=bias)
        self.pad = int(padding)
        self.pad_value = int(pad_value)
        self.scaling = scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, value=float(self.pad_value))
        y = F.conv2d(x, self.binary_weight(), None, self.stride)
        if self.scaling:
            y = y * self.alpha().view(1, -1, 1, 1)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y

    def extra_repr(self) -> str:
        return super().extra_repr() + f", pad={self.pad}, pad_value={self.pad_value}, scaling={self.scaling}"


class BatchNorm(nn.BatchNorm1d):
    """BatchNorm for [N, C] or [N, C, H, W]; batch statistics in training, fused float32 form in eval.

    Eval: ``y = (z - running_mean) * c + beta`` with ``c = folded_scale()``; those three float32
    operations (each correctly rounded by IEEE 754) are the reference that folding reproduces.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 4):
            raise ValueError(f"BatchNorm expects a 2D or 4D input, got {x.dim()}D")

    def folded_scale(self) -> torch.Tensor:
        """c = gamma / sqrt(var + eps) as the float32 tensor the eval forward multiplies by."""
        eps = torch.tensor(self.eps, dtype=self.running_var.dtype)
        return self.weight.detach() / torch.sqrt(self.running_var + eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                True, self.momentum, self.eps)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (x - self.running_mean.view(shape)) * self.folded_scale().view(shape) + self.bias.view(shape)


class MultiThresholdAct(nn.Module):
    """k-bit activation y = #{i : x >= theta_i} (qonnx MultiThreshold), STE through the ramp.

    ``thresholds`` are float32 levels on the BatchNorm output; the default for ``bits`` b is the
    unit grid centred on 0, theta_i = i - (2^b - 2) / 2 (i = 0 .. 2^b - 2): -1, 0, 1 for b = 2.
    fold.fold_float32(levels=thresholds) folds it onto P as one threshold per level.
    """

    def __init__(self, bits: int = 2, thresholds: torch.Tensor | None = None):
        super().__init__()
        if thresholds is None:
            n = 2 ** bits - 1
            thresholds = torch.arange(n, dtype=torch.float32) - (n - 1) / 2
        self.register_buffer("thresholds", torch.as_tensor(thresholds, dtype=torch.float32).flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hard = (x.unsqueeze(-1) >= self.thresholds).sum(-1).to(x.dtype)
        n = float(self.thresholds.numel())
        soft = (x - self.thresholds[0] + 0.5).clamp(0, n)
        return hard + (soft - soft.detach())  # (soft - soft) is exactly 0: the value stays an integer


class OutputScale(nn.Module):
    """Learnable positive scalar on the last layer's 2P - K scores (softmax temperature).

    One positive scalar keeps the class order of the integer scores, so the integer model's argmax
    is the torch model's argmax.
    """

    def __init__(self, init: float = 0.1):
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(float(init)).log())

    def value(self) -> torch.Tensor:
        return self.log_scale.exp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.value()


@torch.no_grad()
def clip_weights(model: nn.Module, bound: float = 1.0) -> None:
    """BinaryConnect: keep latent binary weights in [-bound, bound] so the STE stays live."""
    for m in model.modules():
        if isinstance(m, BinaryLinear | BinaryConv2d):
            m.weight.clamp_(-bound, bound)
