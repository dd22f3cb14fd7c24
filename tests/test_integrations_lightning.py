"""Issue 31, Lightning: ``LossStageCallback`` in a real 3-epoch CPU fit, then a resume from the
checkpoint. The stage restores with the model (strict load), the class weights reach every
stage, the sanity check is not a validation run, and the lr change is applied once.

References: the lr a hand multiplication gives, ``F.cross_entropy(weight=w)`` (a ``gamma=0``
focal loss is weighted cross entropy), and the count of validation runs Lightning makes.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch", reason="lightning is in the test extra")
pytest.importorskip("torchmetrics", reason="torchmetrics is in the test extra")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from classweights.errors import ConfigError  # noqa: E402
from classweights.integrations import DiceScore, LossStageCallback  # noqa: E402
from classweights.losses import FocalLoss, StagedLoss, build_loss  # noqa: E402

NAMES = ["road", "car", "sign"]
W = [0.5, 2.0, 4.0]
LR = 0.1

CONFIG = f"""
loss_name: CrossEntropyLoss
loss_switch:
  loss_stages:
    stage2:                      # entered at the first real validation: Dice >= 0 always
      lr_multiplier: 0.5
      conditions: {{global_dice_threshold: 0.0}}
      loss: {{loss_name: FocalLoss, loss_parameter: {{gamma: 0}}}}
    stage3:                      # never reached here; read from the per-class values
      conditions:
        class_dice_thresholds: {{{NAMES[2]}: 1.0}}
        consecutive_epochs: 9
