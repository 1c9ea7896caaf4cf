"""The packed integer model equals the torch eval model on the full digits test split."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch import nn
from tqdm import tqdm

from golden import data
from golden.export import export
from golden.intmodel import IntModel
from golden.layers import BatchNorm, BinaryConv2d, Sign
from golden.models import Block, Head, Net, cnn, mlp
from golden.program import load
from golden.train import compare, fit, scores

torch.set_num_threads(1)
DEFAULT = os.path.join(os.path.dirname(__file__), "..", "golden", "programs", "default.npz")


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", "train"), data.load("digits", "test")


def _trained(net, train, steps_epochs=1):
    """A briefly trained net: exactness does not need accuracy, only non-trivial BatchNorm stats."""
    small = data.Split(train.x[:512], train.y[:512])
    with tqdm(disable=True) as bar:
        return fit(net, small, steps_epochs, 32, 1e-2, 0, bar)


def _strided(s):
    """Stride-2 convs (one padded with +1): shapes 8x8 -> 3x3 -> 2x2."""
    stages = [Block(BinaryConv2d(1, 4, 3, stride=2), BatchNorm(4), Sign()),
              Block(BinaryConv2d(4, 6, 3, stride=2, padding=1, pad_value=1), BatchNorm(6), Sign()),
              nn.Flatten(), Head(24, 10, binary=True)]
    return Net(stages, "cnn", True, "u8", s, 10)


CASES = {
    "cnn-stride2": _strided,
    "mlp-u8": lambda s: mlp(s, 10, (48, 40)),
    "mlp-bits-alpha": lambda s: mlp(s, 10, (33,), input_kind="bits", scaling=True),
    "cnn-u8-alpha": lambda s: cnn(s, 10, (4, 6, 5), 12, scaling=True),
    "cnn-bits": lambda s: cnn(s, 10, (3, 4, 4), 9, input_kind="bits"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_int_model_equals_torch_on_full_digits_test_split(case, digits):
    train, test = digits
    torch.manual_seed(3)
    net = _trained(CASES[case](train.x.shape[1:]), train)
    prog = export(net)
    s = scores(net, test.x)
    res = IntModel(prog).predict(test.x, batch=100)
    assert len(test) == 360
    np.testing.assert_array_equal(res.scores, s)  # exact float32 equality of every score
    np.testing.assert_array_equal(res.pred, s.argmax(1))
    # the torch pre-scale head output is the integer 2P - K
    head = net.stages[-1]
    np.testing.assert_array_equal(res.dot.astype(np.float32) * head.scale.value().detach().numpy(), s)
    assert compare(prog, s, test.x)[0] == 0


def test_int_model_hidden_bits_equal_torch_activations(digits):
    """Layer by layer, not only at the head: every stage's bits equal torch's +-1 activations."""
    train, test = digits
    torch.manual_seed(4)
    net = _trained(cnn(train.x.shape[1:], 10, (4, 6, 5), 12), train)
    trace: list = []
    IntModel(export(net)).forward(test.x[:50], trace)
    x = torch.from_numpy(test.x[:50]).float()
    pos = -1
    with torch.no_grad():
        for st in net.stages[:-1]:
            x = st(x)
            pos += 2 if getattr(st, "pool", None) is not None else 1  # a pooled block is conv + maxpool
            np.testing.assert_array_equal(trace[pos], (x.numpy() >= 0).astype(np.uint8))
    assert pos == len(trace) - 2  # every stage checked; the last trace entry is the head's 2P - K


def test_shipped_default_program_runs_and_matches_its_record(digits):
    prog = load(DEFAULT)
    _, test = digits
    res = IntModel(prog).predict(test.x)
    acc = float(np.mean(res.pred == test.y))
    assert acc >= 0.93
    assert round(acc, 4) == prog.manifest["meta"]["int_test_acc"]
    assert os.path.getsize(DEFAULT) < 1_000_000
