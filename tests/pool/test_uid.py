"""uid codec: hex <-> (u8, u8), both directions."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import SelbenchError
from harness.pool.uid import (UID_DTYPE, array_to_uids, pair_to_uid, sort_uid_array,
                              uid_to_pair, uids_to_array)

u64 = st.integers(min_value=0, max_value=2**64 - 1)


@settings(max_examples=200, deadline=None)
@given(u64, u64)
def test_pair_round_trip(hi, lo):
    uid = pair_to_uid(hi, lo)
    assert len(uid) == 32
    assert uid_to_pair(uid) == (hi, lo)
    assert divmod(int(uid, 16), 2**64) == (hi, lo)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(u64, u64), max_size=40))
def test_array_round_trip(pairs):
    uids = [pair_to_uid(h, l) for h, l in pairs]
    arr = uids_to_array(uids)
    assert arr.dtype == UID_DTYPE
    assert [tuple(map(int, x)) for x in arr] == pairs
    assert array_to_uids(arr) == uids


def test_known_value():
    uid = "00000000000000010000000000000002"
    assert uid_to_pair(uid) == (1, 2)
    assert uid_to_pair("ffffffffffffffff0000000000000000") == (2**64 - 1, 0)
    assert tuple(uids_to_array(["FFFFFFFFFFFFFFFF000000000000000A"])[0]) == (2**64 - 1, 10)


@pytest.mark.parametrize("bad", ["", "abc", "g" * 32, "0" * 31, "0" * 33, " " + "0" * 31])
def test_invalid_uid(bad):
    with pytest.raises(SelbenchError, match="invalid uid"):
        uid_to_pair(bad)
    with pytest.raises(SelbenchError, match="invalid uid"):
        uids_to_array(["0" * 32, bad])


def test_sort_order_matches_integer_order():
    rng = np.random.default_rng(0)
    ints = [int(x) for x in rng.integers(0, 2**62, 100)] + [2**127, 2**64, 2**64 - 1]
    uids = [f"{v:032x}" for v in ints]
    arr = sort_uid_array(uids_to_array(uids))
    assert array_to_uids(arr) == [f"{v:032x}" for v in sorted(ints)]
