"""MetaCLIP curation (Xu et al., 2023): sub-string matching against metadata, then balancing.

Matching (exactly the reference's semantics): the caption becomes ``" " + text + " "``,
each of ``, . ; : ? ! ``` gets a space on both sides, tab/newline/carriage return become
spaces; entry ``e`` matches iff ``" " + e + " "`` occurs. An Aho-Corasick automaton over
the ``" " + e + " "`` patterns gives the same answer as the per-entry loop, since it
reports every occurrence, overlapping ones included ("a b" and "b c" in "a b c").

Balancing: ``count_e`` = texts matching ``e`` over the whole pool; ``p_e = min(1, t/count_e)``;
a text is kept with probability ``1 - prod_{e in M(x)} (1 - p_e)``; unmatched texts are
dropped. One uniform ``u_i`` per pool row (pool order, from the selection's generator)
decides: keep iff ``u_i < P_i(t)``.

Under a count/fraction budget the threshold is found per text: ``P_i`` is continuous and
increasing in ``t`` up to ``min_e count_e`` (where it reaches 1), so each text has a
critical ``t*_i = inf{t : P_i(t) > u_i}`` (found by bisection, ``max_t_iters`` halvings).
The texts kept at threshold ``t`` are exactly those with ``t*_i < t``, so the budget's
``k`` texts are the ``k`` smallest ``t*_i`` (ties, which only arise from equal coins or
bisection resolution, by uid ascending). The recorded ``t`` is the midpoint between the
k-th and (k+1)-th critical values: running ``budget=natural strategy.t=<t>`` with the same
seed keeps the same texts.

Without balancing (the paper's "t = infinity" ablation, ``strategy.t=inf``): every matched
text has ``P_i = 1``. Under ``budget=natural`` all matched texts are kept; under a count or
fraction budget the matched texts are subsampled uniformly to the budget: the ``k`` matched
texts with the smallest coins ``u_i`` (ties by uid), so the comparison with balancing is at
the same size, with the same matching and the same coins.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import SelbenchError
from harness.select.base import Budget, SetSelector, strategy, top_k_mask

PUNCTUATION = ",.;:?!`"
SPACED = "\t\n\r"
_SPACING = str.maketrans({**{c: f" {c} " for c in PUNCTUATION}, **{c: " " for c in SPACED}})


def spacing(text: str) -> str:
    """The caption as MetaCLIP matches it: padded, punctuation spaced, tabs/newlines spaced."""
    return " " + text.translate(_SPACING) + " "


def naive_match(text: str, entries: list[str]) -> list[int]:
    """Ids of ``entries`` matching ``text`` by the reference's per-entry ``in`` loop (sorted)."""
    spaced = spacing(text)
    return [i for i, e in enumerate(entries) if f" {e} " in spaced]


class Matcher:
    """A multi-pattern (Aho-Corasick) matcher over metadata entries; build with ``build_matcher``."""

    def __init__(self, entries: list[str]):
        import ahocorasick

        self.num_entries = len(entries)
        groups: dict[str, list[int]] = {}
        for i, e in enumerate(entries):
            groups.setdefault(f" {e} ", []).append(i)  # duplicate entries share one pattern
        self._automaton = ahocorasick.Automaton()
        for pattern, ids in groups.items():
            self._automaton.add_word(pattern, tuple(ids))
        self._automaton.make_automaton()

    def match(self, text: str) -> list[int]:
        """Sorted ids of the entries whose ``" " + e + " "`` occurs in ``spacing(text)``."""
        found: set[int] = set()
        for _, ids in self._automaton.iter(spacing(text)):
            found.update(ids)
        return sorted(found)


def build_matcher(entries: list[str]) -> Matcher:
    """Return a ``Matcher`` for ``entries`` (entry id = list index)."""
    if not entries:
        raise SelbenchError("metaclip: the metadata list is empty")
    return Matcher(list(entries))


