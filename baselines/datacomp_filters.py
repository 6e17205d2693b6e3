"""DataComp's own filtering baselines (reference/datacomp.md), as set selectors.

- ``datacomp_basic``: caption has > 2 words (whitespace split) and > 5 characters,
  ``min(original_width, original_height) >= 200`` and aspect ``max/min <= 3``.
- ``datacomp_text``: at least one caption word names an ImageNet-21k synset.
- ``datacomp_image``: caption filter (> 1 fasttext token, > 5 characters); each
  ``<arch>_img`` goes to its centroid (largest inner product, as DataComp assigns); keep rows
  whose centroid is the nearest centroid of at least one target image. Centroids:
  ``strategy.centroids=datacomp:<scale>`` reads DataComp's released L/14 centroids for that
  pool (``selbench download-assets``; exact), a path reads a ``.npy``/``.pt``, and without
  either selbench runs CPU k-means (faiss, 20 iterations, seed 0) on a sample of the caption
  survivors: an approximation, recorded as such. Targets: ``strategy.target=datacomp:in1k``
  reads DataComp's five ImageNet-1k L/14 files; a path reads a ``.npy``/``.pt``; default:
  the pool's ImageNet-analog train split.
- ``datacomp_image_clip``: ``datacomp_image`` ∩ CLIP score (the stored
  ``clip_<arch>_similarity_score`` column when present, else ``f . g``) top ``clip_fraction``
  (one global threshold: DataComp's value at index int(N f) of the sorted scores): the
  DataComp-1B recipe. The two masks are decided per row, so the intersection equals
  DataComp's "threshold first, then image-based with the same centroids".

English: every filter checks it as DataComp does (fasttext lid.176 top-1 == "en", newlines
replaced by spaces), with ``strategy.fasttext_model=PATH`` or the file ``selbench
download-assets only=[lid176]`` fetched. Without a model a filter stops with a one-line
error, unless the pool's ``pool.json`` says ``"english": true`` (English by construction:
the embedded pool) or the user passes ``strategy.english=skip``; the manifest records which
(``english_filter``), and leaderboards mark a skipped check next to the strategy's name.

ImageNet-21k words: with WordNet data (nltk's data path, or ``strategy.wordnet=DICT_DIR``)
``datacomp_text`` applies DataComp's rule exactly (``baselines.wordnet_in21k``: the first
WordNet synset of a word is an ImageNet-21k synset). Without WordNet, or with
``strategy.wordnet=lemmas``, it falls back to an approximation recorded in the manifest
(``in21k_match`` starts with ``APPROXIMATION``): lemma membership, a word matches when,
lowercased, it (or its singular by WordNet's noun suffix rules, e.g. "dogs" -> "dog") is
a lemma of an ImageNet-21k synset (timm's ``imagenet-21k-goog`` synset and lemma lists,
shipped offline). Words are split on whitespace and not stripped of punctuation, as in
DataComp. The approximation keeps a word whose first sense is some other synset; single
letters are not lemmas here ("a" is vitamin A in ImageNet-21k, but its first WordNet sense
is the angstrom), so the article "a" does not pass every caption.

Budgets: under ``budget=natural`` a filter keeps its survivors (its natural size). Under a
count or fraction, a uniform random sample (the selection seed) of exactly that many
survivors is kept; a budget above the survivor count is an error. Natural sizes are
recorded (``survivors``).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import SelbenchError
from harness.select.base import Budget, SetSelector, fraction_threshold, strategy

IN21K_SYNSETS = "imagenet21k_goog_synsets.txt"  # timm's lists (shipped with the package)
LEMMA_FILE = "imagenet_synset_to_lemma.txt"
DATACOMP_IN1K = "datacomp:in1k"  # strategy.target: DataComp's released ImageNet-1k L/14 files
DATACOMP_CENTROID_SCALES = ("small", "medium", "large", "xlarge")  # strategy.centroids=datacomp:<scale>
MIN_POINTS_PER_CENTROID = 39  # faiss warns below this many training points per centroid
NOUN_SUFFIXES = (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
                 ("shes", "sh"), ("men", "man"), ("ies", "y"))  # WordNet's noun detachment


# ----- per-row tests ------------------------------------------------------------------
def caption_mask(texts, min_words: int, min_chars: int) -> np.ndarray:
    """Rows whose caption has more than ``min_words`` words and more than ``min_chars`` characters."""
    out = np.zeros(len(texts), dtype=bool)
    for i, t in enumerate(texts):
        out[i] = t is not None and len(t) > min_chars and len(t.split()) > min_words
    return out


def image_size_mask(width, height) -> np.ndarray:
    """Rows with ``min(w, h) >= 200`` and ``max(w, h) / min(w, h) <= 3`` (missing sizes fail)."""
    w = np.asarray(width, dtype=np.float64)
    h = np.asarray(height, dtype=np.float64)
    lo, hi = np.minimum(w, h), np.maximum(w, h)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (lo >= 200) & (hi / np.where(lo > 0, lo, np.nan) <= 3.0)


def timm_info_file(name: str) -> Path:
    """Path of one of timm's ImageNet info files (read without importing timm, which is slow)."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise SelbenchError("datacomp_text needs timm's ImageNet-21k synset lists: pip install timm")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "_info" / name
    if not path.is_file():
        raise SelbenchError(f"{path}: timm's ImageNet info file is missing")
    return path


