"""DataComp's text-based rule, exactly: a caption word whose FIRST WordNet synset is an ImageNet-21k synset.

As DataComp's ``does_contain_text_entity``: the caption is split on whitespace; for each
word, nltk's ``synsets(word)`` (lowercased, morphy base forms, irregular plurals from the
exception lists, parts of speech in nltk's order noun, verb, adjective, adverb) gives a
list; the first synset's ``offset()`` is looked up in the set of ImageNet-21k WordNet ids
(``n01234567`` -> 1234567). Like DataComp, only the offset is compared, whatever the part
of speech of that first synset.

WordNet comes from nltk's data path (``nltk.download('wordnet')`` done beforehand), or from
a WordNet 3.0 dict directory the user names (``data.noun``, ``index.noun``, ``*.exc``,
``lexnames``, ...), read with nltk's ``WordNetCorpusReader``. The ImageNet-21k ids are
DataComp's own list when downloaded (``selbench download-assets
only=[imagenet21k_wordnet_ids]``), else timm's ``imagenet21k_goog_synsets.txt``; which one
is recorded.
"""
from __future__ import annotations

from pathlib import Path

from harness.errors import SelbenchError

NLTK = "nltk"  # WordNet from nltk's data path
REQUIRED = ("lexnames", "data.noun", "index.noun", "noun.exc", "data.adj", "index.adj",
            "data.verb", "index.verb", "data.adv", "index.adv", "adj.exc", "adv.exc", "verb.exc")
_READERS: dict[str, object] = {}  # one reader per source and process


def nltk_has_wordnet() -> bool:
    """True when nltk's data path holds the WordNet corpus (nothing is downloaded)."""
    try:
        import nltk

        nltk.data.find("corpora/wordnet")
        return True
    except LookupError:
        try:
            nltk.data.find("corpora/wordnet.zip")
            return True
        except LookupError:
            return False


def check_dict_dir(path: Path) -> Path:
    """``path`` resolved when it is a WordNet 3.0 dict directory; a one-line error naming the
    first missing file otherwise."""
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise SelbenchError(f"strategy.wordnet={path}: not a directory (a WordNet 3.0 dict directory)")
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if missing:
        raise SelbenchError(f"strategy.wordnet={path}: {missing[0]} is missing (a WordNet 3.0 dict "
                            f"directory has {', '.join(REQUIRED)})")
    return path


def wordnet_reader(source: str):
    """nltk's WordNet reader for ``source`` (``nltk`` or a dict directory), cached per process."""
    if source not in _READERS:
        if source == NLTK:
            from nltk.corpus import wordnet

            wordnet.ensure_loaded()
            _READERS[source] = wordnet
        else:
            import warnings

            import nltk
            from nltk.corpus.reader.wordnet import WordNetCorpusReader

            class DictReader(WordNetCorpusReader):
                """English WordNet from a dict directory: no mapping to nltk's own copy
                (only used for multilingual lookups, which the rule does not make)."""

                def map_wn(self, version="wordnet"):
                    return None

            if source not in nltk.data.path:  # nltk reads only from authorised roots
                nltk.data.path.append(source)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "multilingual functions are not available"
                _READERS[source] = DictReader(source, None)
    return _READERS[source]


def read_in21k_ids(path: Path) -> frozenset[int]:
    """WordNet offsets of the ImageNet-21k synsets listed in ``path`` (``n01234567`` per line)."""
    ids = set()
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").split(), 1):
        if len(line) != 9 or line[0] != "n" or not line[1:].isdigit():
            raise SelbenchError(f"{path}: entry {n} {line!r} is not a WordNet id like n01234567")
        ids.add(int(line[1:]))
    return frozenset(ids)


class FirstSynsetRule:
    """Picklable per-caption test: does a word's first synset offset lie in ``offsets``?"""

    def __init__(self, source: str, offsets: frozenset[int]):
        self.source, self.offsets = source, offsets
        self._first: dict[str, int | None] = {}

    def first_offset(self, word: str) -> int | None:
        """The offset of ``word``'s first synset (None without one), memoised."""
        if word not in self._first:
            synsets = wordnet_reader(self.source).synsets(word)
            self._first[word] = synsets[0].offset() if synsets else None
        return self._first[word]

    def __call__(self, text) -> bool:
        """True when some whitespace-separated word of ``text`` passes (DataComp's rule)."""
        if text is None:
            return False
        return any(self.first_offset(w) in self.offsets for w in text.split())

    def __getstate__(self):
        return {"source": self.source, "offsets": self.offsets, "_first": {}}