def load_entries(path: str | Path) -> list[str]:
    """Read a metadata file: a non-empty JSON list of strings. Errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise SelbenchError(f"{path}: metaclip metadata file not found")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SelbenchError(f"{path}: metaclip metadata is not valid JSON ({exc})") from None
    if not isinstance(entries, list):
        raise SelbenchError(f"{path}: metaclip metadata must be a JSON list of strings, "
                            f"got {type(entries).__name__}")
    if not entries:
        raise SelbenchError(f"{path}: metaclip metadata list is empty")
    for i, e in enumerate(entries):
        if not isinstance(e, str):
            raise SelbenchError(f"{path}: metaclip metadata entry {i} is {type(e).__name__}, "
                                "not a string")
    return entries


class ShardMatches:
    """Per-shard work (picklable): match every text of a shard; return the packed CSR."""

    def __init__(self, matcher: Matcher):
        self.matcher = matcher

    def __call__(self, shard) -> np.ndarray:
        """``[n, indptr (n+1), indices]`` as one int64 array for the shard's ``text`` column."""
        texts = shard.columns["text"]
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        ids: list[int] = []
        for r, text in enumerate(texts):
            if text is not None:
                ids.extend(self.matcher.match(str(text)))
            indptr[r + 1] = len(ids)
        return np.concatenate([[len(texts)], indptr, np.asarray(ids, dtype=np.int64)])


