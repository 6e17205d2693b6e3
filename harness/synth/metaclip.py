"""MetaCLIP-style metadata entries for the embedded pool: the concept vocabulary (names,
synonyms, colours, textures, sizes, positions, digits, sentiment words) plus a general
English word list (``assets/english_words.txt``)."""
from __future__ import annotations

from pathlib import Path

from harness.synth import vocab

WORDS_FILE = Path(__file__).resolve().parent / "assets" / "english_words.txt"


def english_words() -> tuple[str, ...]:
    """The bundled English word list (one lowercase word per line)."""
    return tuple(w for w in WORDS_FILE.read_text().split() if w)


def metadata_entries() -> list[str]:
    """Sorted, de-duplicated lowercase metadata entries."""
    entries = set(english_words())
    for c in vocab.CONCEPTS:
        entries.update(c.synonyms)
    for table in (vocab.COLORS, vocab.SIZES, vocab.BACKGROUNDS):
        for name, (_, syn) in table.items():
            entries.add(name)
            entries.update(s for s in syn if len(s.split()) <= 2)
    for name, syn in vocab.TEXTURES.items():
        entries.add(name)
        entries.update(syn)
    entries.update(vocab.POSITIONS)
    entries.update(vocab.DIGIT_WORDS)
    entries.update(str(d) for d in range(10))
    entries.update(vocab.POSITIVE_WORDS + vocab.NEGATIVE_WORDS)
    return sorted(e.lower() for e in entries)
