"""open_clip_train's AdamW switched to torch's fused kernel: same update, same groups."""
import torch

from harness.train.optimizer import use_fused_adamw


def _params():
    torch.manual_seed(0)
    w, b = torch.nn.Parameter(torch.randn(6, 4)), torch.nn.Parameter(torch.randn(4))
    return w, b


def _step(make):
    w, b = _params()
    opt = make([{"params": [b], "weight_decay": 0.0}, {"params": [w], "weight_decay": 0.2}],
               lr=1e-2, betas=(0.9, 0.98), eps=1e-6)
    for _ in range(3):
        loss = ((w @ torch.ones(4) + b.sum()) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return opt, w.detach(), b.detach()


def test_open_clip_builds_fused_adamw_with_the_same_update():
    import open_clip_train.main as open_clip_main

    use_fused_adamw()
    use_fused_adamw()  # idempotent
    fused, w_fused, b_fused = _step(open_clip_main.optim.AdamW)
    plain, w_plain, b_plain = _step(torch.optim.AdamW)
    assert isinstance(fused, torch.optim.AdamW) and fused.defaults["fused"] is True
    assert not plain.defaults["fused"]
    assert [g["weight_decay"] for g in fused.param_groups] == [0.0, 0.2]
    torch.testing.assert_close(w_fused, w_plain, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(b_fused, b_plain, rtol=1e-5, atol=1e-6)
    assert not torch.equal(w_plain, _params()[0].detach())  # the steps did move the weights
