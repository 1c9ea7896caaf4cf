"""Trained torch Net -> accelerator Program: fold every Block, pack every binary weight matrix.

Why separate from program.py: the file format must not depend on torch; this module is the only
place that knows both the torch modules and the program layout.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from golden.conventions import pack_bits, to_bits
from golden.errors import ProgramError
from golden.fold import fold_float32
from golden.layers import BatchNorm, BinaryConv2d, BinaryLinear, MultiThresholdAct, Sign
from golden.models import Block, Head, Net
from golden.program import FORMAT, VERSION, Program, validate

__all__ = ["export", "layer_params"]


def _np(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy().astype(np.float32)


def layer_params(layer: nn.Module) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(weight bits [out, k] in torch flatten order, alpha or None, bias or None) as torch uses them."""
    with torch.no_grad():
        bits = to_bits(layer.binary_weight().reshape(layer.weight.shape[0], -1))
        alpha = _np(layer.alpha()) if layer.scaling else None
    return bits, alpha, _np(layer.bias)


@torch.no_grad()
def export(net: Net, meta: dict | None = None) -> Program:
    """Fold and pack a binary Net (eval-mode semantics) into a validated Program."""
    if not net.binary:
        raise ProgramError("only binary networks can be exported (this is an FP32 twin)")
    layers: list[dict] = []
    tensors: dict[str, np.ndarray] = {}
    acc = "u8dot" if net.input_kind == "u8" else "popcount"
    for idx, stage in enumerate(net.stages):
        name = f"l{idx}"
        if isinstance(stage, nn.Flatten):
            layers.append({"op": "flatten"})
        elif isinstance(stage, Block):
            lay, bn, act = stage.layer, stage.bn, stage.act
            if not isinstance(bn, BatchNorm) or not isinstance(lay, BinaryLinear | BinaryConv2d):
                raise ProgramError(f"stage {idx}: not a binary layer + golden.layers.BatchNorm")
            if isinstance(act, MultiThresholdAct):
                raise ProgramError(f"stage {idx}: k-bit activations fold (fold.fold_float32 levels) "
                                   "but are not runnable by the integer model yet")
            if not isinstance(act, Sign):
                raise ProgramError(f"stage {idx}: activation {type(act).__name__} is not foldable")
            bits, alpha, bias = layer_params(lay)
            k = bits.shape[1]
            folded = fold_float32(acc, k, _np(bn.running_mean), _np(bn.folded_scale()), _np(bn.bias),
                                  alpha=alpha, bias=bias)
            if isinstance(lay, BinaryLinear):
                layers.append({"op": "dense", "name": name, "in_features": lay.in_features,
                               "out_features": lay.out_features, "k": k, "acc": acc, "n_thresholds": 1})
            else:
                if lay.kernel_size[0] != lay.kernel_size[1] or lay.stride[0] != lay.stride[1]:
                    raise ProgramError(f"stage {idx}: only square kernels and strides are supported")
                layers.append({"op": "conv", "name": name, "in_channels": lay.in_channels,
                               "out_channels": lay.out_channels, "kernel": lay.kernel_size[0],
                               "stride": lay.stride[0], "pad": lay.pad, "pad_value": lay.pad_value,
                               "k": k, "acc": acc, "n_thresholds": 1})
            tensors[f"{name}.weight"] = pack_bits(bits)
            tensors[f"{name}.thresholds"] = folded.thresholds.astype(np.int64)
            tensors[f"{name}.polarity"] = folded.polarity.astype(np.int8)
            if stage.pool is not None:
                layers.append({"op": "maxpool", "kernel": 2})
            acc = "popcount"
        elif isinstance(stage, Head):
            lay = stage.layer
            if lay.scaling or lay.bias is not None:
                raise ProgramError("the head must have no alpha scaling and no bias (integer argmax)")
            bits, _, _ = layer_params(lay)
            layers.append({"op": "head", "name": "head", "in_features": lay.in_features,
                           "out_features": lay.out_features, "k": bits.shape[1], "acc": acc})
            tensors["head.weight"] = pack_bits(bits)
            tensors["head.scale"] = _np(stage.scale.value()).reshape(1)
        else:
            raise ProgramError(f"stage {idx}: cannot export {type(stage).__name__}")
    manifest = {"format": FORMAT, "version": VERSION,
                "input": {"kind": net.input_kind, "shape": list(net.in_shape)},
                "classes": net.classes, "layers": layers, "meta": dict(meta or {})}
    return validate(manifest, tensors)
