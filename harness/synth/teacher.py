"""The embedded benchmark's teacher: a tiny open_clip CLIP (``selbench-teacher``), trained from
random init on the clean generated set, that embeds the pool and the evaluation sets.

Calibration (generator version 2): the version-1 teacher (a 2-layer ViT, 282 steps of 256)
reached 0.050 on `objects`. An open_clip ModifiedResNet ([1,1,1,1], width 24, text 128)
trained for 1,200 steps of 128 at lr 2e-3 reached `objects` 0.896 and CLIPScore ROC AUC
0.993 (clean vs mismatched) on a 100k pool, in 12 minutes on one loaded core: more than the
issue's 0.60 / 0.95 and too slow for the default job, so the teacher is width 16 for 900
steps (171 ms of CPU per step on one thread against 224 ms at width 24). Every build records
the teacher's zero-shot scores and AUC in teacher.json and pool.json.

``train_teacher`` trains it in process with open_clip's ``ClipLoss`` (AdamW, cosine schedule
with warmup) and writes ``teacher.pt`` (a plain state_dict) and ``teacher.json``;
``Teacher.load`` reads them back. The logit scale is fixed at 100 (temperature 0.01, the
value OpenAI's CLIP learned and s-CLIPLoss assumes), so the recorded temperature is exact.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from harness.errors import SelbenchError
from harness.io import atomic_path, package_versions, write_json_atomic

MODEL_NAME = "selbench-teacher"
ARCH = "teacher"
CHECKPOINT = "teacher.pt"
INFO = "teacher.json"
IMAGE_SIZE = 32
LOGIT_SCALE = 100.0
INITIAL_LOGIT_SCALE = 1 / 0.07
RAMP_FRACTION = 0.5
DEFAULT_EPOCHS = 4.8
DEFAULT_BATCH_SIZE = 128
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 0.1
WARMUP_FRACTION = 0.1
ENCODE_BATCH = 2048


@contextlib.contextmanager
def _torch_threads() -> Iterator[None]:
    """Run torch on all of this process's cores for the block; restore the old count after."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def check_images(images, what: str = "images") -> np.ndarray:
    """Return ``images`` if it is a non-empty uint8 (N, 32, 32, 3) array; else raise SelbenchError."""
    if not isinstance(images, np.ndarray):
        raise SelbenchError(f"teacher: {what} must be a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise SelbenchError(f"teacher: {what} must be uint8, got {images.dtype}")
    if images.ndim != 4 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise SelbenchError(f"teacher: {what} must have shape (N, {IMAGE_SIZE}, {IMAGE_SIZE}, 3), "
                            f"got {images.shape}")
    if len(images) == 0:
        raise SelbenchError(f"teacher: {what} is empty")
    return images


def check_texts(texts, what: str = "captions") -> list[str]:
    """Return ``texts`` as a list if it is a non-empty sequence of strings; else raise SelbenchError."""
    if isinstance(texts, (str, bytes)) or not hasattr(texts, "__len__"):
        raise SelbenchError(f"teacher: {what} must be a list of strings, got {type(texts).__name__}")
    texts = list(texts)
    if not texts:
        raise SelbenchError(f"teacher: {what} is empty")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise SelbenchError(f"teacher: {what}[{i}] is {type(t).__name__}, not str")
    return texts


def images_to_tensor(images: np.ndarray):
    """uint8 (N, 32, 32, 3) -> float32 torch tensor (N, 3, 32, 32), scaled to [0, 1] and
    normalised with open_clip's OPENAI mean/std (what the model's preprocess transform does)."""
    import torch
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(OPENAI_DATASET_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD, dtype=torch.float32).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std)


def create_teacher_model(seed: int = 0):
    """A freshly initialised ``selbench-teacher`` CLIP (torch seeded with ``seed``), with its
    logit scale fixed at 100 (not trained)."""
    import open_clip
    import torch

    from harness.models import register_model_configs

    register_model_configs()
    torch.manual_seed(seed)
    model = open_clip.create_model(MODEL_NAME, pretrained=None, device="cpu")
    _set_logit_scale(model, LOGIT_SCALE)
    model.logit_scale.requires_grad_(False)
    return model


def batch_schedule(n: int, steps: int, batch_size: int, seed: int) -> Iterator[np.ndarray]:
    """Yield ``steps`` index batches of ``batch_size`` rows out of ``n`` (<= n): each epoch is a
    fresh permutation from a numpy Generator seeded with ``seed``, cut into full batches
    (the remainder is dropped, as open_clip's loader does)."""
    rng = np.random.default_rng(seed)
    per_epoch = n // batch_size
    order = rng.permutation(n)
    for step in range(steps):
        k = step % per_epoch
        if step and k == 0:
            order = rng.permutation(n)
        yield order[k * batch_size:(k + 1) * batch_size]


def logit_scale_at(step: int, steps: int) -> float:
    """The fixed logit-scale schedule: geometric ramp from 1/0.07 (CLIP's initial value) to
    100 over the first half of training, 100 after (so the teacher ends at tau = 0.01)."""
    ramp = min(1.0, step / max(1.0, RAMP_FRACTION * steps))
    return math.exp((1 - ramp) * math.log(INITIAL_LOGIT_SCALE) + ramp * math.log(LOGIT_SCALE))