"""


def data(seed=0, n=8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 8, 8, generator=g)
    y = x.argmax(1)  # learnable: the class is the brightest channel
    return TensorDataset(x, y)


class Segmenter(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Conv2d(3, 3, 1)
        self.loss_fn = build_loss(CONFIG, weight=W)  # a StagedLoss, driven by the callback
        self.val_dice = DiceScore(3, class_names=NAMES)
        self.validation_runs = 0

    def training_step(self, batch, _):
        x, y = batch
        return self.loss_fn(self.net(x), y)

    def validation_step(self, batch, _):
        x, y = batch
        self.val_dice.update(self.net(x), y)
        self.log("val_dice", self.val_dice, on_epoch=True)

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:
            self.validation_runs += 1
        self.log_dict({f"val_dice/{k}": v for k, v in self.val_dice.class_dice().items()})

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=LR)

    def train_dataloader(self):
        return DataLoader(data(0), batch_size=4)

    def val_dataloader(self):
        return DataLoader(data(1), batch_size=4)


def trainer(tmp_path, epochs, callback):
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    return pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        callbacks=[callback, ckpt],
        logger=pl.loggers.CSVLogger(tmp_path / "logs"),
        num_sanity_val_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )


def weighted_ce(model):
    x, y = data(2).tensors
    with torch.no_grad():
        got = model.loss_fn(model.net(x), y).item()
        ref = F.cross_entropy(model.net(x), y, weight=torch.tensor(W)).item()
    return got, ref


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*log_every_n_steps.*")
        yield


def test_a_real_fit_switches_once_per_validation_run_and_resumes_from_the_checkpoint(
    tmp_path, caplog
):
    model = Segmenter()
    callback = LossStageCallback(CONFIG, monitor="val_dice", class_names=NAMES)
    with caplog.at_level(logging.INFO, logger="classweights.schedule"):
        trainer(tmp_path, 3, callback).fit(model)
    s = callback.scheduler
    assert model.validation_runs == 3
    assert s.last_epoch == 2  # three validation runs counted; the sanity check was not one
    assert [(h["from_stage"], h["to_stage"], h["epoch"]) for h in s.history] == [(1, 2, 0)]
    assert isinstance(model.loss_fn, StagedLoss) and model.loss_fn.current_stage == 2
    assert isinstance(model.loss_fn.current, FocalLoss)
    got, ref = weighted_ce(model)
    assert got == pytest.approx(ref, rel=1e-6)  # the weights reached the rebuilt stage
    lr = model.trainer.optimizers[0].param_groups[0]["lr"]
    assert lr == pytest.approx(LR * 0.5)
    assert any("Stage 1 -> Stage 2 at epoch 0" in r.getMessage() for r in caplog.records)
    logged = (tmp_path / "logs" / "lightning_logs" / "version_0" / "metrics.csv").read_text()
    assert "loss_stage" in logged.splitlines()[0]

    # resume: a fresh model (stage 1) loads the checkpoint strictly and is at stage 2 again
    resumed = Segmenter()
    again = LossStageCallback(CONFIG, monitor="val_dice", class_names=NAMES)
    trainer(tmp_path / "resume", 4, again).fit(resumed, ckpt_path=tmp_path / "ckpt" / "last.ckpt")
    assert resumed.loss_fn.current_stage == 2 and isinstance(resumed.loss_fn.current, FocalLoss)
    assert again.scheduler.history == s.history and again.scheduler.last_epoch == 3
    assert resumed.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(LR * 0.5)
    got, ref = weighted_ce(resumed)
    assert got == pytest.approx(ref, rel=1e-6)


class PlainLoss(Segmenter):
    def __init__(self):
        super().__init__()
        del self.loss_fn
        self.criterion = nn.CrossEntropyLoss()  # unweighted, not staged

    def training_step(self, batch, _):
        x, y = batch
        return self.criterion(self.net(x), y)


def test_a_plain_loss_is_replaced_by_the_staged_loss_with_the_callbacks_weights(tmp_path):
    model = PlainLoss()
    callback = LossStageCallback(CONFIG, weight=W, class_names=NAMES)
    trainer(tmp_path, 1, callback).fit(model)
    assert isinstance(model.criterion, StagedLoss) and model.criterion.current_stage == 2
    assert model.criterion.current.weight.tolist() == W


def test_missing_logged_values_and_a_missing_loss_are_named():
    with pytest.raises(ConfigError, match="unknown class"):
        LossStageCallback(CONFIG, class_names=["road", "car"])
    model = Segmenter()
    del model.loss_fn
    with pytest.raises(ConfigError, match="found no loss on Segmenter"):
        LossStageCallback(CONFIG).setup(None, model, "fit")


class NoClassLogs(Segmenter):
    def on_validation_epoch_end(self):
        pass


def test_a_class_threshold_without_its_logged_value_is_a_clear_error(tmp_path):
    cfg = CONFIG.replace("global_dice_threshold: 0.0", f"class_dice_thresholds: {{{NAMES[1]}: 0.0}}")
    with pytest.raises(ConfigError, match=r"need 'val_dice/car' in the logged metrics"):
        trainer(tmp_path, 1, LossStageCallback(cfg)).fit(NoClassLogs())


def test_a_nan_dice_is_a_miss():
    callback = LossStageCallback(CONFIG, class_names=NAMES)
    model = Segmenter()
    callback.setup(None, model, "fit")
    with pytest.warns(RuntimeWarning, match="non-finite Dice"):
        assert callback.scheduler.step({"avg_dice": math.nan}) is False
    assert model.loss_fn.current_stage == 1


# ---------------------------------------------------------------- DDP: every rank together
DDP_CONFIG = """
loss_name: CrossEntropyLoss
loss_switch:
  loss_stages:
    stage2:
      conditions: {global_dice_threshold: 0.5}
      loss: {loss_name: FocalLoss, loss_parameter: {gamma: 0}}
"""


class RankDisagrees(pl.LightningModule):
    """Each rank logs its own, unsynced value: rank 0 0.9 (a switch), rank 1 0.1 (no switch)."""

    def __init__(self, out_dir):
        super().__init__()
        self.net = nn.Conv2d(3, 3, 1)
        self.loss_fn = build_loss(DDP_CONFIG, weight=W)
        self.out_dir = str(out_dir)

    def training_step(self, batch, _):
        x, y = batch
        return self.loss_fn(self.net(x), y)

    def validation_step(self, batch, _):
        pass

    def on_validation_epoch_end(self):
        value = 0.9 if self.global_rank == 0 else 0.1
        self.log("val_dice", value, sync_dist=False, rank_zero_only=False)

    def on_fit_end(self):
        stage = self.loss_fn.current_stage
        (Path(self.out_dir) / f"rank{self.global_rank}.txt").write_text(str(stage))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=LR)

    def train_dataloader(self):
        return DataLoader(data(0), batch_size=4)

    def val_dataloader(self):
        return DataLoader(data(1), batch_size=4)


def test_under_ddp_every_rank_switches_together(tmp_path):
    t = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        callbacks=[LossStageCallback(DDP_CONFIG)],
        logger=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    t.fit(RankDisagrees(tmp_path))
    assert [(tmp_path / f"rank{r}.txt").read_text() for r in (0, 1)] == ["2", "2"]
