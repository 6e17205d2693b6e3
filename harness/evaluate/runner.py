"""Evaluate one checkpoint on a suite: load it safely, score each task, append result lines."""
from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Sequence

from harness.errors import SelbenchError
from harness.evaluate import datasets, results
from harness.evaluate.evaluators import EVALUATORS, Context
from harness.evaluate.tasks import load_suite, select_tasks
from harness.io import remove_stale_temps
from harness.lock import folder_lock, remove_created_folder



def load_model(checkpoint: Path, model_name: str, device: str):
    """``(model, tokenizer, transform)`` for an open_clip checkpoint of architecture ``model_name``.

    selbench's model configs are registered first; an architecture open_clip would download
    (``hf-hub:``, a Hugging Face text tower) is refused. The architecture is built, then the weights
    are loaded with ``open_clip.load_checkpoint(strict=True, weights_only=True)`` (torch.load
    refuses any pickled object that is not tensors/containers); weights that do not fit the
    architecture and unsafe files are one-line errors.
    """
    import open_clip

    from harness.models import check_offline_model

    check_offline_model(model_name, "model")  # a known config that needs no download
    model, _, transform = _quietly(open_clip.create_model_and_transforms, model_name, device=device)
    try:
        open_clip.load_checkpoint(model, str(checkpoint), strict=True, weights_only=True)
    except pickle.UnpicklingError as exc:  # torch.load(weights_only=True) refused the file
        raise SelbenchError(f"checkpoint {checkpoint} cannot be loaded safely (torch.load with "
                            f"weights_only=True refused it: not only tensors, or not a "
                            f"checkpoint)") from exc
    except Exception as exc:  # shapes, missing keys, open_clip's resize assertions, bad files
        raise SelbenchError(f"checkpoint {checkpoint} is not a {model_name} checkpoint "
                            f"({exc.__class__.__name__}: {_first_line(exc)})") from exc
    model.eval()
    return model, open_clip.get_tokenizer(model_name), transform


def _quietly(fn, *args, **kwargs):
    """Call ``fn`` with logging warnings muted (open_clip warns that a fresh model is random)."""
    import logging

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        return fn(*args, **kwargs)
    finally:
        logging.disable(previous)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""


def _finished_lines(path: Path, suite: str, run: dict, suite_tasks, present) -> dict | None:
    """The result lines in ``path`` when every present task already has one, else None
    (also when the file needs repair or is invalid: the locked path handles and reports it)."""
    if not path.is_file() or not path.read_bytes().endswith(b"\n"):
        return None
    try:
        done = results.finished_tasks(path, suite, run["checkpoint_sha256"],
                                      {t.key for t in suite_tasks})
    except SelbenchError:
        return None
    return done if all(t.key in done for t in present) else None


def default_device() -> str:
    """``cuda`` when available, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def evaluate(checkpoint: Path, suite: str, data_root: Path, out: Path, allow_missing: bool = False,
             tasks: Sequence[str] | None = None, batch_size: int = 64, model: str | None = None,
             num_workers: int = 0, device: str | None = None) -> list[dict]:
    """Evaluate ``checkpoint`` on ``suite``'s tasks under ``data_root``; return the result lines.

    Lines are appended to ``out/eval_results.jsonl`` as tasks finish; tasks already there for
    this checkpoint are skipped; ``out`` is locked while it works (``harness.lock``: a second
    evaluation there is refused), and only read when every task is already done. Missing datasets fail before any work unless
    ``allow_missing``. The architecture comes from ``train.json`` beside the checkpoint
    (``model``) unless ``model`` is given. Returned lines follow suite order.
    """
    checkpoint, data_root, out = Path(checkpoint), Path(data_root), Path(out)
    if not checkpoint.is_file():
        raise SelbenchError(f"checkpoint {checkpoint} not found")
    if device not in (None, "cpu", "cuda"):
        raise SelbenchError(f"device must be cpu or cuda (clip_benchmark's autocast), not {device!r}")
    suite_tasks = load_suite(suite)
    chosen = select_tasks(suite_tasks, tasks)
    info = results.read_train_info(checkpoint)
    model_name = model or (info or {}).get("model")
    if not model_name:
        raise SelbenchError(f"no model architecture for {checkpoint}: no train.json with a "
                            "`model` beside it; pass model=NAME")
    from harness.models import check_offline_model

    check_offline_model(model_name, "model")  # before any folder is made
    present = datasets.check_present(chosen, data_root, allow_missing)
    for task in chosen:
        if task not in present:
            print(f"selbench: skipping {task.key}: no data at {task.data_dir(data_root)}", file=sys.stderr)
    run = results.run_identity(checkpoint, suite, model_name, info)
    path = out / results.RESULTS_FILE
    finished = _finished_lines(path, suite, run, suite_tasks, present)
    if finished is not None:  # nothing to do: the folder is only read, not locked
        return [finished[t.key] for t in chosen if t.key in finished]
    created = not out.exists()
    with folder_lock(out):  # one evaluation per folder, as train and run
        try:
            remove_stale_temps(path, held=True)  # a killed rewrite's temporary (we hold the lock)
            if results.drop_torn_tail(path):
                print(f"selbench: dropped a half-written last line of {path}", file=sys.stderr)
            done = results.finished_tasks(path, suite, run["checkpoint_sha256"],
                                          {t.key for t in suite_tasks})
            todo = [t for t in present if t.key not in done]
            if todo:
                device = device or default_device()
                net, tokenizer, transform = load_model(checkpoint, model_name, device)
                ctx = Context(net, tokenizer, transform, data_root, device, batch_size, num_workers)
                for task in todo:
                    line = results.result_line(task, EVALUATORS.get(task.evaluator)(task, ctx), run)
                    results.append_result(path, line)
                    done[task.key] = line
                    score = line["metrics"]["main_metric"]
                    print(f"{task.name}: {'-' if score is None else f'{score:.4f}'}", file=sys.stderr)
        except BaseException:
            if created and not path.exists():  # nothing evaluated: leave no folder behind
                remove_created_folder(out)
            raise
    return [done[t.key] for t in chosen if t.key in done]
