"""NormSim (Wang et al., arXiv 2405.19547): how well a sample's image matches target-domain images.

For target image embeddings t_1..t_M (L2-normalised rows of T) and a sample's image
embedding f::

    NormSim_p(f) = || T f ||_p      p = inf: max_j |t_j·f|;   p = 2: sqrt(f^T (T^T T) f)

p = 2 goes through the d x d matrix T^T T (computed once in ``prepare``); p = inf through
blocked products with the targets. Image embeddings only, for samples and targets.

``strategy.target`` is a path to an ``.npy`` of target image embeddings (M x d; rows are
L2-normalised on load), or the name of an evaluation suite: the train splits of its tasks,
embedded with the pool's teacher, i.e. ``<pool>/<evalsets>/<task dir>/train_<arch>_img.npy``
for every task of the suite as the evaluation stage loads it (never a test split). Without a target, the
suite named in the pool's ``pool.json`` is used.

``strategy.dynamic=true`` is NormSim_2-D (no target data), a set selector (class
``NormSimDynamic`` below): building ``normsim`` with ``dynamic=true`` returns that selector
instead of the scorer. Its algorithm, as specified: S = sum f f^T over the pool (or a
seeded ``sample_fraction`` of each shard's rows); pre-filter to the CLIPScore top
``prefilter_fraction``; then for ``iters`` rounds drop the ceil((|current| - target) /
rounds_left) lowest by f^T S f (ties: the larger uid is dropped first) and recompute S on
what remains, until the target size. It holds the pre-filtered rows' image embeddings in
their stored dtype: memory is prefilter_fraction x N x d x (2 bytes for fp16 pools), plus
O(N) scores. S is updated by subtracting the dropped rows' f f^T and the scores likewise
(f^T S f falls by sum_dropped (f·f_j)^2) whenever fewer than d rows are dropped, which is
the same quantity as recomputing from scratch, for far fewer operations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from baselines.s_cliploss import stored_finite
from harness.errors import SelbenchError
from harness.select.base import Budget, Scorer, SetSelector, strategy, top_k_mask

ROW_BLOCK = 8192      # sample rows per matrix product
TARGET_BLOCK = 4096   # target rows per matrix product (p = inf): 8192 x 4096 floats at most


@dataclass
class NormSimParams:
    """Norm, target data, and the NormSim_2-D (dynamic) settings."""

    embedding: str | None = None  # arch prefix of <arch>_img; None = the pool's
    p: str = "inf"                # "2" or "inf"
    target: str | None = None     # .npy of target image embeddings, or a suite name; None = pool's suite
    dynamic: bool = False         # NormSim_2-D: no targets, S = sum f f^T over the pool (iterated)
    iters: int = 500              # NormSim_2-D: rounds of dropping
    prefilter_fraction: float = 0.3  # NormSim_2-D: keep the CLIPScore top fraction first
    sample_fraction: float = 1.0  # NormSim_2-D: share of pool rows (per shard, seeded) in the first S


@strategy("normsim")
class NormSim(Scorer):
    """NormSim_p: ||T f||_p against target-domain image embeddings (dynamic=true: NormSim_2-D)."""

    version = "1"

    Params = NormSimParams
    embeddings = ("img",)
    distributed_label = "yes; dynamic=true: no"  # NormSim_2-D needs the whole pool's S

    def __new__(cls, params=None, context=None):
        """``normsim`` with ``dynamic=true`` is the NormSim_2-D set selector; else this scorer."""
        if cls is NormSim and params is not None and getattr(params, "dynamic", False):
            return NormSimDynamic(params, context)
        return super().__new__(cls)

    def __init__(self, params=None, context=None):
        super().__init__(params, context)
        self.norm = norm_order(self.params.p)
        self.targets: np.ndarray | None = None
        self.gram: np.ndarray | None = None
        self.target_source = ""

    def input_files(self, pool) -> list[Path]:
        """The target embedding files (their content is part of the selection's identity)."""
        return target_files(pool, self.params.target, self.arch)

    def prepare(self, pool) -> None:
        """Load and check the targets; for p = 2 form the d x d matrix T^T T."""
        self.targets, self.target_source = load_targets(pool, self.params.target, self.arch)
        if self.norm == "2":
            t = self.targets.astype(np.float64)
            self.gram = (t.T @ t).astype(np.float32)
        if self.context is not None:
            self.context.extra.update(target=self.target_source, num_targets=len(self.targets))

    def score(self, shard) -> np.ndarray:
        """float32 NormSim_p of every row's image embedding."""
        if self.targets is None:
            raise SelbenchError("normsim: prepare(pool) must run before score(shard)")
        key = f"{self.arch}_img"
        dim = shard.embeddings[key].shape[1]
        if dim != self.targets.shape[1]:
            raise SelbenchError(f"normsim: {self.target_source} has dimension {self.targets.shape[1]} "
                                f"but {shard.files.npz} {key} has {dim}")
        out = np.empty(len(shard.uids), dtype=np.float32)
        for start, (f,) in self.emb_blocks(shard, "img"):   # float32 blocks, checked finite
            out[start:start + len(f)] = (normsim_2(f, self.gram) if self.norm == "2"
                                         else normsim_inf(f, self.targets))
        return out


def norm_order(p) -> str:
    """Canonical norm name, ``"2"`` or ``"inf"``, from 2 / "2" / inf / "inf"; else one-line error."""
    text = str(p).strip().lower()
    if text in ("2", "2.0"):
        return "2"
    if text in ("inf", "infinity", "+inf"):
        return "inf"
    raise SelbenchError(f"normsim: p must be 2 or inf, got {p!r}")


def normsim_2(f: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """sqrt(f^T G f) for every row of ``f`` (n, d), with ``gram`` = T^T T (d, d); float32."""
    import torch

    g = torch.from_numpy(np.ascontiguousarray(gram, dtype=np.float32))
    out = np.empty(len(f), dtype=np.float32)
    for i in range(0, len(f), ROW_BLOCK):
        x = torch.from_numpy(np.ascontiguousarray(f[i:i + ROW_BLOCK], dtype=np.float32))
        q = ((x @ g) * x).sum(1)
        out[i:i + len(x)] = torch.sqrt(torch.clamp(q, min=0)).numpy()
    return out


def normsim_inf(f: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """max_j |t_j·f| for every row of ``f`` (n, d) against ``targets`` (M, d); float32."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
    out = np.empty(len(f), dtype=np.float32)
    for i in range(0, len(f), ROW_BLOCK):
        x = torch.from_numpy(np.ascontiguousarray(f[i:i + ROW_BLOCK], dtype=np.float32))
        best = torch.zeros(len(x))
        for j in range(0, len(t), TARGET_BLOCK):
            best = torch.maximum(best, (x @ t[j:j + TARGET_BLOCK].T).abs_().amax(1))
        out[i:i + len(x)] = best.numpy()
    return out


# ----- targets -------------------------------------------------------------------------------
def load_targets(pool, target: str | None, arch: str) -> tuple[np.ndarray, str]:
    """Target image embeddings (M, d) float32, L2-normalised, and a description of their source.

    ``target``: a path to an ``.npy``, a suite name, or None (the suite in ``pool.json``).
    """
    kind, value = resolve_target(pool, target)
    if kind == "file":
        return read_target_file(Path(value)), value
    return suite_targets(pool, value, arch), f"suite {value}"


def resolve_target(pool, target: str | None) -> tuple[str, str]:
    """``("file", path)`` or ``("suite", name)`` for ``strategy.target`` (None: the pool's suite)."""
    if target is None or str(target).strip() == "":
        suite = pool.info.get("suite")
        if not suite:
            raise SelbenchError(f"normsim: no strategy.target given and {pool.root}/pool.json names "
                                "no suite; pass strategy.target=PATH.npy or a suite name")
        return "suite", str(suite)
    path = Path(str(target)).expanduser()
    if path.suffix == ".npy" or path.is_file():
        return "file", str(path)
    return "suite", str(target)


def read_target_file(path: Path) -> np.ndarray:
    """Rows of one ``.npy`` target file, checked (2-D, finite, non-zero) and L2-normalised."""
    if not path.is_file():
        raise SelbenchError(f"normsim: target embeddings {path} not found")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise SelbenchError(f"normsim: cannot read target embeddings {path} ({exc})") from exc
    if arr.ndim != 2 or len(arr) == 0 or not np.issubdtype(arr.dtype, np.number):
        raise SelbenchError(f"normsim: {path} must hold a non-empty 2-D numeric array (rows x dim), "
                            f"got shape {arr.shape} {arr.dtype}")
    arr = arr.astype(np.float64)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        raise SelbenchError(f"normsim: {path} row {int(np.argmin(finite))}: non-finite embedding")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if (norms == 0).any():
        raise SelbenchError(f"normsim: {path} row {int(np.argmin(norms[:, 0]))}: zero embedding")
    return (arr / norms).astype(np.float32)


def target_files(pool, target: str | None, arch: str) -> list[Path]:
    """The files ``load_targets`` reads for ``target``."""
    kind, value = resolve_target(pool, target)
    return [Path(value)] if kind == "file" else suite_target_files(pool, value, arch)


def suite_target_files(pool, suite: str, arch: str) -> list[Path]:
    """``<pool>/<evalsets>/<task dir>/train_<arch>_img.npy`` for every task of ``suite``."""
    root = pool.root / str(pool.info.get("evalsets", "evalsets"))
    return [root / task / f"train_{arch}_img.npy" for task in suite_task_dirs(suite)]


def suite_targets(pool, suite: str, arch: str) -> np.ndarray:
    """Concatenated train-split image embeddings of every task of ``suite`` (checked, normalised)."""
    root = pool.root / str(pool.info.get("evalsets", "evalsets"))
    parts = [read_target_file(path) for path in suite_target_files(pool, suite, arch)]
    dims = {p.shape[1] for p in parts}
    if len(dims) != 1:
        raise SelbenchError(f"normsim: the train embeddings of suite {suite} under {root} have "
                            f"different dimensions {sorted(dims)}")
    return np.concatenate(parts)


def suite_task_dirs(suite: str) -> list[str]:
    """Task directories of evaluation suite ``suite``, read by the evaluation stage's own
    suite loader (``harness.evaluate.tasks.load_suite``)."""
    from harness.evaluate.tasks import load_suite

    try:
        return [task.dir for task in load_suite(suite)]
    except SelbenchError as exc:
        raise SelbenchError(f"normsim: strategy.target={suite!r} is neither an existing .npy file "
                            f"nor a suite ({exc})") from exc


# ----- NormSim_2-D ---------------------------------------------------------------------------
class NormSimDynamic(SetSelector):
    """NormSim_2-D: iteratively drop the rows least aligned with the remaining set (no targets)."""

    name = "normsim"
    Params = NormSimParams
    embeddings = ("img", "txt")

    def __init__(self, params=None, context=None):
        super().__init__(params, context)
        p = self.params
        if int(p.iters) < 1:
            raise SelbenchError(f"normsim: iters must be >= 1, got {p.iters}")
        for key in ("prefilter_fraction", "sample_fraction"):
            if not 0 < getattr(p, key) <= 1:
                raise SelbenchError(f"normsim: {key} must be in (0, 1], got {getattr(p, key)}")

    def select(self, pool, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        """Mask of exactly ``budget.target(N)`` rows chosen by NormSim_2-D."""
        n = pool.num_rows
        k = budget.target(n)
        if k is None:
            raise SelbenchError("normsim with dynamic=true needs budget.fraction or budget.count")
        clip, uids, gram = self._first_pass(pool)
        n_pre = int(round(self.params.prefilter_fraction * n))
        if k > n_pre:
            raise SelbenchError(f"normsim: the budget asks for {k} rows but the CLIPScore pre-filter "
                                f"keeps {n_pre} (prefilter_fraction={self.params.prefilter_fraction})")
        pre = np.flatnonzero(top_k_mask(clip, uids, n_pre))
        feats = self._gather(pool, pre)
        keep = dynamic_rounds(feats, uids[pre], gram, k, int(self.params.iters))
        mask = np.zeros(n, dtype=bool)
        mask[pre[keep]] = True
        if self.context is not None:
            self.context.extra.update(prefiltered=int(n_pre))
        return mask

    def _first_pass(self, pool):
        """CLIPScores and uids of all rows, and S = sum f f^T over the (sampled) pool."""
        import torch

        clip, uids, gram = [], [], None
        progress = self.context.progress if self.context is not None else False
        for shard in pool.iter_shards((), self.embedding_keys(), progress=progress):
            f = stored_finite(shard, f"{self.arch}_img")
            g = stored_finite(shard, f"{self.arch}_txt")
            uids.append(shard.uids)
            sampled = np.ones(len(f), dtype=bool)
            if self.params.sample_fraction < 1:
                sampled = self.shard_rng(shard).random(len(f)) < self.params.sample_fraction
            for i in range(0, len(f), ROW_BLOCK):  # float32 blocks: memory stays near the shard's
                x = _rows32(f, np.arange(i, min(i + ROW_BLOCK, len(f))))
                y = _rows32(g, np.arange(i, min(i + ROW_BLOCK, len(f))))
                clip.append((x * y).sum(1).numpy())
                xs = x[torch.from_numpy(sampled[i:i + ROW_BLOCK])]
                part = (xs.T @ xs).double()
                gram = part if gram is None else gram + part
            del shard, f, g  # one shard in memory: dropped before the next is read
        return np.concatenate(clip), np.concatenate(uids), gram

    def _gather(self, pool, rows: np.ndarray) -> np.ndarray:
        """Image embeddings (stored dtype) of pool rows ``rows`` (sorted), read shard by shard."""
        parts = []
        for shard in pool.iter_shards((), [f"{self.arch}_img"]):
            local = rows[(rows >= shard.offset) & (rows < shard.offset + len(shard))] - shard.offset
            parts.append(np.asarray(shard.embeddings[f"{self.arch}_img"])[local])
        return np.concatenate(parts)


def dynamic_rounds(feats: np.ndarray, uids: np.ndarray, gram: torch.Tensor, k: int,
                   iters: int) -> np.ndarray:
    """NormSim_2-D's rounds over candidate rows ``feats`` (m, d); returns the kept row indices.

    ``gram``: the initial S (d, d). Round r drops ceil((|current| - k) / (iters - r)) rows
    with the lowest f^T S f (ties: larger uid dropped first), then S = sum over what remains.
    """
    alive = np.arange(len(feats))
    d = feats.shape[1]
    s = gram.double()
    q = quad_forms(feats, alive, s)
    for r in range(iters):
        excess = len(alive) - k
        if excess <= 0:
            break
        n_drop = math.ceil(excess / (iters - r))
        kept = top_k_mask(q, uids[alive], len(alive) - n_drop)
        dropped, alive, q = alive[~kept], alive[kept], q[kept]
        if r == 0:  # S was the pool's; from now on it is the current set's
            s = gram_of(feats, alive)
            q = quad_forms(feats, alive, s)
        elif n_drop < d:
            s = s - gram_of(feats, dropped)
            q = q - dropped_overlap(feats, alive, dropped)
        else:
            s = s - gram_of(feats, dropped)
            q = quad_forms(feats, alive, s)
    return alive


def _rows32(feats: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    import torch

    return torch.from_numpy(np.ascontiguousarray(feats[idx], dtype=np.float32))


def gram_of(feats: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    """sum_i f_i f_i^T over rows ``idx`` of ``feats``, float64 (d, d)."""
    import torch

    d = feats.shape[1]
    out = torch.zeros(d, d, dtype=torch.float64)
    for i in range(0, len(idx), ROW_BLOCK):
        x = _rows32(feats, idx[i:i + ROW_BLOCK])
        out += (x.T @ x).double()
    return out


def quad_forms(feats: np.ndarray, idx: np.ndarray, s: torch.Tensor) -> np.ndarray:
    """f_i^T S f_i for rows ``idx`` of ``feats``; float64 (len(idx),)."""
    import torch

    s32 = s.float()
    out = np.empty(len(idx), dtype=np.float64)
    for i in range(0, len(idx), ROW_BLOCK):
        x = _rows32(feats, idx[i:i + ROW_BLOCK])
        out[i:i + len(x)] = ((x @ s32) * x).sum(1, dtype=torch.float64).numpy()
    return out


def dropped_overlap(feats: np.ndarray, idx: np.ndarray, dropped: np.ndarray) -> np.ndarray:
    """sum_{j in dropped} (f_i·f_j)^2 for rows ``idx``: the fall of f_i^T S f_i; float64."""
    import torch

    dt = _rows32(feats, dropped)
    out = np.empty(len(idx), dtype=np.float64)
    for i in range(0, len(idx), ROW_BLOCK):
        x = _rows32(feats, idx[i:i + ROW_BLOCK])
        out[i:i + len(x)] = (x @ dt.T).square_().sum(1, dtype=torch.float64).numpy()
    return out
