"""float32 row blocks of stored embeddings, checked finite (harness.select.embeddings)."""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from harness.errors import SelbenchError
from harness.select import embeddings as emb


@dataclass
class _Files:
    npz: Path = Path("pool/00000003.npz")


@dataclass
class _Shard:
    embeddings: dict
    files: _Files = field(default_factory=_Files)


def _rows(n, d, dtype, seed=0):
    """Unit-norm rows (the pool's rule) of ``dtype``."""
    a = np.random.default_rng(seed).normal(size=(n, d))
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_blocks_cover_every_row_exactly_once_as_float32(dtype):
    img, txt = _rows(23, 4, dtype, 1), _rows(23, 4, dtype, 2)
    shard = _Shard({"a_img": img, "a_txt": txt})
    seen = []
    for start, (f, g) in emb.float32_blocks(shard, ["a_img", "a_txt"], rows=5):
        assert f.dtype == g.dtype == np.float32 and f.flags.c_contiguous
        np.testing.assert_array_equal(f, img[start:start + len(f)].astype(np.float32))
        np.testing.assert_array_equal(g, txt[start:start + len(g)].astype(np.float32))
        seen.append((start, len(f)))
    assert seen == [(0, 5), (5, 5), (10, 5), (15, 5), (20, 3)]
    np.testing.assert_array_equal(emb.shard_float32(shard, "a_img"), img.astype(np.float32))
    assert emb.check_stored_finite(shard, "a_txt") is txt


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_first_non_finite_row_is_named_with_its_shard_row(bad, dtype):
    img = _rows(20, 4, dtype)
    img[13, 2] = bad
    img[17, 0] = bad
    img[12] *= 2                       # off-norm, but a non-finite row of its block comes first
    shard = _Shard({"a_img": img})
    for call in (lambda: list(emb.float32_blocks(shard, ["a_img"], rows=6)),
                 lambda: emb.shard_float32(shard, "a_img"),
                 lambda: emb.check_stored_finite(shard, "a_img")):
        with pytest.raises(SelbenchError, match=r"invalid pool: pool/00000003\.npz: a_img row 13: "
                                                r"non-finite values \(`selbench pool validate pool=pool`"):
            call()


def test_rows_off_unit_norm_are_named():
    img = _rows(20, 4, np.float32)
    img[11] *= 1.5
    shard = _Shard({"a_img": img})
    with pytest.raises(SelbenchError, match=r"a_img row 11: norm 1\.5000 is not 1 within 0\.01"):
        emb.shard_float32(shard, "a_img")


def test_keys_read_to_the_end_are_recorded_as_checked():
    shard = _Shard({"a_img": _rows(10, 4, np.float32), "a_txt": _rows(10, 4, np.float32)})
    shard.values_checked = set()
    blocks = emb.float32_blocks(shard, ["a_img"], rows=4)
    next(blocks)
    assert shard.values_checked == set()          # a reader that stops early checked only part
    list(blocks)
    assert shard.values_checked == {"a_img"}
