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

Distributed (``select_to_runs``, used by the engine for a whole selection): matching runs
as one task per shard, which writes the shard's matches and its per-entry counts to the
work folder; the driver sums the count files one at a time (O(entries)); sampling then
runs as one task per shard, each drawing its rows' coins from the selection's generator
advanced to the shard's first row (the same coins as one pool-wide draw), and writes
either its kept uids (fixed ``t``) or its sorted run of ``-t*_i`` for the engine's top-k
cut (``harness.select.runs``). The driver holds no per-row array; the subset's bytes are
those of ``select``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import SelbenchError
from harness.io import atomic_path, write_json_atomic
from harness.select import runs as score_runs
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


def _save(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, arr, allow_pickle=False)


class ShardMatchFiles:
    """Per-shard work (picklable): match a shard's texts; write its CSR, uids and entry counts.

    Files in ``folder``: ``<stem>.indptr.npy``, ``<stem>.ids.npy``, ``<stem>.uids.npy``,
    ``<stem>.counts.npy`` and last ``<stem>.json`` (rows, matched texts). Returns ``[rows]``.
    """

    def __init__(self, matcher: Matcher, folder: Path):
        self.match, self.folder = ShardMatches(matcher), Path(folder)
        self.num_entries = matcher.num_entries

    def __call__(self, shard) -> np.ndarray:
        packed = self.match(shard)
        n, stem = int(packed[0]), shard.files.stem
        indptr, ids = packed[1:n + 2], packed[n + 2:].astype(np.int32)
        for name, arr in (("indptr", indptr), ("ids", ids), ("uids", shard.uids),
                          ("counts", entry_counts(ids, self.num_entries))):
            _save(self.folder / f"{stem}.{name}.npy", arr)
        write_json_atomic(self.folder / f"{stem}.json",
                          {"rows": n, "matched": int((np.diff(indptr) > 0).sum())})
        return np.array([n])


def shard_coins(state: dict, offset: int, rows: int) -> np.ndarray:
    """Uniforms ``offset .. offset+rows-1`` of the stream of a ``PCG64`` generator in ``state``."""
    bits = np.random.PCG64()
    bits.state = state
    bits.advance(int(offset))  # one 64-bit draw per double
    return np.random.Generator(bits).random(int(rows))