def in21k_lemmas() -> frozenset[str]:
    """Lowercased lemmas (spaces as ``_``, single letters left out) of the ImageNet-21k synsets.

    From timm's ``imagenet21k_goog_synsets.txt`` and ``imagenet_synset_to_lemma.txt``.
    """
    synsets = set(timm_info_file(IN21K_SYNSETS).read_text(encoding="utf-8").split())
    words = set()
    for line in timm_info_file(LEMMA_FILE).read_text(encoding="utf-8").splitlines():
        wnid, _, names = line.partition("\t")
        if wnid in synsets:
            words.update(n.strip().lower().replace(" ", "_") for n in names.split(","))
    return frozenset(w for w in words if len(w) > 1)  # letters: first sense is not the synset


def in21k_ids() -> tuple[frozenset[int], str]:
    """ImageNet-21k WordNet offsets and their source: DataComp's downloaded list when present,
    else timm's ``imagenet21k_goog_synsets.txt``."""
    from baselines.wordnet_in21k import read_in21k_ids
    from harness.assets import asset_table, assets_dir

    dc = assets_dir() / asset_table()["imagenet21k_wordnet_ids"].filename
    if dc.is_file():
        return read_in21k_ids(dc), f"DataComp's list {dc}"
    path = timm_info_file(IN21K_SYNSETS)
    return read_in21k_ids(path), f"timm's {path.name}"


def names_in21k(word: str, lemmas: frozenset[str]) -> bool:
    """True if the lowercased ``word`` or one of its noun base forms is in ``lemmas``."""
    word = word.lower()
    if word in lemmas:
        return True
    return any(word.endswith(suf) and word[:len(word) - len(suf)] + base in lemmas
               for suf, base in NOUN_SUFFIXES)


ENGLISH_MODES = ("fasttext", "skip")


class English:
    """DataComp's English check: fasttext lid.176 top-1 label ``en`` (picklable; model loaded lazily).

    ``model_path`` None means no check runs; ``status`` says why (manifest field
    ``english_filter``).
    """

    def __init__(self, model_path: str | None, status: str):
        self.model_path = model_path
        self.status = status
        self._model = None

    def mask(self, texts) -> np.ndarray:
        """Rows whose caption fasttext labels English (all True when no check runs)."""
        if self.model_path is None:
            return np.ones(len(texts), dtype=bool)
        if self._model is None:
            import fasttext

            fasttext.FastText.eprint = lambda *a, **k: None  # silence the load-time warning
            self._model = fasttext.load_model(self.model_path)
        labels, _ = self._model.predict([str(t or "").replace("\n", " ") for t in texts], k=1)
        return np.array([lab[0] == "__label__en" for lab in labels], dtype=bool)

    def __getstate__(self):
        return {**self.__dict__, "_model": None}


