"""torch layers: sign convention, saturating STE, stochastic binarization, declared conv padding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from golden.layers import BatchNorm, BinaryConv2d, BinaryLinear, Sign, sign_ste

torch.set_num_threads(1)


def test_sign_of_zero_is_plus_one_and_ste_saturates():
    x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
    y = sign_ste(x)
    assert y.tolist() == [-1, -1, -1, 1, 1, 1, 1]
    y.sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 1, 1, 0]  # passes where |x| <= 1


def test_stochastic_sign_only_in_training_and_unbiased():
    torch.manual_seed(0)
    s = Sign(stochastic=True)
    x = torch.full((20000,), 0.5)
    m = s(x).mean().item()  # P(+1) = 0.75 -> mean 0.5
    assert abs(m - 0.5) < 0.03 and set(s(x).unique().tolist()) == {-1.0, 1.0}
    s.eval()
    assert torch.equal(s(x), torch.ones_like(x))


def test_binary_linear_uses_sign_weights_and_alpha():
    lin = BinaryLinear(5, 3, scaling=True)
    x = torch.randn(4, 5)
    wb = torch.where(lin.weight >= 0, 1.0, -1.0)
    alpha = lin.weight.abs().mean(dim=1)
    torch.testing.assert_close(lin(x), (x @ wb.T) * alpha, rtol=0, atol=0)


@pytest.mark.parametrize("pad_value", [-1, 1])
def test_conv_pads_with_declared_value_not_zero(pad_value):
    torch.manual_seed(1)
    conv = BinaryConv2d(2, 3, 3, stride=2, padding=1, pad_value=pad_value)
    x = torch.where(torch.randn(1, 2, 5, 5) >= 0, 1.0, -1.0)
    wb = torch.where(conv.weight >= 0, 1.0, -1.0)
    ref = F.conv2d(F.pad(x, (1, 1, 1, 1), value=float(pad_value)), wb, stride=2)
    assert torch.equal(conv(x), ref)
    assert not torch.equal(conv(x), F.conv2d(x, wb, stride=2, padding=1))  # zero padding differs
    with pytest.raises(ValueError, match="pad_value"):
        BinaryConv2d(2, 3, 3, padding=1, pad_value=0)


def test_batchnorm_eval_is_the_fused_float32_form():
    bn = BatchNorm(3)
    bn.train()
    bn(torch.randn(64, 3) * 3 + 1)
    bn.eval()
    x = torch.randn(10, 3)
    c = bn.weight / torch.sqrt(bn.running_var + torch.tensor(bn.eps))
    assert torch.equal(bn(x), (x - bn.running_mean) * c + bn.bias)
    ref = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    torch.testing.assert_close(bn(x), ref)  # same function as torch's BatchNorm up to rounding
