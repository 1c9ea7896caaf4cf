"""golden.reference.ref_array (every PE at once) against its definition, ref_pe per PE."""

import random

import numpy as np
import pytest

from golden.reference import drain_beats, ref_array, ref_pe
from golden.stimulus import _params, cases, make_reduction


def _per_pe(params, reductions):
    R, C, K, W = (int(params[n]) for n in ("rows", "cols", "k", "weight_rows"))
    out = []
    for red in reductions:
        p = [[ref_pe([b[r] for b in red.act], [b[(r % W) * C + c] for b in red.wgt], K) for c in range(C)]
             for r in range(R)]
        out.extend(drain_beats(params, np.array(p), red.split, red.chan_block))
    return out


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_ref_array_equals_ref_pe_on_the_shared_cases(case):
    params = dict(case.config)
    assert ref_array(params, case.reductions) == _per_pe(params, case.reductions)


@pytest.mark.parametrize("rows,cols,k,w", [(1, 1, 1, 1), (3, 2, 65, 3), (2, 5, 256, 1), (4, 3, 9, 2)])
def test_ref_array_equals_ref_pe_random(rows, cols, k, w):
    rng = random.Random(rows * 1000 + cols * 100 + k)
    p = _params(rows, cols, k, max_fanin=40 * k, weight_rows=w)
    reds = [make_reduction(rng, p, rng.randint(1, 5), split=rng.randint(0, 2)) for _ in range(4)]
    assert ref_array(p, reds) == _per_pe(p, reds)