def resolve_english(name: str, params, pool) -> English:
    """The English check for strategy ``name``: a fasttext model, the pool's word, or a skip.

    - ``strategy.english=skip``: no check (recorded; leaderboards mark the strategy);
    - a pool whose ``pool.json`` says ``"english": true`` (English by construction, e.g. the
      embedded pool): no check is needed, recorded as such;
    - else fasttext with ``strategy.fasttext_model`` or the downloaded ``lid.176.bin``
      (``selbench download-assets only=[lid176]``); without one, a one-line error naming
      the three ways on.
    """
    mode = params.english
    if mode not in ENGLISH_MODES:
        raise SelbenchError(f"{name}: strategy.english={mode!r} is not one of {', '.join(ENGLISH_MODES)}")
    if mode == "skip":
        return English(None, "skipped (strategy.english=skip)")
    if not params.fasttext_model and pool is not None and pool.info.get("english") is True:
        return English(None, "english by construction (pool.json)")
    if params.fasttext_model:
        path = Path(params.fasttext_model)
        if not path.is_file():
            raise SelbenchError(f"{name}: strategy.fasttext_model={path}: file not found")
    else:
        from harness.assets import asset_table, assets_dir

        path = assets_dir() / asset_table()["lid176"].filename
        if not path.is_file():
            raise SelbenchError(f"{name}: DataComp's English filter needs fasttext's lid.176.bin, not found "
                                f"at {path}: run `selbench download-assets only=[lid176]` (needs a "
                                "network), pass strategy.fasttext_model=PATH, or strategy.english=skip "
                                "to keep every language (recorded)")
    try:
        import fasttext  # noqa: F401
    except ImportError:
        raise SelbenchError(f"{name}: the English filter needs the fasttext package "
                            "(pip install fasttext)") from None
    return English(str(path), f"fasttext:{path}")


def caption_words(text: str) -> int:
    """Word count as DataComp's image-based caption filter counts it (``fasttext.tokenize``)."""
    import fasttext

    return len(fasttext.tokenize(text))


# ----- per-shard work (picklable, module level) ---------------------------------------
class BasicShard:
    """``datacomp_basic`` for one shard."""

    def __init__(self, english: English):
        self.english = english

    def __call__(self, shard) -> np.ndarray:
        """Bool mask of the shard's rows passing the basic filter."""
        c = shard.columns
        texts = c["text"]
        keep = caption_mask(texts, 2, 5) & image_size_mask(c["original_width"], c["original_height"])
        return keep & self.english.mask(texts)


class LemmaRule:
    """The labelled fallback: some word (or its regular noun singular) is an ImageNet-21k lemma."""

    def __init__(self, lemmas: frozenset[str]):
        self.lemmas = lemmas

    def __call__(self, text) -> bool:
        """True when a whitespace-separated word of ``text`` names an ImageNet-21k lemma."""
        return text is not None and any(names_in21k(w, self.lemmas) for w in text.split())


class TextShard:
    """``datacomp_text`` for one shard: a per-caption rule (WordNet's or the lemma fallback)."""

    def __init__(self, english: English, rule):
        self.english, self.rule = english, rule

    def __call__(self, shard) -> np.ndarray:
        """Bool mask of rows with an ImageNet-21k word (and English when checked)."""
        texts = shard.columns["text"]
        hit = np.array([self.rule(t) for t in texts], dtype=bool)
        return hit & self.english.mask(texts)


class CaptionShard:
    """The image-based baseline's caption filter (> 1 fasttext token, > 5 characters, English)."""

    def __init__(self, english: English):
        self.english = english

    def __call__(self, shard) -> np.ndarray:
        """Bool mask of rows passing the caption filter."""
        texts = shard.columns["text"]
        words = np.array([t is not None and caption_words(t) > 1 for t in texts], dtype=bool)
        chars = np.array([t is not None and len(t) > 5 for t in texts], dtype=bool)
        return words & chars & self.english.mask(texts)


