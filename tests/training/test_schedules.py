"""Schedules: the pure function gives the documented sequences and the callbacks apply them during fit."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from kaggle_kit.config import from_dict
from kaggle_kit.errors import ConfigError
from kaggle_kit.training.config import ScheduleConfig
from kaggle_kit.training.schedules import RunLength, build_schedule_callbacks, lr_at


def test_exponential_matches_the_notebooks():
    cfg = ScheduleConfig(name="exponential", decay=0.95)
    got = [lr_at(cfg, 1e-3, e, 10) for e in range(5)]
    assert got == pytest.approx([1e-3 * 0.95**e for e in range(5)])
    assert lr_at(cfg, 1e-3, 2.7, 10) == pytest.approx(1e-3 * 0.95**2)  # constant within an epoch


def test_step_schedule_of_notebook_000():
    cfg = ScheduleConfig(name="step", boundaries=[49, 99], values=[1e-3, 3e-4, 1e-4])
    lrs = [lr_at(cfg, 5e-3, e, 150) for e in range(150)]
    assert lrs[:49] == [1e-3] * 49 and lrs[49:99] == [3e-4] * 50 and lrs[99:] == [1e-4] * 51
    by_factor = ScheduleConfig(name="step", boundaries=[2, 4], factor=0.1)
    assert [lr_at(by_factor, 1.0, e, 6) for e in range(6)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


def test_warmup_cosine():
    cfg = ScheduleConfig(name="cosine", warmup_epochs=2, min_lr=1e-5)
    assert lr_at(cfg, 1e-3, 0, 10) == pytest.approx(1e-5)  # warm-up starts at base/100
    assert lr_at(cfg, 1e-3, 1, 10) == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2)
    assert lr_at(cfg, 1e-3, 2, 10) == pytest.approx(1e-3)
    assert lr_at(cfg, 1e-3, 6, 10) == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5)  # half way down the cosine
    assert lr_at(cfg, 1e-3, 10, 10) == pytest.approx(1e-5)
    after = [lr_at(cfg, 1e-3, 2 + i / 10, 10) for i in range(81)]
    assert all(a >= b for a, b in zip(after, after[1:]))


def test_one_cycle_rises_then_falls():
    cfg = ScheduleConfig(name="one_cycle", min_lr=1e-6)
    lrs = [lr_at(cfg, 1e-2, t / 10, 10) for t in range(101)]
    peak = int(np.argmax(lrs))
    assert lrs[0] == pytest.approx(1e-2 / 25) and lrs[peak] == pytest.approx(1e-2) and peak == 30
    assert lrs[-1] == pytest.approx(1e-6)


def _fit_and_record(cfg, epochs=4, steps=5, base_lr=1e-3):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(base_lr), loss="categorical_crossentropy")
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda b, logs: seen.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    )
    x = np.random.default_rng(0).normal(size=(steps * 4, 3)).astype("float32")
    y = np.eye(2, dtype="float32")[np.arange(steps * 4) % 2]
    cbs = build_schedule_callbacks(cfg, base_lr, epochs, steps)
    hist = model.fit(x, y, batch_size=4, epochs=epochs, callbacks=[*cbs, record], verbose=0, shuffle=False)
    return seen, hist.history


def test_callbacks_apply_the_schedule_per_epoch_and_per_step():
    seen, hist = _fit_and_record(ScheduleConfig(name="exponential", decay=0.5))
    assert seen == pytest.approx([1e-3 * 0.5**e for e in range(4) for _ in range(5)])
    assert hist["learning_rate"] == pytest.approx([1e-3 * 0.5**e for e in range(4)])
    cfg = ScheduleConfig(name="cosine", warmup_epochs=1, min_lr=0.0)
    seen, _ = _fit_and_record(cfg)
    assert seen == pytest.approx([lr_at(cfg, 1e-3, s / 5, 4) for s in range(20)])
    assert seen[0] < seen[4] < seen[5] == pytest.approx(1e-3) and max(seen) == pytest.approx(1e-3)


def test_plateau_is_keras_reduce_on_plateau():
    (cb,) = build_schedule_callbacks(ScheduleConfig(name="plateau", factor=0.2, patience=3), 1e-3, 10, 5)
    assert isinstance(cb, keras.callbacks.ReduceLROnPlateau)
    assert (cb.monitor, cb.factor, cb.patience) == ("val_loss", 0.2, 3)


def test_invalid_schedules_name_the_field():
    with pytest.raises(ConfigError, match="schedule.values"):
        build_schedule_callbacks(ScheduleConfig(name="step", boundaries=[3], values=[1e-3]), 1e-3, 10, 5)
    with pytest.raises(ConfigError, match="schedule.warmup_epochs"):
        build_schedule_callbacks(ScheduleConfig(name="cosine", warmup_epochs=10), 1e-3, 10, 5)
    with pytest.raises(ConfigError, match="schedule: invalid configuration\n  decay: Input should be less"):
        from_dict({"name": "exponential", "decay": 1.5}, ScheduleConfig, source="schedule")  # refused on loading


def test_a_replanned_run_length_continues_the_cosine_without_jumps_and_ends_at_its_floor():
    """A time budget replans mid-run (longer after a slow spell, shorter when out of time): the rate never jumps
    back up, and the cosine ends at its floor exactly at the final epoch."""
    cfg = ScheduleConfig(name="cosine", warmup_fraction=0.03, min_lr=1e-5)
    length = RunLength(40)
    lrs = []
    for step in range(0, 10 * 60):
        t = step / 10
        if t == 10.0:
            length.replan(20, at=t)  # slowed down: 20 epochs
        if t == 15.0:
            length.replan(60, at=t)  # recovered: 60
        if t >= length.epochs:
            break
        lrs.append(lr_at(cfg, 2e-3, length.position(t), length.total))
    assert len(lrs) == 600 and length.epochs == 60
    after_warmup = lrs[int(0.03 * 40 * 10) + 1:]
    assert all(b <= a + 1e-12 for a, b in zip(after_warmup, after_warmup[1:]))  # never back up
    assert max(a - b for a, b in zip(after_warmup, after_warmup[1:])) < 2e-3 * 0.02  # no jump at either replan
    assert lr_at(cfg, 2e-3, length.position(60.0), length.total) == pytest.approx(1e-5)
    # moving the whole cosine instead (the length alone) jumps back up at the second replan
    assert lr_at(cfg, 2e-3, 15.0, 60) > 1.5 * lr_at(cfg, 2e-3, 15.0, 20)


def test_a_run_length_survives_a_resume():
    length = RunLength(30)
    length.replan(45, at=12.0)
    again = RunLength.from_json(json.loads(json.dumps(length.to_json())))
    assert [again.position(t) for t in (12.0, 20.0, 45.0)] == [length.position(t) for t in (12.0, 20.0, 45.0)]
    assert again.position(45.0) == 30.0
