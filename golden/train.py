"""Train a binary network and its FP32 twin, verify the integer model, export the program.

    python -m golden.train --dataset digits|fashion-mnist --arch mlp|cnn [--epochs N] [--seed S] [--out F]

Progress goes to stderr (tqdm); stdout gets exactly one JSON line: test accuracies of the binary
network, its FP32 twin and the integer model, integer-model mismatches against torch (a sample
mismatches if any head score or the argmax differs), and seconds. Seeds fix initialization and
batch order, so a run repeats exactly on the same machine and thread count.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import torch
from tqdm import tqdm

from golden import data
from golden.cli import ArgParser, check_out_path, run_main
from golden.errors import DataError
from golden.export import export
from golden.intmodel import IntModel
from golden.layers import clip_weights
from golden.models import ARCHS, INPUT_KINDS, Net, build
from golden.program import Program, save

MAX_SEED = 2**32 - 1  # torch and numpy seeds beyond 64 bits overflow; 32 bits are plenty
DEFAULTS = {  # (epochs, batch, lr) per dataset, chosen by measurement (see bench/bench_golden.py)
    "digits": (40, 32, 1e-2),
    "fashion-mnist": (20, 128, 5e-3),
}


def set_threads(requested: int = 0) -> int:
    """Intra-op threads: ``requested``, else min(2, cores).

    Fixed rather than load-dependent, because the thread count changes float reduction order and
    so the trained weights: the same seed and thread count give the same program. OMP_WAIT_POLICY
    is PASSIVE (golden/__init__.py), which keeps 2 threads cheap on a busy machine."""
    n = requested or max(1, min(2, os.cpu_count() or 1))
    torch.set_num_threads(n)
    return n


def fit(net: Net, split: data.Split, epochs: int, batch: int, lr: float, seed: int, bar: tqdm) -> Net:
    """Adam + cosine schedule + cross-entropy; BinaryConnect clipping of latent binary weights."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(split.x).float()
    y = torch.from_numpy(split.y)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * (len(y) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    loss_fn = torch.nn.CrossEntropyLoss()
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        for s in range(0, len(y) - batch + 1, batch):  # drop the ragged tail: BatchNorm needs > 1 sample
            idx = perm[s:s + batch]
            loss = loss_fn(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if net.binary:
                clip_weights(net)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    net.eval()
    return net


@torch.no_grad()
def scores(net: Net, x: np.ndarray, batch: int = 2048) -> np.ndarray:
    """Eval-mode float32 scores [N, classes]."""
    net.eval()
    return torch.cat([net(torch.from_numpy(x[s:s + batch])) for s in range(0, len(x), batch)]).numpy()


def compare(program: Program, torch_scores: np.ndarray, x: np.ndarray) -> tuple[int, np.ndarray]:
    """(#samples where the integer model's scores or argmax differ from torch's, integer predictions)."""
    res = IntModel(program).predict(x)
    bad = np.any(res.scores != torch_scores, axis=1) | (res.pred != torch_scores.argmax(axis=1))
    return int(bad.sum()), res.pred


def run(dataset: str, arch: str, epochs: int | None = None, seed: int = 0, out: str | None = None,
        batch: int | None = None, lr: float | None = None, input_kind: str = "u8", twin: bool = True,
        scaling: bool = False, stochastic: bool = False, quiet: bool = False, threads: int = 0) -> dict:
    """Train (binary + twin), check the integer model on the test split, export; return the summary."""
    t0 = time.perf_counter()
    threads = set_threads(threads)
    d_ep, d_b, d_lr = DEFAULTS[dataset]
    epochs, batch, lr = epochs or d_ep, batch or d_b, lr or d_lr
    train, test = data.load(dataset, "train"), data.load(dataset, "test")
    if len(train) < batch:  # else fit() would run no step and export an untrained network
        raise DataError(f"{dataset} train split has {len(train)} samples, fewer than one batch of {batch}")
    shape, classes = train.x.shape[1:], data.n_classes(dataset)
    steps = epochs * (len(train) // batch) * (2 if twin else 1)
    summary: dict = {"dataset": dataset, "arch": arch, "input": input_kind, "epochs": epochs, "seed": seed,
                     "threads": threads}
    with tqdm(total=steps, desc=f"{dataset}/{arch}", file=sys.stderr, disable=quiet, mininterval=1.0,
              dynamic_ncols=True) as bar:
        torch.manual_seed(seed)
        net = build(arch, dataset, shape, classes, binary=True, input_kind=input_kind, scaling=scaling,
                    stochastic=stochastic)
        t1 = time.perf_counter()
        fit(net, train, epochs, batch, lr, seed, bar)
        summary["binary_train_seconds"] = round(time.perf_counter() - t1, 2)
        if twin:
            torch.manual_seed(seed)
            fp = build(arch, dataset, shape, classes, binary=False, input_kind=input_kind)
            t1 = time.perf_counter()
            fit(fp, train, epochs, batch, lr, seed, bar)
            summary["fp32_train_seconds"] = round(time.perf_counter() - t1, 2)
    s_bin = scores(net, test.x)
    summary["binary_test_acc"] = round(float((s_bin.argmax(1) == test.y).mean()), 4)
    if twin:
        summary["fp32_test_acc"] = round(float((scores(fp, test.x).argmax(1) == test.y).mean()), 4)
    meta = {"dataset": dataset, "arch": arch, "seed": seed, "epochs": epochs, "batch": batch, "lr": lr,
            "torch": torch.__version__, "binary_test_acc": summary["binary_test_acc"]}
    program = export(net, meta)
    t1 = time.perf_counter()
    mismatches, pred = compare(program, s_bin, test.x)
    summary["int_seconds"] = round(time.perf_counter() - t1, 2)
    summary["int_test_acc"] = round(float((pred == test.y).mean()), 4)
    summary["int_mismatches"] = mismatches
    summary["test_samples"] = len(test)
    if out:
        program.manifest["meta"]["int_test_acc"] = summary["int_test_acc"]
        save(program, out)
        summary["out"] = out
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary


def main(argv: list[str] | None = None) -> int:
    p = ArgParser(prog="python -m golden.train", description="Train a BNN + FP32 twin and export a program.")
    p.add_argument("--dataset", required=True, choices=data.DATASETS)
    p.add_argument("--arch", required=True, choices=ARCHS)
    p.add_argument("--epochs", type=int, help="default: 40 (digits), 20 (fashion-mnist)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the exported program (.npz) here (atomically)")
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--input", dest="input_kind", choices=INPUT_KINDS, default="u8",
                   help="u8: 8-bit pixels into a binary-weight first layer; bits: binarized pixels")
    p.add_argument("--no-twin", dest="twin", action="store_false", help="skip the FP32 twin")
    p.add_argument("--scaling", action="store_true", help="XNOR-Net per-channel alpha = mean|W|")
    p.add_argument("--stochastic", action="store_true", help="stochastic binarization while training")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: min(2, cores)); part of what makes a run repeat")
    a = p.parse_args(argv)
    if not 0 <= a.threads <= 64:
        p.error(f"--threads must be in [0, 64], got {a.threads}")
    for name, lo in (("epochs", 1), ("batch", 2)):  # batch >= 2: training BatchNorm needs 2 values per channel
        v = getattr(a, name)
        if v is not None and not lo <= v <= 100000:
            p.error(f"--{name} must be in [{lo}, 100000], got {v}")
    if not 0 <= a.seed <= MAX_SEED:
        p.error(f"--seed must be in [0, {MAX_SEED}], got {a.seed}")
    if a.lr is not None and not (0 < a.lr <= 10):
        p.error(f"--lr must be in (0, 10], got {a.lr}")
    if a.out is not None and not a.out.endswith(".npz"):
        p.error(f"--out must name a .npz file, got {a.out!r}")
    check_out_path(p, a.out)
    summary = run(a.dataset, a.arch, a.epochs, a.seed, a.out, a.batch, a.lr, a.input_kind, a.twin,
                  a.scaling, a.stochastic, a.quiet, a.threads)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
