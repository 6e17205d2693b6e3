"""Calibrate the miniature: train an open_clip model config on clean generated pairs in
process and report zero-shot `objects` accuracy (the tiny suite's ImageNet analog) along
the way, with wall time per step. Used to choose the captions, the teacher and the tiny
student recorded in harness/conf/scale/tiny.yaml and harness/conf/synth/tiny.yaml.

    python tools/calibrate_miniature.py --model selbench-tiny --steps 600 --batch 128 \
        --lr 2e-3 --eval-every 100 [--pairs 24000] [--threads 2] [--seed 0]

The pairs are the teacher's clean set of the tiny preset (uniform concepts, no defects),
drawn with the current generator; the test split is the `objects` task's (624 images).
Timings depend on the machine and its load: compare configs within one run of this script.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def clean_pairs(n: int, seed: int):
    """``n`` clean (image, caption) pairs drawn as the teacher's set is (tiny preset)."""
    from harness.synth import evalsets as ev
    from harness.synth.metaclip import english_words
    from harness.synth.plan import teacher_plan
    from harness.synth.presets import load_preset
    from harness.synth.samples import phrases, render_plan

    cfg = load_preset("tiny")
    cfg["teacher"]["size"] = n
    phrase_list = phrases(english_words())
    plan = teacher_plan(cfg, seed, len(phrase_list), ev.DIGIT_FRACTIONS)
    images, captions, _ = render_plan(plan, seed, 2, phrase_list, workers=1)
    return images, captions


def objects_accuracy(model, tokenizer, split) -> float:
    """Zero-shot top-1 accuracy of ``model`` on the `objects` split, clip_benchmark-style
    class vectors (templates averaged, renormalised)."""
    import torch

    from harness.synth import evalsets as ev
    from harness.synth.teacher import images_to_tensor

    spec = ev.TASKS["objects"]
    texts = [t.format(c=c) for c in spec.classnames for t in spec.templates]
    model.eval()
    with torch.no_grad():
        img = model.encode_image(images_to_tensor(split.images), normalize=True)
        cls = model.encode_text(tokenizer(texts), normalize=True)
        cls = cls.reshape(len(spec.classnames), len(spec.templates), -1).mean(1)
        cls = cls / cls.norm(dim=-1, keepdim=True)
        pred = (img @ cls.T).argmax(1).numpy()
    model.train()
    return float(np.mean(pred == np.asarray(split.targets)))


def main() -> None:
    """Parse arguments, train, print one JSON line per evaluation."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="selbench-tiny")
    ap.add_argument("--pairs", type=int, default=24000)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import open_clip
    import torch
    from open_clip import ClipLoss
    from open_clip_train.scheduler import cosine_lr

    from harness.models import register_model_configs
    from harness.synth import evalsets as ev
    from harness.synth.teacher import _param_groups, batch_schedule, images_to_tensor

    torch.set_num_threads(args.threads)
    register_model_configs()
    images, captions = clean_pairs(args.pairs, args.seed)
    test = ev.draw_split("objects", "test", 624, args.seed)
    torch.manual_seed(args.seed)
    model = open_clip.create_model(args.model, pretrained=None, device="cpu")
    tokenizer = open_clip.get_tokenizer(args.model)
    tokens = tokenizer(captions)
    opt = torch.optim.AdamW(_param_groups(model), lr=args.lr, betas=(0.9, 0.98), eps=1e-6, fused=True)
    schedule = cosine_lr(opt, args.lr, max(1, args.steps // 10), args.steps)
    loss_fn, losses, trained = ClipLoss(), [], 0.0
    for step, idx in enumerate(batch_schedule(len(images), args.steps, args.batch, args.seed)):
        start = time.perf_counter()
        schedule(step)
        img_f, txt_f, scale = model(images_to_tensor(images[idx]), tokens[torch.from_numpy(idx)])
        loss = loss_fn(img_f, txt_f, scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        trained += time.perf_counter() - start
        losses.append(float(loss.detach()))
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            print(json.dumps({"model": args.model, "step": step + 1, "batch": args.batch, "lr": args.lr,
                              "samples_seen": (step + 1) * args.batch,
                              "loss": round(float(np.mean(losses[-20:])), 4),
                              "objects": round(objects_accuracy(model, tokenizer, test), 4),
                              "ms_per_step": round(1000 * trained / (step + 1), 1)}), flush=True)


if __name__ == "__main__":
    main()