def _set_logit_scale(model, value: float) -> None:
    """Set the model's (untrained) logit scale to ``value``."""
    import torch

    with torch.no_grad():
        model.logit_scale.fill_(math.log(value))


def _param_groups(model) -> list[dict]:
    """AdamW groups as open_clip's trainer makes them: no weight decay on gains, biases,
    embeddings' 1-d params and the logit scale."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        exclude = p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
        (no_decay if exclude else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": WEIGHT_DECAY}]


def inputs_digest(images: np.ndarray, captions: list[str], seed: int, epochs: float,
                  batch_size: int) -> str:
    """sha256 over the training inputs and settings (a finished teacher with it is reused)."""
    h = hashlib.sha256()
    h.update(json.dumps({"model": MODEL_NAME, "seed": seed, "epochs": epochs,
                         "batch_size": batch_size, "lr": LEARNING_RATE,
                         "shape": list(images.shape)}).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(json.dumps(captions).encode())
    return h.hexdigest()


def _fit(model, images: np.ndarray, tokens, steps: int, batch_size: int, seed: int,
         progress: bool) -> float:
    """Train ``model`` in place for ``steps`` steps; return the mean loss of the last 10%."""
    import torch
    from open_clip import ClipLoss
    from open_clip_train.scheduler import cosine_lr
    from tqdm import tqdm

    optimizer = torch.optim.AdamW(_param_groups(model), lr=LEARNING_RATE, betas=(0.9, 0.98), eps=1e-6)
    schedule = cosine_lr(optimizer, LEARNING_RATE, max(1, int(WARMUP_FRACTION * steps)), steps)
    loss_fn = ClipLoss()
    tail, losses = max(1, steps // 10), []
    model.train()
    bar = tqdm(total=steps, desc="teacher", unit="step", disable=not progress, leave=False)
    for step, idx in enumerate(batch_schedule(len(images), steps, batch_size, seed)):
        schedule(step)
        _set_logit_scale(model, logit_scale_at(step, steps))
        img_f, txt_f, scale = model(images_to_tensor(images[idx]), tokens[torch.from_numpy(idx)])
        loss = loss_fn(img_f, txt_f, scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    bar.close()
    model.eval()
    return float(np.mean(losses[-tail:]))


def train_teacher(images: np.ndarray, captions: list[str], out_dir: Path, seed: int = 0,
                  epochs: float = DEFAULT_EPOCHS, batch_size: int = DEFAULT_BATCH_SIZE,
                  progress: bool = True) -> "Teacher":
    """Train the teacher on uint8 (N, 32, 32, 3) ``images`` and their ``captions`` for
    ``epochs`` passes (steps = ceil(epochs * N / batch_size)); write ``out_dir/teacher.pt`` and
    ``out_dir/teacher.json`` atomically and return the trained ``Teacher``. A finished teacher
    in ``out_dir`` with the same inputs and settings is loaded instead of retrained."""
    images = check_images(images)
    captions = check_texts(captions)
    if len(captions) != len(images):
        raise SelbenchError(f"teacher: {len(images)} images but {len(captions)} captions")
    if not (epochs > 0 and batch_size >= 2):
        raise SelbenchError(f"teacher: need epochs > 0 and batch_size >= 2, got {epochs}, {batch_size}")
    out_dir = Path(out_dir)
    digest = inputs_digest(images, captions, seed, float(epochs), int(batch_size))
    if _finished(out_dir, digest):
        return Teacher.load(out_dir)
    batch_size = min(int(batch_size), len(images))
    steps = max(1, math.ceil(float(epochs) * len(images) / batch_size))
    start = time.time()
    with _torch_threads():
        model = create_teacher_model(seed)
        tokens = tokenize(captions)
        final_loss = _fit(model, images, tokens, steps, batch_size, seed, progress)
    wall = time.time() - start
    info = {"model": MODEL_NAME, "arch": ARCH, "seed": seed, "num_pairs": len(images),
            "epochs": float(epochs), "batch_size": batch_size, "steps": steps,
            "samples_seen": steps * batch_size, "learning_rate": LEARNING_RATE,
            "final_loss": final_loss, "logit_scale": float(model.logit_scale.exp()),
            "temperature": float(1.0 / model.logit_scale.exp()),
            "embed_dim": int(model.text_projection.shape[1]),
            "wall_time_s": round(wall, 3), "samples_per_s": round(steps * batch_size / wall, 1),
            "checkpoint": CHECKPOINT, "inputs_sha256": digest, "versions": package_versions()}
    _save(model, info, out_dir)
    return Teacher(model, info)


def _finished(out_dir: Path, digest: str) -> bool:
    """Whether ``out_dir`` holds a finished teacher trained on inputs with ``digest``."""
    try:
        info = json.loads((out_dir / INFO).read_text())
    except (OSError, ValueError):
        return False
    return info.get("inputs_sha256") == digest and (out_dir / CHECKPOINT).is_file()


def _save(model, info: dict, out_dir: Path) -> None:
    """Write the state_dict, then the json (its presence marks a finished teacher)."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / CHECKPOINT, suffix=".pt") as tmp:
        torch.save(model.state_dict(), tmp)
    write_json_atomic(out_dir / INFO, info)