class ShardSample:
    """Per-shard work (picklable) on ``(stem, first row)``: MetaCLIP's sampling for one shard.

    With a fixed ``t`` it writes the shard's kept uids (sorted) to ``kept``; otherwise the
    sorted run of ``-t*_i`` (score files of ``harness.select.runs``) to ``runs``, or with
    ``unbalanced`` (t = infinity under a budget) the run of ``-u_i`` over matched texts
    (``-inf`` for unmatched ones), whose top k is ``unbalanced_mask``. Returns the rows kept
    (fixed ``t``) or 0.
    """

    def __init__(self, folder: Path, counts: np.ndarray, state: dict, t: float | None,
                 iters: int, kept: Path, runs: Path, unbalanced: bool = False):
        self.folder, self.counts, self.state, self.t = Path(folder), counts, state, t
        self.iters, self.kept, self.runs = int(iters), Path(kept), Path(runs)
        self.unbalanced = bool(unbalanced)

    def __call__(self, item) -> int:
        from harness.pool.uid import sort_uid_array

        stem, offset = item
        load = lambda name: np.load(self.folder / f"{stem}.{name}.npy", allow_pickle=False)  # noqa: E731
        indptr, ids, uids = load("indptr"), load("ids"), load("uids")
        u = shard_coins(self.state, offset, len(uids))
        if self.t is not None:
            keep = u < keep_probability(float(self.t), indptr, ids, self.counts)
            if keep.any():
                _save(self.kept / f"{stem}.npy", sort_uid_array(uids[keep]))
            return int(keep.sum())
        if self.unbalanced:
            score_runs.write_run(self.runs, stem, np.where(np.diff(indptr) > 0, -u, -np.inf), uids)
            return 0
        tstar = critical_t(u, indptr, ids, self.counts, self.iters)
        score_runs.write_run(self.runs, stem, -tstar, uids)
        return 0


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
    distributed = True  # matching, counting and sampling run as per-shard tasks

    def select_to_runs(self, pool, budget: Budget, rng: np.random.Generator, work: Path,
                       executor) -> dict:
        """``select`` as per-shard tasks through ``executor``; kept uids go to ``work/kept``.

        Returns ``{"kept": [per-shard sorted uid files], "selected": rows}`` and records
        the same values as ``select`` in ``context.extra``.
        """
        if budget.threshold is not None:
            raise SelbenchError("metaclip does not take budget.threshold; use budget=natural "
                                "strategy.t=T, or budget.count / budget.fraction")
        unbalanced = not budget.natural and self.params.t == np.inf
        if budget.natural:
            self._check_t()
        elif self.params.t is not None and not unbalanced:
            raise SelbenchError("metaclip: a finite strategy.t is for budget=natural; under "
                                "budget.count or budget.fraction t is found by bisection "
                                "(strategy.t=inf: no balancing, subsampled to the budget)")
        entries = load_entries(self.metadata_path(pool))
        work = Path(work)
        match_dir, kept, runs = work / "matches", work / "kept", work / "runs"
        match_dir.mkdir(parents=True, exist_ok=True)
        stems = [s.stem for s in pool.shards]
        missing = [i for i, stem in enumerate(stems) if not score_runs.run_done(match_dir, stem)]
        if missing:
            progress = self.context.progress if self.context is not None else False
            executor.map_shards(ShardMatchFiles(build_matcher(entries), match_dir), pool,
                                self.columns, (), progress=progress, shards=missing)
        counts = np.zeros(len(entries), dtype=np.int64)
        rows, matched = [], 0
        for stem in stems:  # the reduction: one count file at a time
            counts += np.load(match_dir / f"{stem}.counts.npy", allow_pickle=False)
            info = json.loads((match_dir / f"{stem}.json").read_text())
            rows.append(info["rows"])
            matched += info["matched"]
        extra = {"entries": len(entries), "matched_texts": matched,
                 "matched_entries": int((counts > 0).sum())}
        n = sum(rows)
        k = budget.target(n)
        if k is not None and k > matched:
            raise SelbenchError(f"metaclip: budget of {k} rows exceeds the "
                                f"{matched} texts that match any metadata entry")
        for folder in (kept, runs):
            score_runs.remove_tree(folder)
            folder.mkdir()
        offsets = np.concatenate([[0], np.cumsum(rows)]).astype(int).tolist()
        task = ShardSample(match_dir, counts, rng.bit_generator.state,
                           self.params.t if budget.natural else None,
                           self.params.max_t_iters, kept, runs, unbalanced)
        kept_rows = executor.map_items(task, list(zip(stems, offsets[:-1])))
        if budget.natural:
            extra["t"] = float(self.params.t)
            files = [kept / f"{stem}.npy" for stem, c in zip(stems, kept_rows) if c]
            selected = int(sum(kept_rows))
        else:
            scored = score_runs.ScoreRuns(runs, stems)
            per_shard = scored.prefix_counts(scored.cut(k))
            items = [(stem, c) for stem, c in zip(stems, per_shard) if c]
            executor.map_items(score_runs.KeepTask(runs, kept), items)  # one task per shard
            files = [kept / f"{stem}.npy" for stem, _ in items]
            selected = int(sum(per_shard))
            if unbalanced:
                extra.update(t=np.inf, balancing="none (t = infinity, subsampled to the budget)")
                if self.context is not None:
                    self.context.extra.update(extra)
                return {"kept": files, "selected": selected}
            low = -scored.kth_score(k)
            high = -scored.kth_score(k + 1) if k < matched else float(counts.max())
            extra.update(t=(low + high) / 2, t_kth=low, t_next=high)
        if self.context is not None:
            self.context.extra.update(extra)
        return {"kept": files, "selected": selected}

    def _check_t(self) -> float:
        t = self.params.t
        if t is None:
            raise SelbenchError("metaclip with budget=natural needs strategy.t=T "
                                "(the balancing threshold, e.g. 20000)")
        if not t > 0:
            raise SelbenchError(f"metaclip: strategy.t must be > 0, got {t}")
        return float(t)

    def input_files(self, pool) -> list[Path]:
        """The metadata file."""
        return [self.metadata_path(pool)]

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
        t = self._check_t()
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
