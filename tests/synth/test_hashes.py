import numpy as np

from harness.synth.build import make_disjoint
from harness.synth.hashes import pixel_hash, pixel_hashes


def test_make_disjoint_changes_only_colliding_rows():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    forbidden = {pixel_hash(images[1]), pixel_hash(images[3])}
    out = make_disjoint(images, forbidden)
    assert not set(pixel_hashes(out)) & forbidden
    for i in (0, 2, 4):
        assert np.array_equal(out[i], images[i])
    assert np.abs(out[1].astype(int) - images[1]).max() > 0
    assert make_disjoint(images, set()) is images