def record_quality(out_dir: Path, zero_shot: dict[str, float], clipscore_auc: float | None) -> dict:
    """Add the teacher's measured quality to ``out_dir/teacher.json`` (rewritten atomically):
    ``zero_shot`` (main metric per tiny task, test split) and ``clipscore_auc_clean_vs_mismatched``
    (ROC AUC of f.g separating clean from mismatched pool pairs, audit ground truth). Returns
    the updated record."""
    info = json.loads((Path(out_dir) / INFO).read_text())
    info["zero_shot"] = {k: round(float(v), 6) for k, v in zero_shot.items()}
    info["clipscore_auc_clean_vs_mismatched"] = None if clipscore_auc is None else round(float(clipscore_auc), 6)
    write_json_atomic(Path(out_dir) / INFO, info)
    return info


def tokenize(texts: list[str]):
    """Token ids (N, context_length) from open_clip's tokenizer for ``selbench-teacher``."""
    import open_clip

    from harness.models import register_model_configs

    register_model_configs()
    return open_clip.get_tokenizer(MODEL_NAME)(texts)


class Teacher:
    """A trained teacher: L2-normalised image/text embeddings and zero-shot class prompts."""

    arch = ARCH

    def __init__(self, model, info: dict):
        """Wrap a trained ``selbench-teacher`` model (put in eval mode) and its teacher.json."""
        self.model = model.eval()
        self.info = dict(info)

    @classmethod
    def load(cls, out_dir: Path) -> "Teacher":
        """Load ``out_dir/teacher.pt`` (weights only) and ``out_dir/teacher.json``."""
        import torch

        out_dir = Path(out_dir)
        for name in (INFO, CHECKPOINT):
            if not (out_dir / name).is_file():
                raise SelbenchError(f"teacher: {out_dir / name} not found")
        try:
            info = json.loads((out_dir / INFO).read_text())
            state = torch.load(out_dir / CHECKPOINT, map_location="cpu", weights_only=True)
            model = create_teacher_model(int(info.get("seed", 0)))
            model.load_state_dict(state)
        except (ValueError, RuntimeError, KeyError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise SelbenchError(f"teacher: cannot load {out_dir}: {first}") from None
        return cls(model, info)

    @property
    def model_name(self) -> str:
        """The open_clip model config name (``selbench-teacher``)."""
        return MODEL_NAME

    @property
    def temperature(self) -> float:
        """The model's contrastive temperature, 1 / exp(logit_scale) (0.01)."""
        return float(1.0 / self.model.logit_scale.detach().exp())

    def encode_images(self, images: np.ndarray, batch_size: int = ENCODE_BATCH,
                      progress: bool = False) -> np.ndarray:
        """uint8 (N, 32, 32, 3) images -> float32 (N, d) L2-normalised embeddings."""
        images = check_images(images)
        return self._encode(len(images), lambda sl: self.model.encode_image(images_to_tensor(images[sl]),
                                                                            normalize=True),
                            batch_size, progress and "teacher images")

    def encode_texts(self, texts: list[str], batch_size: int = ENCODE_BATCH,
                     progress: bool = False) -> np.ndarray:
        """Strings -> float32 (N, d) L2-normalised embeddings (each distinct text encoded once)."""
        texts = check_texts(texts, "texts")
        unique, inverse = np.unique(np.asarray(texts, dtype=object).astype(str), return_inverse=True)
        tokens = tokenize(unique.tolist())
        emb = self._encode(len(unique), lambda sl: self.model.encode_text(tokens[sl], normalize=True),
                           batch_size, progress and "teacher texts")
        return emb[inverse.reshape(-1)]

    def class_embeddings(self, classnames: list[str], templates: list[str]) -> np.ndarray:
        """(C, d) zero-shot class vectors as clip_benchmark builds them: each template with
        ``{c}`` filled, texts embedded and normalised, averaged per class, renormalised."""
        classnames = check_texts(classnames, "classnames")
        templates = check_texts(templates, "templates")
        texts = [t.format(c=c) for c in classnames for t in templates]
        emb = self.encode_texts(texts).reshape(len(classnames), len(templates), -1).mean(axis=1)
        return (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)

    def _encode(self, n: int, encode, batch_size: int, progress) -> np.ndarray:
        """Run ``encode(slice)`` over ``n`` rows in batches; return float32 (n, d)."""
        import torch
        from tqdm import tqdm

        out = []
        bar = tqdm(total=n, desc=progress or "", unit="row", disable=not progress, leave=False)
        with torch.no_grad(), _torch_threads():
            for start in range(0, n, batch_size):
                out.append(encode(slice(start, min(n, start + batch_size))).float().numpy())
                bar.update(len(out[-1]))
        bar.close()
        return np.ascontiguousarray(np.concatenate(out), dtype=np.float32)