class AssignShard:
    """Per row: 1.0 if its nearest centroid (max inner product) is a target centroid; and the
    CLIP score (the stored ``score_column`` when given, else f.g of ``txt_key``)."""

    def __init__(self, centroids: np.ndarray, targets: np.ndarray, img_key: str, txt_key: str | None,
                 score_column: str | None = None):
        self.centroids, self.targets = centroids, targets
        self.img_key, self.txt_key, self.score_column = img_key, txt_key, score_column
        self._index = None  # the faiss index, built once per process

    def __call__(self, shard) -> np.ndarray:
        """``(rows, 2)`` float64: target-centroid hit and CLIP score (0 when not needed)."""
        if self._index is None:
            self._index = centroid_index(self.centroids)
        f = finite_rows(shard, self.img_key)
        out = np.zeros((len(f), 2))
        out[:, 0] = np.isin(nearest_centroid(f, self._index), self.targets)
        if self.score_column is not None:
            col = np.asarray(shard.columns[self.score_column], dtype=np.float64)
            if not np.isfinite(col).all():
                row = int(np.argmin(np.isfinite(col)))
                raise SelbenchError(f"{shard.files.parquet}: {self.score_column} row {row} is missing or not finite")
            out[:, 1] = col
        elif self.txt_key is not None:
            out[:, 1] = (f * finite_rows(shard, self.txt_key)).sum(1)
        return out

    def __getstate__(self):
        return {**self.__dict__, "_index": None}


def finite_rows(shard, key: str) -> np.ndarray:
    """A shard's embedding ``key`` as float32; rows breaking the pool's value rules (non-finite,
    not unit-norm) are an error naming the file (``harness.select.embeddings``)."""
    from harness.select.embeddings import shard_float32

    return shard_float32(shard, key)


def centroid_index(centroids: np.ndarray):
    """An exact inner-product faiss index over ``centroids``."""
    import faiss

    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    return index


def nearest_centroid(x: np.ndarray, index) -> np.ndarray:
    """Index of the centroid with the largest inner product for each row of ``x``."""
    _, ids = index.search(np.ascontiguousarray(x, dtype=np.float32), 1)
    return ids[:, 0]


# ----- the strategies ------------------------------------------------------------------
@dataclass
class BasicParams:
    fasttext_model: str | None = None  # lid.176.bin path; None = the downloaded one (download-assets)
    english: str = "fasttext"  # "fasttext", or "skip" to keep every language (recorded, marked)


@dataclass
class TextParams(BasicParams):
    wordnet: str | None = None  # None: nltk's WordNet data if present, else the lemma fallback;
    #                             a WordNet 3.0 dict directory; or "lemmas" (the fallback, forced)


@dataclass
class ImageParams:
    embedding: str | None = None  # key prefix; None = the pool's default (DataComp: l14)
    target: str | None = None  # datacomp:in1k (released), a .npy/.pt path, or None = the suite's ImageNet analog
    clusters: int = 100000  # DataComp's k; clamped to survivors / 39 on small pools
    centroids: str | None = None  # datacomp:small|medium|large|xlarge (released), or a .npy/.pt (k x d)
    max_points_per_centroid: int = 256  # k-means trains on at most this many points per centroid
    fasttext_model: str | None = None  # as BasicParams
    english: str = "fasttext"


@dataclass
class ImageClipParams(ImageParams):
    clip_fraction: float = 0.3  # CLIP score top fraction (global threshold over the pool)


