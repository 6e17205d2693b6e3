"""DataComp's first-synset rule through nltk's WordNet reader (issue 10, item 4).

WordNet itself cannot be downloaded in a test, so ``tiny_wordnet`` writes a small dict
directory in WordNet 3.0's file format (data files whose synset ids are byte offsets,
index files, exception lists, lexnames), which nltk's own ``WordNetCorpusReader`` reads.
Where Debian's ``wordnet-base`` is installed (/usr/share/wordnet), one test also runs the
rule on the real WordNet 3.0 data.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from baselines.datacomp_filters import DataCompText
from baselines.wordnet_in21k import FirstSynsetRule, check_dict_dir
from harness.errors import SelbenchError
from harness.pool.layout import Pool
from harness.select.base import Budget
from harness.select.engine import build_params, make_context, pool_uids, select_mask
from pool_fixtures import unit_rows, write_pool

pytest.importorskip("nltk")


def make_pool(root, texts):
    """A one-shard pool with ``texts`` as captions, English by construction (pool.json)."""
    img = unit_rows(np.random.default_rng(0).normal(size=(len(texts), 4)))
    return write_pool(root, img, img, texts=list(texts), dtype=np.float32, info={"english": True})


def select(cls, pool_dir, params, budget):
    pool = Pool.open(pool_dir)
    ctx = make_context(pool, 0)
    mask = select_mask(cls(build_params(cls, params), ctx), pool, budget, pool_uids(pool),
                       np.random.Generator(np.random.PCG64(0)))
    return mask, ctx.extra

LEXNAMES = ("adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
            "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
            "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession "
            "noun.process noun.quantity noun.relation noun.shape noun.state noun.substance noun.time "
            "verb.body verb.change verb.cognition verb.communication verb.competition verb.consumption "
            "verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession "
            "verb.social verb.stative verb.weather adj.ppl").split()
HEADER = "  1 WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved.\n"
# (key, pos, lemmas, gloss); each lemma's senses are listed in this order
SYNSETS = [
    ("river_bank", "n", ["bank"], "sloping land beside a body of water"),
    ("bank_building", "n", ["bank", "bank_building"], "a building in which a bank is housed"),
    ("dog", "n", ["dog", "domestic_dog"], "a domesticated canid"),
    ("goose", "n", ["goose"], "a web-footed bird"),
    ("angstrom", "n", ["angstrom", "a"], "a metric unit of length"),
    ("vitamin_a", "n", ["vitamin_a", "a"], "a fat-soluble vitamin"),
    ("photo", "n", ["photograph", "photo"], "a picture"),
    ("run", "v", ["run"], "move fast on foot"),
]
EXC = {"noun": ["geese goose"], "verb": ["ran run"], "adj": [], "adv": []}
FILE = {"n": "noun", "v": "verb"}


def tiny_wordnet(root: Path) -> dict[str, int]:
    """Write the dict directory; return each synset's offset (its byte position in data.*)."""
    root.mkdir(parents=True)
    offsets, lines = {}, {"noun": [HEADER], "verb": [HEADER], "adj": [HEADER], "adv": [HEADER]}
    for key, pos, lemmas, gloss in SYNSETS:
        part = FILE[pos]
        offset = sum(len(x.encode()) for x in lines[part])
        offsets[key] = offset
        lex = LEXNAMES.index("noun.artifact" if pos == "n" else "verb.motion")
        words = " ".join(f"{w} 0" for w in lemmas)
        frames = " 01 + 02 00" if pos == "v" else ""
        lines[part].append(f"{offset:08d} {lex:02d} {pos} {len(lemmas):02x} {words} 000{frames} | {gloss}  \n")
    for part, content in lines.items():
        (root / f"data.{part}").write_text("".join(content))
    index: dict[str, dict[str, list[int]]] = {p: {} for p in lines}
    for key, pos, lemmas, _ in SYNSETS:
        for w in lemmas:
            index[FILE[pos]].setdefault(w, []).append(offsets[key])
    for part, words in index.items():
        rows = [HEADER] + [f"{w} {part[0] if part != 'adj' else 'a'} {len(o)} 0 {len(o)} 0 "
                           + " ".join(f"{x:08d}" for x in o) + "  \n" for w, o in sorted(words.items())]
        (root / f"index.{part}").write_text("".join(rows))
    for part, rows in EXC.items():
        (root / f"{part}.exc").write_text("".join(r + "\n" for r in rows))
    pos_of = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
    (root / "lexnames").write_text("".join(f"{i:02d}\t{n}\t{pos_of[n.split('.')[0]]}\n"
                                           for i, n in enumerate(LEXNAMES)))
    return offsets


