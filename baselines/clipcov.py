"""ClipCov (Joshi et al., AISTATS 2024): per-class cross-covariance coverage, greedy selection.

Definitions (reference/methods.md; f, g = image/text embeddings, L2-normalised):

1. Pseudo-label ``c_i = argmax_c f_i . C_c`` over the class-prompt text embeddings ``C``
   (ties: the lower class index).
2. In class ``c`` with members ``V_c``: ``M[i, j] = max(0, f_i . g_j)``.
3. Initial gain ``cross_i + w_e e_i + w_l l_i - w_r (tic_i + itc_i)`` with
   ``cross_i = sum_{j in V_c} (M[i,j] + M[j,i]) / |V_c|``, ``e_i = M[i,i]``,
   ``l_i = g_i . C_{c_i}``, ``tic_i`` = cosine of ``g_i`` with the class's mean image,
   ``itc_i`` = cosine of ``f_i`` with the class's mean text.
4. Greedy over all classes: take the sample with the highest current gain (ties: uid
   ascending) until the budget. After every ``block_size`` picks from class ``c`` (the set
   ``J`` of picks since c's last update, ``S_c`` all of c's picks so far), every member of
   ``c`` loses ``sum_{j in J} (M[i,j] + M[j,i]) / |V_c|`` (diminishing coverage) plus the
   class-level penalty of the selected mass
   ``class_penalty * (sum_{j in S_c} cross_j + w_l sum_{j in J} l_j) / |V_c|``.
   This is the penalty of the released notebook (there with ``class_penalty = 1``; the
   notebook's first update comes after 199 picks, an off-by-one we do not copy).

Memory: O(pool rows) small arrays (labels, gains and the terms above, ~100 bytes a row),
one shard at a time while reading, and ``chunk_rows x chunk_rows`` blocks of ``M``; ``M``
is never materialised. The embeddings are spilled once, sorted by class, to a temporary
memory-mapped file (pool rows x 2d in the pool's stored dtype, under ``spill_dir`` or the
system temp dir, deleted afterwards), so RAM does not hold the pool's embeddings.
Compute: ``sum_c |V_c|^2 d`` for the cross terms, as the method requires.
"""
from __future__ import annotations

import heapq
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import SelbenchError
from harness.select.base import Budget, SetSelector, strategy


@dataclass
class ClipCovParams:
    embedding: str | None = None  # key prefix; None = the pool's default
    class_embeddings: str | None = None  # .npy (C x d); None = the suite's ImageNet analog
    w_easiness: float = 2.0  # weight of e_i = max(0, f_i . g_i)
    w_label: float = 0.5  # weight of l_i = g_i . class prompt
    w_redundancy: float = 1.0  # weight of tic_i + itc_i (subtracted)
    class_penalty: float = 1.0  # weight of the class-level selected-mass penalty
    block_size: int = 200  # picks from a class between its gain updates
    chunk_rows: int = 2048  # rows per block of M (memory: chunk_rows^2 floats)
    spill_dir: str | None = None  # where the temporary class-sorted embeddings go