def unpack_csr(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Join packed per-shard CSR arrays into pool-wide ``(indptr int64, indices int32)``."""
    indptrs, indices, base = [np.zeros(1, dtype=np.int64)], [], 0
    for part in parts:
        n = int(part[0])
        ptr = part[1:n + 2]
        indptrs.append(ptr[1:] + base)
        indices.append(part[n + 2:].astype(np.int32))
        base += int(ptr[-1])
    return np.concatenate(indptrs), np.concatenate(indices) if indices else np.zeros(0, np.int32)


def entry_counts(indices: np.ndarray, num_entries: int) -> np.ndarray:
    """``count_e``: the number of texts matching each entry (ids are unique within a text)."""
    return np.bincount(indices, minlength=num_entries).astype(np.int64)


def keep_probability(t, indptr: np.ndarray, indices: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``1 - prod_{e in M(x)} (1 - min(1, t / count_e))`` per text; 0 for unmatched texts.

    ``t`` is a scalar or one value per text.
    """
    n = len(indptr) - 1
    t_per_match = np.repeat(np.broadcast_to(np.asarray(t, dtype=np.float64), (n,)),
                            np.diff(indptr))
    p = np.minimum(1.0, t_per_match / counts[indices])
    with np.errstate(divide="ignore"):
        log_miss = np.log1p(-p)  # -inf where p == 1: such a text is always kept
    sums = np.zeros(n)
    matched = np.diff(indptr) > 0
    starts = indptr[:-1][matched]
    if len(starts):
        sums[matched] = np.add.reduceat(log_miss, starts)
    prob = -np.expm1(sums)
    prob[~matched] = 0.0
    return prob


def critical_t(u: np.ndarray, indptr: np.ndarray, indices: np.ndarray, counts: np.ndarray,
               iters: int) -> np.ndarray:
    """Per text, the smallest ``t`` with ``P(t) > u`` (bisection); ``inf`` for unmatched texts."""
    n = len(indptr) - 1
    matched = np.diff(indptr) > 0
    hi = np.full(n, np.inf)
    if matched.any():
        hi[matched] = np.minimum.reduceat(counts[indices].astype(np.float64), indptr[:-1][matched])
    lo = np.zeros(n)
    for _ in range(iters):
        mid = np.where(matched, (lo + hi) / 2, 0.0)
        above = keep_probability(mid, indptr, indices, counts) > u
        hi = np.where(matched & above, mid, hi)
        lo = np.where(matched & ~above, mid, lo)
    return hi


def unbalanced_mask(u: np.ndarray, indptr: np.ndarray, uids: np.ndarray, k: int) -> np.ndarray:
    """MetaCLIP with t = infinity under a budget: the ``k`` matched texts with the smallest
    coins ``u`` (ties by uid); unmatched texts are never kept. Returns a bool mask."""
    matched = np.diff(indptr) > 0
    return top_k_mask(np.where(matched, -u, -np.inf), uids, k)


@dataclass
class MetaCLIPParams:
    metadata: str | None = None  # JSON list of entries; None = the pool's metaclip_metadata
    t: float | None = None  # fixed threshold with budget=natural; inf = no balancing (any budget)
    max_t_iters: int = 64  # bisection halvings per text under a count/fraction budget


@strategy("metaclip")
class MetaCLIP(SetSelector):
    """MetaCLIP: sub-string match captions to metadata entries, balance by min(1, t/count)."""

    version = "1"

    Params = MetaCLIPParams
    columns = ("text",)

    def metadata_path(self, pool) -> Path:
        """``params.metadata``, else the pool's ``metaclip_metadata`` (relative to the pool)."""
        if self.params.metadata:
            return Path(self.params.metadata)
        name = pool.info.get("metaclip_metadata")
        if not name:
            raise SelbenchError(f"metaclip: {pool.root} has no metaclip_metadata in pool.json; "
                                "pass strategy.metadata=PATH (a JSON list of entry strings)")
        return pool.root / name

    def match_pool(self, pool, matcher: Matcher) -> tuple[np.ndarray, np.ndarray]:
        """Match every text of ``pool``; return the CSR ``(indptr, indices)`` over pool rows."""
        ctx = self.context
        progress = ctx.progress if ctx is not None else False
        fn = ShardMatches(matcher)
        if ctx is not None and ctx.executor is not None:
            parts = ctx.executor.map_shards(fn, pool, self.columns, (), progress=progress)
        else:
            parts = [fn(s) for s in pool.iter_shards(self.columns, progress=progress)]
        return unpack_csr(parts)

    def select(self, pool, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        """Mask of kept rows; under a count/fraction budget exactly ``budget.target`` rows."""
        if budget.threshold is not None:
            raise SelbenchError("metaclip does not take budget.threshold; use budget=natural "
                                "strategy.t=T, or budget.count / budget.fraction")
        entries = load_entries(self.metadata_path(pool))
        indptr, indices = self.match_pool(pool, build_matcher(entries))
        counts = entry_counts(indices, len(entries))
        u = rng.random(len(indptr) - 1)
        matched = int((np.diff(indptr) > 0).sum())
        extra = {"entries": len(entries), "matched_texts": matched,
                 "matched_entries": int((counts > 0).sum())}
        if budget.natural:
            mask = self._fixed_t(u, indptr, indices, counts)
        else:
            mask = self._budgeted(budget.target(len(u)), u, indptr, indices, counts, pool, extra)
        if self.context is not None:
            self.context.extra.update(extra)
        return mask

    def _fixed_t(self, u, indptr, indices, counts) -> np.ndarray:
        t = self.params.t
        if t is None:
            raise SelbenchError("metaclip with budget=natural needs strategy.t=T "
                                "(the balancing threshold, e.g. 20000)")
        if not t > 0:
            raise SelbenchError(f"metaclip: strategy.t must be > 0, got {t}")
        if self.context is not None:
            self.context.extra["t"] = float(t)
        return u < keep_probability(float(t), indptr, indices, counts)

    def _budgeted(self, k, u, indptr, indices, counts, pool, extra) -> np.ndarray:
        t = self.params.t
        if t is not None and t != np.inf:
            raise SelbenchError("metaclip: a finite strategy.t is for budget=natural; under "
                                "budget.count or budget.fraction t is found by bisection "
                                "(strategy.t=inf: no balancing, subsampled to the budget)")
        if k > extra["matched_texts"]:
            raise SelbenchError(f"metaclip: budget of {k} rows exceeds the "
                                f"{extra['matched_texts']} texts that match any metadata entry")
        uids = np.concatenate([s.uids for s in pool.iter_shards()])
        if t == np.inf:
            extra.update(t=np.inf, balancing="none (t = infinity, subsampled to the budget)")
            return unbalanced_mask(u, indptr, uids, k)
        tstar = critical_t(u, indptr, indices, counts, int(self.params.max_t_iters))
        mask = top_k_mask(-tstar, uids, k)
        finite = np.sort(tstar[np.isfinite(tstar)])
        low = float(finite[k - 1])
        high = float(finite[k]) if k < len(finite) else float(counts.max())
        extra.update(t=(low + high) / 2, t_kth=low, t_next=high)
        return mask