@pytest.fixture
def wordnet_dir(tmp_path):
    root = tmp_path / "wn"
    return root, tiny_wordnet(root)


IN21K = ("bank_building", "dog", "goose", "vitamin_a")
CAPTIONS = [
    ("a dog on the grass", True),      # dog's first synset is an ImageNet-21k synset
    ("geese by the lake", True),       # irregular plural through noun.exc: goose
    ("Dogs", True),                    # lowercased, regular plural
    ("the river bank", False),         # bank's FIRST synset is the river bank (not in 21k)
    ("a photo", False),                # a's first synset is the angstrom, not vitamin A
    ("they ran", False),               # run's first synset is a verb, not in the set
    ("dog!", False),                   # words are not stripped of punctuation
    ("", False),
]


def test_first_synset_rule_on_a_wordnet_dict(wordnet_dir):
    root, offsets = wordnet_dir
    rule = FirstSynsetRule(str(check_dict_dir(root)), frozenset(offsets[k] for k in IN21K))
    assert [rule(t) for t, _ in CAPTIONS] == [k for _, k in CAPTIONS]
    assert rule(None) is False


def test_datacomp_text_uses_wordnet_and_records_it(wordnet_dir, tmp_path, monkeypatch):
    root, offsets = wordnet_dir
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "imagenet21k_wordnet_ids.txt").write_text("".join(f"n{offsets[k]:08d}\n" for k in IN21K))
    monkeypatch.setenv("SELBENCH_ASSETS", str(assets))
    pool = make_pool(tmp_path / "p", [t for t, _ in CAPTIONS])
    mask, extra = select(DataCompText, pool, {"wordnet": str(root)}, Budget(natural=True))
    assert mask.tolist() == [k for _, k in CAPTIONS]
    assert extra["in21k_match"].startswith("exact: first WordNet synset") and "DataComp's list" in extra["in21k_match"]
    # the lemma fallback, labelled: it differs on "the river bank" (a lemma of a 21k synset) and
    # "geese" (no irregular plurals)
    mask, extra = select(DataCompText, pool, {"wordnet": "lemmas"}, Budget(natural=True))
    assert extra["in21k_match"].startswith("APPROXIMATION")
    assert mask[3] and not mask[1]


def test_bad_wordnet_directory_is_one_line(tmp_path, wordnet_dir):
    root, _ = wordnet_dir
    (root / "lexnames").unlink()
    pool = make_pool(tmp_path / "p", ["a dog"])
    with pytest.raises(SelbenchError, match="lexnames is missing"):
        select(DataCompText, pool, {"wordnet": str(root)}, Budget(natural=True))
    with pytest.raises(SelbenchError, match="not a directory"):
        select(DataCompText, pool, {"wordnet": str(tmp_path / "nope")}, Budget(natural=True))


DEBIAN = Path("/usr/share/wordnet")


@pytest.mark.skipif(not (DEBIAN / "data.noun").is_file(), reason="Debian's wordnet-base is not installed")
def test_real_wordnet_30(tmp_path):
    # Debian ships WordNet 3.0's files without lexnames: copy them and add it
    root = tmp_path / "wn30"
    root.mkdir()
    for f in DEBIAN.iterdir():
        if f.is_file():
            shutil.copy(f, root / f.name)
    pos_of = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
    (root / "lexnames").write_text("".join(f"{i:02d}\t{n}\t{pos_of[n.split('.')[0]]}\n"
                                           for i, n in enumerate(LEXNAMES)))
    from baselines.wordnet_in21k import wordnet_reader

    wn = wordnet_reader(str(check_dict_dir(root)))
    assert wn.synsets("dog")[0].offset() == 2084071          # dog.n.01 = n02084071
    assert wn.synsets("geese")[0].name() == "goose.n.01"
    assert wn.synsets("a")[0].name() == "angstrom.n.01"      # not vitamin A
    rule = FirstSynsetRule(str(root), frozenset({2084071}))
    assert rule("two dogs") and not rule("a cat")
    ids = np.array([2084071])
    assert int(ids[0]) in rule.offsets
