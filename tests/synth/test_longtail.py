import numpy as np

from harness.synth.longtail import (concept_probabilities, concept_ranks, frequency_group,
                                    zipf_probabilities)
from harness.synth.plan import defect_counts
from harness.synth.presets import load_preset
from harness.synth.vocab import CONCEPTS


def test_zipf_probabilities_by_hand():
    p = zipf_probabilities(3, 1.0)
    np.testing.assert_allclose(p, np.array([1, 1 / 2, 1 / 3]) / (11 / 6))


def test_tiny_preset_head_is_at_least_100x_the_tail():
    cfg = load_preset("tiny")
    p = concept_probabilities(len(CONCEPTS), cfg["zipf_exponent"], seed=0)
    expected = p * cfg["pool_size"] * cfg["domains"]["object"]
    assert expected.max() / expected.min() >= 100
    assert expected.min() >= 50  # the rarest concept still appears


def test_ranks_are_a_seeded_permutation():
    r0, r1 = concept_ranks(48, 0), concept_ranks(48, 1)
    assert sorted(r0) == list(range(48))
    assert np.array_equal(r0, concept_ranks(48, 0)) and not np.array_equal(r0, r1)


def test_frequency_groups():
    groups = frequency_group(np.array([0, 15, 16, 31, 32, 47, -1]), 48)
    assert list(groups) == ["head", "head", "mid", "mid", "tail", "tail", None]


def test_defect_counts_round_rates():
    cfg = {"defects": {"mismatched": 0.25, "generic": 0.1}}
    assert defect_counts(cfg, 1000) == {"clean": 650, "mismatched": 250, "uninformative": 0,
                                        "generic": 100, "duplicate": 0, "corrupted": 0,
                                        "off_domain": 0, "text_in_image": 0}