class FilterSelector(SetSelector):
    """A filter with a natural size; budgets subsample its survivors at random."""

    def keep(self, pool) -> np.ndarray:
        """Bool mask of survivors over all pool rows."""
        raise NotImplementedError

    def map_pool(self, pool, fn, columns=(), keys=()) -> list[np.ndarray]:
        """``fn`` over every shard (through the engine's executor when there is one)."""
        ctx = self.context
        progress = ctx.progress if ctx is not None else False
        if ctx is not None and ctx.executor is not None:
            return ctx.executor.map_shards(fn, pool, columns, keys, progress=progress)
        return [np.asarray(fn(s)) for s in pool.iter_shards(columns, keys, progress=progress)]

    def record(self, **values) -> None:
        """Add ``values`` to the manifest's strategy extras."""
        if self.context is not None:
            self.context.extra.update(values)

    def select(self, pool, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        """Survivors under ``budget=natural``; else exactly ``budget.target`` random survivors."""
        if budget.threshold is not None:
            raise SelbenchError(f"{self.name} takes no budget.threshold: use budget=natural, "
                                "budget.count or budget.fraction")
        mask = self.keep(pool)
        survivors = int(mask.sum())
        self.record(survivors=survivors)
        if budget.natural:
            return mask
        k = budget.target(len(mask))
        if k > survivors:
            raise SelbenchError(f"{self.name}: budget of {k} rows exceeds its {survivors} "
                                "surviving rows (use budget=natural for its natural size)")
        out = np.zeros(len(mask), dtype=bool)
        out[rng.choice(np.flatnonzero(mask), size=k, replace=False)] = True
        return out


@strategy("datacomp_basic")
class DataCompBasic(FilterSelector):
    """DataComp basic filter: > 2 words, > 5 chars, min side >= 200, aspect <= 3 (English opt.)."""

    version = "1"

    Params = BasicParams
    columns = ("text", "original_width", "original_height")

    def keep(self, pool) -> np.ndarray:
        """See the module docstring."""
        english = resolve_english(self.name, self.params, pool)
        self.record(english_filter=english.status)
        return np.concatenate(self.map_pool(pool, BasicShard(english), self.columns)).astype(bool)


@strategy("datacomp_text")
class DataCompText(FilterSelector):
    """DataComp text-based filter: a caption word names an ImageNet-21k synset (English opt.)."""

    version = "1"

    Params = TextParams
    columns = ("text",)

    def keep(self, pool) -> np.ndarray:
        """See the module docstring."""
        english = resolve_english(self.name, self.params, pool)
        rule, how = self.rule()
        self.record(english_filter=english.status, in21k_match=how)
        fn = TextShard(english, rule)
        return np.concatenate(self.map_pool(pool, fn, self.columns)).astype(bool)

    def rule(self):
        """(per-caption rule, what the manifest records): DataComp's first-synset rule
        through WordNet when there is WordNet data, else the labelled lemma fallback."""
        from baselines import wordnet_in21k as wn

        choice = self.params.wordnet
        if choice == "lemmas" or (choice is None and not wn.nltk_has_wordnet()):
            why = "forced by strategy.wordnet=lemmas" if choice == "lemmas" else "no WordNet data found"
            return LemmaRule(in21k_lemmas()), (f"APPROXIMATION: ImageNet-21k lemma membership ({why}; "
                                               "DataComp's rule needs WordNet)")
        source = wn.NLTK if choice is None else str(wn.check_dict_dir(Path(choice)))
        ids, ids_from = in21k_ids()
        return wn.FirstSynsetRule(source, ids), (f"exact: first WordNet synset ({source}) in "
                                                 f"ImageNet-21k ({ids_from})")


@strategy("datacomp_image")
class DataCompImage(FilterSelector):
    """DataComp image-based filter: k-means clusters nearest to target images, caption filter."""

    version = "1"

    Params = ImageParams
    columns = ("text",)
    embeddings = ("img",)

    def keep(self, pool) -> np.ndarray:
        """See the module docstring."""
        hit, _ = self.image_mask(pool, with_scores=False)
        return hit

    def image_mask(self, pool, with_scores: bool) -> tuple[np.ndarray, np.ndarray]:
        """(caption filter & target-centroid hit, CLIP scores or zeros) over all pool rows."""
        english = resolve_english(self.name, self.params, pool)
        caption = np.concatenate(self.map_pool(pool, CaptionShard(english), ("text",))).astype(bool)
        img_key = f"{self.arch}_img"
        centroids = self.centroids(pool, caption, img_key)
        targets = self.target_matrix(pool, centroids.shape[1])
        target_ids = np.unique(nearest_centroid(targets, centroid_index(centroids)))
        column = None
        if with_scores:  # DataComp's stored score column when the pool has it (as clip_score reads it)
            import pyarrow.parquet as pq

            name = f"clip_{self.arch}_similarity_score"
            column = name if name in pq.read_schema(pool.shards[0].parquet).names else None
            self.record(score_source=f"column {name}" if column else
                        f"recomputed from {self.arch}_img . {self.arch}_txt")
        fn = AssignShard(centroids, target_ids, img_key,
                         f"{self.arch}_txt" if with_scores and column is None else None, column)
        keys = [img_key] + ([f"{self.arch}_txt"] if with_scores and column is None else [])
        rows = np.concatenate(self.map_pool(pool, fn, (column,) if column else (), keys))
        self.record(english_filter=english.status, caption_survivors=int(caption.sum()),
                    target_clusters=int(len(target_ids)))
        return caption & (rows[:, 0] > 0), rows[:, 1]

    def input_files(self, pool) -> list[Path]:
        """The target embeddings file, when it is the pool's analog split or a path (DataComp's
        released files are fixed assets)."""
        if self.params.target == DATACOMP_IN1K:
            return []
        return [self.analog_file(pool, self.params.target, f"train_{self.arch}_img.npy",
                                 "target", "an .npy of target image embeddings")]

    def target_matrix(self, pool, dim: int) -> np.ndarray:
        """Target image embeddings: ``params.target`` (a path, or ``datacomp:in1k`` for DataComp's
        five released ImageNet-1k L/14 files), else the pool's ImageNet-analog train split."""
        if self.params.target == DATACOMP_IN1K:
            from harness.assets import asset_path

            parts = [self.load_matrix(asset_path(f"in1k_clip_vit_l14_{i}", "strategy.target"),
                                      "target embeddings", dim) for i in range(5)]
            self.record(target="DataComp's ImageNet-1k L/14 train embeddings (in1k_clip_vit_l14_0..4)")
            return np.concatenate(parts)
        path = self.analog_file(pool, self.params.target, f"train_{self.arch}_img.npy",
                                "target", "an .npy of target image embeddings")
        self.record(target=str(path))
        return self.load_matrix(path, "target embeddings", dim)

    @staticmethod
    def load_matrix(path: Path, what: str, dim: int | None) -> np.ndarray:
        """A finite 2-D float matrix with ``dim`` columns (when given), as float32.

        ``.npy`` (no pickles), or DataComp's ``.pt`` files read with ``weights_only=True``:
        a saved numpy array (the centroids) or a dict whose ``image_features`` is a tensor
        (the ImageNet-1k embeddings).
        """
        if not path.is_file():
            raise SelbenchError(f"{path}: {what} not found")
        try:
            arr = load_pt_matrix(path) if path.suffix == ".pt" else np.load(path, allow_pickle=False)
        except Exception as exc:
            raise SelbenchError(f"{path}: cannot read {what} ({str(exc).splitlines()[0][:200]})") from None
        if arr.ndim != 2 or len(arr) == 0 or (dim is not None and arr.shape[1] != dim):
            raise SelbenchError(f"{path}: {what} have shape {arr.shape}, expected (rows, {dim})")
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise SelbenchError(f"{path}: {what} contain non-finite values")
        return arr

    def centroids(self, pool, caption: np.ndarray, img_key: str) -> np.ndarray:
        """Precomputed centroids, or k-means on (a seed-0 sample of) the caption survivors."""
        dim = pool.info.get("embedding_keys", {}).get(img_key)
        name = self.params.centroids
        if name and name.startswith("datacomp:"):
            from harness.assets import asset_path

            scale = name.split(":", 1)[1]
            if scale not in DATACOMP_CENTROID_SCALES:
                raise SelbenchError(f"{self.name}: strategy.centroids={name}: expected datacomp:"
                                    f"{'|datacomp:'.join(DATACOMP_CENTROID_SCALES)} or a path")
            c = self.load_matrix(asset_path(f"centroids_{scale}", "strategy.centroids"), "centroids", dim)
            self.record(clusters=len(c), kmeans=f"DataComp's released {scale} centroids (exact)")
            return c
        if name:
            c = self.load_matrix(Path(name), "centroids", dim)
            self.record(clusters=len(c), kmeans=f"precomputed ({name})")
            return c
        rows = np.flatnonzero(caption)
        if len(rows) == 0:
            raise SelbenchError(f"{self.name}: no caption passes the caption filter; nothing to cluster")
        k = int(min(self.params.clusters, max(1, len(rows) // MIN_POINTS_PER_CENTROID)))
        cap = int(self.params.max_points_per_centroid) * k
        if len(rows) > cap:
            rows = np.sort(np.random.default_rng(0).choice(rows, size=cap, replace=False))
        x = self.gather(pool, rows, img_key)
        return train_kmeans(x, k, self.params.max_points_per_centroid, self.record)

    def gather(self, pool, rows: np.ndarray, key: str) -> np.ndarray:
        """The float32 ``key`` embeddings of the (sorted) pool ``rows``, one shard at a time."""
        parts = []
        for shard in pool.iter_shards((), [key]):
            lo, hi = np.searchsorted(rows, [shard.offset, shard.offset + len(shard)])
            if hi > lo:
                parts.append(finite_rows(shard, key)[rows[lo:hi] - shard.offset])
        return np.concatenate(parts)


def load_pt_matrix(path: Path) -> np.ndarray:
    """A matrix from a ``torch.save`` file, unpickled only through torch's weights-only loader
    with numpy's array types allowed (both module spellings, numpy 1 and 2)."""
    import torch

    recon = np._core.multiarray._reconstruct
    safe = [(recon, "numpy.core.multiarray._reconstruct"), (recon, "numpy._core.multiarray._reconstruct"),
            np.ndarray, np.dtype, *{type(np.dtype(t)) for t in (np.float16, np.float32, np.float64)}]
    with torch.serialization.safe_globals(safe):
        obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict):
        if "image_features" not in obj:
            raise SelbenchError(f"{path}: a dict without 'image_features' (keys: {', '.join(map(str, obj))})")
        obj = obj["image_features"]
    if isinstance(obj, torch.Tensor):
        return obj.float().numpy()
    return np.asarray(obj)


def train_kmeans(x: np.ndarray, k: int, max_points_per_centroid: int, record) -> np.ndarray:
    """faiss k-means (L2, 20 iterations, seed 0) of ``x`` into ``k`` centroids."""
    import faiss

    km = faiss.Kmeans(x.shape[1], k, niter=20, seed=0, verbose=False,
                      max_points_per_centroid=max(max_points_per_centroid, 1),
                      min_points_per_centroid=1)
    km.train(np.ascontiguousarray(x, dtype=np.float32))
    record(clusters=k, kmeans_train_rows=len(x),
           kmeans="CPU k-means here (faiss niter=20 seed=0), not DataComp's released centroids")
    return np.asarray(km.centroids, dtype=np.float32)


@strategy("datacomp_image_clip")
class DataCompImageClip(DataCompImage):
    """DataComp-1B recipe: image-based filter ∩ CLIP score top 30% (one global threshold)."""

    version = "1"

    Params = ImageClipParams
    embeddings = ("img", "txt")

    def keep(self, pool) -> np.ndarray:
        """See the module docstring."""
        f = self.params.clip_fraction
        if not 0 < f <= 1:
            raise SelbenchError(f"{self.name}: strategy.clip_fraction={f} is outside (0, 1]")
        hit, scores = self.image_mask(pool, with_scores=True)
        threshold = fraction_threshold(scores, f)
        self.record(clip_threshold=threshold)
        return hit & (scores >= threshold)
