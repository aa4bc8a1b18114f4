"""Forks beside their parent: a trainer's state saved and loaded into the child's trainer."""

import pytest
import torch

from gancore.config import RunConfig
from gancore.run.session import Session
from gancore.train.checkpoint import load_state, save_state
from gancore.train.vae import make_trainer

SMALL = RunConfig().with_changes({"generator.hidden": [16], "discriminator.hidden": [16],
                                  "train.batch_size": 32, "frames.samples": 100,
                                  "frames.d_grid": 16, "train.seed": 5})


def losses(trainer, n):
    return [trainer.step().as_row()[1:3] for _ in range(n)]


# GAN Lab's sizes: these networks train with direct backprop (gancore.train.direct_backprop)
GANLAB_SIZED = SMALL.with_changes({"generator.hidden": [10], "discriminator.hidden": [9, 9]})


@pytest.mark.parametrize("cfg", [SMALL, GANLAB_SIZED], ids=["autograd", "direct-backprop"])
def test_ck001_same_config_child_trains_exactly_like_its_parent(tmp_path, cfg):
    parent = make_trainer(cfg)
    assert parent._use_direct == (cfg is GANLAB_SIZED)
    losses(parent, 15)
    save_state(parent, tmp_path / "p.pt")
    child = make_trainer(cfg)
    note = load_state(child, tmp_path / "p.pt")
    assert "weights" in note and "optimiser state" in note and "random stream" in note
    assert child.step_count == 15
    assert losses(child, 5) == losses(parent, 5)  # same weights, moments and batches


def test_ck002_live_change_keeps_weights_and_uses_the_childs_learning_rate(tmp_path):
    parent = make_trainer(SMALL)
    losses(parent, 10)
    save_state(parent, tmp_path / "p.pt")
    child = make_trainer(SMALL.with_changes({"opt_d.lr": 1e-4, "loss.name": "hinge"}))
    load_state(child, tmp_path / "p.pt")
    for a, b in zip(parent.G.parameters(), child.G.parameters(), strict=True):
        assert torch.equal(a, b)
    assert child.opt_d.param_groups[0]["lr"] == 1e-4
    assert child.opt_g.param_groups[0]["lr"] == SMALL.opt_g.lr
    assert child.opt_d.state  # Adam moments came along
    assert losses(child, 3) != losses(parent, 3)  # the change matters


def test_ck003_architecture_change_starts_fresh_and_says_why(tmp_path):
    parent = make_trainer(SMALL)
    losses(parent, 5)
    save_state(parent, tmp_path / "p.pt")
    child = make_trainer(SMALL.with_changes({"generator.hidden": [32, 32]}))
    note = load_state(child, tmp_path / "p.pt")
    assert "fresh weights from step 0" in note
    assert child.step_count == 0


def test_ck004_seed_change_keeps_weights_but_draws_new_batches(tmp_path):
    parent = make_trainer(SMALL)
    losses(parent, 5)
    save_state(parent, tmp_path / "p.pt")
    child = make_trainer(SMALL.with_changes({"train.seed": 6}))
    note = load_state(child, tmp_path / "p.pt")
    assert "weights" in note and "random stream" not in note
    assert child.step_count == 5
    assert losses(child, 2) != losses(parent, 2)


def test_ck005_vae_state_round_trips_and_a_bad_file_is_refused(tmp_path):
    vae = SMALL.with_changes({"model": "vae"})
    parent = make_trainer(vae)
    losses(parent, 5)
    save_state(parent, tmp_path / "v.pt")
    child = make_trainer(vae)
    load_state(child, tmp_path / "v.pt")
    assert losses(child, 3) == losses(parent, 3)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        load_state(make_trainer(SMALL), tmp_path / "bad.pt")


def test_ck006_session_from_checkpoint_records_the_fork(tmp_path):
    parent = Session(SMALL)
    parent.train(12)
    save_state(parent.trainer, tmp_path / "p.pt")
    child = Session(SMALL.with_changes({"opt_g.lr": 5e-4}), "child", tmp_path / "c.h5",
                    parent="p", fork_step=12, init_from=tmp_path / "p.pt")
    assert child.step == 12
    assert child.frame().step == 12
    assert any(e["kind"] == "fork" and "step 12" in e["message"] for e in child.events)
    child.close()
