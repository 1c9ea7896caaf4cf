"""golden.payload: the one packer of stream beats, checked on a real gen field list."""

import random

import pytest

from golden.payload import pack_payload, unpack_payload
from hdl.config import AccelConfig
from hdl.layouts import beat_layout, layout_fields


@pytest.fixture
def fields():
    return layout_fields(beat_layout(AccelConfig(rows=3, cols=2, k=7, max_fanin=63)))


def test_round_trip_and_offsets(fields):
    rng = random.Random(1)
    for _ in range(50):
        beat = {f["name"]: ([rng.randrange(1 << (f["width"] // f["count"])) for _ in range(f["count"])]
                            if "count" in f else rng.randrange(1 << f["width"])) for f in fields}
        word = pack_payload(fields, beat)
        assert word < 1 << sum(f["width"] for f in fields)
        assert unpack_payload(fields, word) == beat
    act = next(f for f in fields if f["name"] == "act")
    assert pack_payload(fields, {"act": [0, 1, 0]}) == 1 << (act["offset"] + act["width"] // 3)


@pytest.mark.parametrize("beat, message", [
    ({"act": [128, 0, 0]}, r"field act\[0\] = 128 does not fit 7 bits"),
    ({"act": [0, -1, 0]}, r"field act\[1\] = -1 does not fit 7 bits"),
    ({"act": [0, 0]}, r"field act: 2 elements, expected 3"),
    ({"first": 2}, r"field first = 2 does not fit 1 bits"),
])
def test_values_that_do_not_fit_are_errors(fields, beat, message):
    with pytest.raises(ValueError, match=message):
        pack_payload(fields, beat)


def test_unknown_field_is_an_error(fields):
    with pytest.raises(KeyError, match="no payload field 'acts'"):
        pack_payload(fields, {"acts": [0, 0, 0]})
