"""AdamW with linear warmup then a registered LR schedule, decoupled weight decay and
global-norm clipping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax

from xcoder_jax.registry import Registry

# schedule(lr, decay_steps, min_lr_ratio) -> the rate after warmup, over `decay_steps` steps.
LRSchedule = Callable[[float, int, float], optax.Schedule]
LR_SCHEDULES: Registry[LRSchedule] = Registry("LR schedule")


@LR_SCHEDULES.register("cosine")
def _cosine(lr: float, decay_steps: int, min_lr_ratio: float) -> optax.Schedule:
  return optax.cosine_decay_schedule(lr, decay_steps, alpha=min_lr_ratio)


@LR_SCHEDULES.register("constant")
def _constant(lr: float, decay_steps: int, min_lr_ratio: float) -> optax.Schedule:
  del decay_steps, min_lr_ratio  # the rate never moves
  return optax.constant_schedule(lr)


def learning_rate_schedule(
  lr: float,
  total_steps: int,
  warmup_ratio: float = 0.0,
  schedule: str = "cosine",
  min_lr_ratio: float = 0.0,
) -> optax.Schedule:
  """Linear warmup over `warmup_ratio` of the steps, then the named schedule. (Configs pass
  every argument from their `optimizer` section; the defaults serve direct library use.)"""
  LR_SCHEDULES.check(schedule, "optimizer.schedule")
  if total_steps <= 0:
    raise ValueError(f"train.steps must be positive, got {total_steps}")
  if not 0.0 <= warmup_ratio <= 1.0:
    raise ValueError(f"optimizer.warmup_ratio must be in [0, 1], got {warmup_ratio}")
  warmup = int(round(warmup_ratio * total_steps))
  after = LR_SCHEDULES.get(schedule)(lr, max(total_steps - warmup, 1), min_lr_ratio)
  if warmup == 0:
    return after
  return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), after], [warmup])


def decay_mask(params: Any) -> Any:
  """True for weights that get weight decay: not norms, not biases (by parameter name)."""

  def decays(path, _):
    name = str(getattr(path[-1], "key", path[-1]))
    return not (name.endswith("norm") or name.endswith("bias"))

  return jax.tree_util.tree_map_with_path(decays, params)


def make_optimizer(
  config: Any, total_steps: int
) -> tuple[optax.GradientTransformation, optax.Schedule]:
  """From an `optimizer` config section: lr, schedule, warmup_ratio, min_lr_ratio, b1, b2,
  eps, weight_decay, clip_norm."""
  schedule = learning_rate_schedule(
    config.lr, total_steps, config.warmup_ratio, config.schedule, config.min_lr_ratio
  )
  chain = []
  if config.clip_norm:
    chain.append(optax.clip_by_global_norm(config.clip_norm))
  chain.append(
    optax.adamw(
      schedule,
      b1=config.b1,
      b2=config.b2,
      eps=config.eps,
      weight_decay=config.weight_decay,
      mask=decay_mask,
    )
  )
  return optax.chain(*chain), schedule