def load_class_embeddings(path: Path, dim: int) -> np.ndarray:
    """Read a (C, dim) float ``.npy`` of class-prompt embeddings; rows renormalised."""
    if not path.is_file():
        raise SelbenchError(f"{path}: clipcov class embeddings not found "
                            "(pass strategy.class_embeddings=PATH to a C x d .npy)")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise SelbenchError(f"{path}: cannot read class embeddings ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] != dim:
        raise SelbenchError(f"{path}: class embeddings have shape {arr.shape}, "
                            f"expected (classes, {dim})")
    arr = arr.astype(np.float32)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if not np.isfinite(arr).all() or (norms == 0).any():
        raise SelbenchError(f"{path}: class embeddings contain non-finite or zero rows")
    return arr / norms


def relu_sums(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column sums of ``max(0, a @ b.T)`` (float64)."""
    m = np.maximum(a @ b.T, 0.0)
    return m.sum(1, dtype=np.float64), m.sum(0, dtype=np.float64)


class ClassStore:
    """Class-sorted embeddings in a memory-mapped temporary file; rows ``[f | g]``."""

    def __init__(self, path: Path, rows: int, dim: int, dtype):
        self.dim = dim
        self.mm = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(rows, 2 * dim))

    def write(self, positions: np.ndarray, f: np.ndarray, g: np.ndarray) -> None:
        """Store rows ``f``/``g`` at class-sorted ``positions``."""
        self.mm[positions, :self.dim] = f
        self.mm[positions, self.dim:] = g

    def f(self, lo: int, hi: int) -> np.ndarray:
        """Image embeddings of sorted rows ``lo:hi`` as float32."""
        return np.asarray(self.mm[lo:hi, :self.dim], dtype=np.float32)

    def g(self, lo: int, hi: int) -> np.ndarray:
        """Text embeddings of sorted rows ``lo:hi`` as float32."""
        return np.asarray(self.mm[lo:hi, self.dim:], dtype=np.float32)

    def rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(f, g)`` of the sorted rows ``idx`` (returned in ascending row order) as float32."""
        block = np.asarray(self.mm[np.sort(idx)], dtype=np.float32)
        return block[:, :self.dim], block[:, self.dim:]


def cross_terms(store: ClassStore, lo: int, hi: int, chunk: int) -> np.ndarray:
    """``cross_i = sum_j (M[i,j] + M[j,i]) / |V_c|`` for the class occupying rows ``lo:hi``."""
    n = hi - lo
    total = np.zeros(n)
    for a in range(lo, hi, chunk):
        fa = store.f(a, min(hi, a + chunk))
        for b in range(lo, hi, chunk):
            gb = store.g(b, min(hi, b + chunk))
            rows, cols = relu_sums(fa, gb)  # M[a-rows, b-cols]
            total[a - lo:a - lo + len(fa)] += rows  # sum_j M[i, j]
            total[b - lo:b - lo + len(gb)] += cols  # sum_i M[i, j] -> M[j, i] for j in b
    return total / n


def coverage_drop(store: ClassStore, lo: int, hi: int, new: np.ndarray, chunk: int) -> np.ndarray:
    """``sum_{j in new} (M[i,j] + M[j,i]) / |V_c|`` for every member i of rows ``lo:hi``."""
    fj, gj = store.rows(new)
    out = np.zeros(hi - lo)
    for a in range(lo, hi, chunk):
        b = min(hi, a + chunk)
        out[a - lo:b - lo] = (np.maximum(store.f(a, b) @ gj.T, 0).sum(1, dtype=np.float64)
                              + np.maximum(store.g(a, b) @ fj.T, 0).sum(1, dtype=np.float64))
    return out / (hi - lo)


@strategy("clipcov")
class ClipCov(SetSelector):
    """ClipCov: per-class cross-covariance coverage gains, greedy with block updates."""

    version = "1"

    Params = ClipCovParams
    embeddings = ("img", "txt")

    def class_embeddings_path(self, pool) -> Path:
        """``params.class_embeddings``, else ``<pool>/<evalsets>/<imagenet_analog>/classes_<arch>_txt.npy``."""
        return self.analog_file(pool, self.params.class_embeddings, f"classes_{self.arch}_txt.npy",
                                "class_embeddings", "a C x d .npy")

    def input_files(self, pool) -> list[Path]:
        """The class embeddings file."""
        return [self.class_embeddings_path(pool)]

    def select(self, pool, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        """Mask of exactly ``budget.target`` rows chosen by the ClipCov greedy."""
        if budget.natural or budget.threshold is not None:
            raise SelbenchError("clipcov has no natural size or threshold: "
                                "use budget.fraction or budget.count")
        p = self.params
        if p.block_size < 1 or p.chunk_rows < 1:
            raise SelbenchError("clipcov: block_size and chunk_rows must be >= 1")
        terms = self.label_pass(pool)
        k = budget.target(len(terms["label"]))
        with tempfile.TemporaryDirectory(prefix="clipcov-", dir=p.spill_dir) as tmp:
            store = self.spill(pool, terms, Path(tmp) / "emb.npy")
            self.class_terms(store, terms)
            picks = self.greedy(store, terms, k)
            del store
        mask = np.zeros(len(terms["label"]), dtype=bool)
        mask[terms["order"][picks]] = True
        if self.context is not None:
            counts = np.bincount(terms["label"][mask], minlength=terms["classes"])
            self.context.extra.update(classes=terms["classes"],
                                      classes_selected=int((counts > 0).sum()),
                                      spill="memmap")
        return mask

    # ----- pass 1: pseudo-labels, alignment terms, class means ------------------------
    def label_pass(self, pool) -> dict:
        """Read every shard once: labels, e_i, l_i, per-class embedding sums, uids."""
        progress = self.context.progress if self.context is not None else False
        C = None
        labels, easy, lab_sim, uids = [], [], [], []
        for shard in pool.iter_shards((), self.embedding_keys(), progress=progress):
            if C is None:
                stored = shard.embeddings[f"{self.arch}_img"]
                C = load_class_embeddings(self.class_embeddings_path(pool), stored.shape[1])
                sum_f = np.zeros(C.shape, np.float64)
                sum_g = np.zeros(C.shape, np.float64)
                dtype = stored.dtype
                del stored
            for _, (f, g) in self.emb_blocks(shard, "img", "txt"):   # float32, checked finite
                lab = np.argmax(f @ C.T, axis=1)
                labels.append(lab)
                easy.append(np.maximum((f * g).sum(1), 0.0))
                lab_sim.append((g * C[lab]).sum(1))
                np.add.at(sum_f, lab, f)
                np.add.at(sum_g, lab, g)
            uids.append(shard.uids)
            del shard  # one shard in memory: dropped before the next is read (f, g: blocks)
        label = np.concatenate(labels).astype(np.int32)
        order = np.argsort(label, kind="stable")  # sorted position -> pool row
        sizes = np.bincount(label, minlength=len(C))
        return {"label": label, "order": order, "classes": len(C), "dtype": dtype,
                "bounds": np.concatenate([[0], np.cumsum(sizes)]),
                "e": np.concatenate(easy)[order].astype(np.float64),
                "l": np.concatenate(lab_sim)[order].astype(np.float64),
                "sum_f": sum_f, "sum_g": sum_g,
                "uids": np.concatenate(uids)[order]}

    # ----- pass 2: class-sorted spill ---------------------------------------------------
    def spill(self, pool, terms: dict, path: Path) -> ClassStore:
        """Write every row's ``[f | g]`` to its class-sorted position in a memmap."""
        rows = len(terms["label"])
        position = np.empty(rows, dtype=np.int64)
        position[terms["order"]] = np.arange(rows)
        dim = terms["sum_f"].shape[1]
        store = ClassStore(path, rows, dim, terms["dtype"])
        for shard in pool.iter_shards((), self.embedding_keys()):
            sl = slice(shard.offset, shard.offset + len(shard))
            store.write(position[sl], shard.embeddings[f"{self.arch}_img"],
                        shard.embeddings[f"{self.arch}_txt"])
            del shard
        store.mm.flush()
        return store

    def class_terms(self, store: ClassStore, terms: dict) -> None:
        """Add ``cross``, ``tic``, ``itc`` and the initial ``gain`` (sorted order) to ``terms``."""
        p, bounds = self.params, terms["bounds"]
        n = len(terms["label"])
        cross, red = np.zeros(n), np.zeros(n)
        for c in range(terms["classes"]):
            lo, hi = int(bounds[c]), int(bounds[c + 1])
            if hi == lo:
                continue
            cross[lo:hi] = cross_terms(store, lo, hi, p.chunk_rows)
            mean_f, mean_g = unit(terms["sum_f"][c]), unit(terms["sum_g"][c])
            for a in range(lo, hi, p.chunk_rows):
                b = min(hi, a + p.chunk_rows)
                red[a:b] = store.g(a, b) @ mean_f + store.f(a, b) @ mean_g  # tic + itc
        terms["cross"] = cross
        terms["gain"] = (cross + p.w_easiness * terms["e"] + p.w_label * terms["l"]
                         - p.w_redundancy * red)

    # ----- the greedy -------------------------------------------------------------------
    def greedy(self, store: ClassStore, terms: dict, k: int) -> np.ndarray:
        """Sorted positions of the ``k`` picks (see the module docstring for the rule)."""
        p, bounds, gain = self.params, terms["bounds"], terms["gain"].copy()
        uid_rank = np.empty(len(gain), dtype=np.int64)
        uid_rank[np.lexsort((terms["uids"]["f1"], terms["uids"]["f0"]))] = np.arange(len(gain))
        taken = np.zeros(len(gain), dtype=bool)
        queues, heap = {}, []
        for c in range(terms["classes"]):
            lo, hi = int(bounds[c]), int(bounds[c + 1])
            if hi > lo:
                queues[c] = [class_queue(gain, uid_rank, taken, lo, hi), 0, [], 0.0]
                push_head(heap, queues[c], gain, uid_rank, c)
        picks = []
        while len(picks) < k:
            if not heap:
                raise SelbenchError(f"clipcov: cannot select {k} of {len(gain)} rows")
            _, _, c = heapq.heappop(heap)
            q = queues[c]
            j = int(q[0][q[1]])
            q[1] += 1
            picks.append(j)
            taken[j] = True
            q[2].append(j)
            q[3] += terms["cross"][j]
            if len(q[2]) == p.block_size:
                self.block_update(store, terms, gain, c, q)
                q[0], q[1] = class_queue(gain, uid_rank, taken, int(bounds[c]), int(bounds[c + 1])), 0
                q[2] = []
            push_head(heap, q, gain, uid_rank, c)
        return np.asarray(picks, dtype=np.int64)

    def block_update(self, store, terms, gain, c, q) -> None:
        """Subtract the coverage of c's new picks and the class-level penalty from c's gains."""
        p = self.params
        lo, hi = int(terms["bounds"][c]), int(terms["bounds"][c + 1])
        new = np.asarray(q[2]) - lo
        drop = coverage_drop(store, lo, hi, np.asarray(q[2]), p.chunk_rows)
        mass = (q[3] + p.w_label * terms["l"][lo + new].sum()) / (hi - lo)
        gain[lo:hi] -= drop + p.class_penalty * mass


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to unit norm (as float32); zero stays zero."""
    norm = np.linalg.norm(v)
    return (v / norm if norm > 0 else v).astype(np.float32)


def class_queue(gain, uid_rank, taken, lo, hi) -> np.ndarray:
    """Untaken sorted positions in ``lo:hi`` ordered by gain descending, then uid ascending."""
    idx = np.arange(lo, hi)[~taken[lo:hi]]
    return idx[np.lexsort((uid_rank[idx], -gain[idx]))]


def push_head(heap, q, gain, uid_rank, c) -> None:
    """Push class ``c``'s best remaining member onto the global heap (if any remain)."""
    if q[1] < len(q[0]):
        j = int(q[0][q[1]])
        heapq.heappush(heap, (-gain[j], int(uid_rank[j]), c))
