"""AdamW with warmup + cosine/constant schedule, decoupled weight decay and global-norm clipping."""

from __future__ import annotations

from typing import Any

import jax
import optax

SCHEDULES = ("cosine", "constant")


def learning_rate_schedule(
  lr: float,
  total_steps: int,
  warmup_ratio: float = 0.0,
  schedule: str = "cosine",
  min_lr_ratio: float = 0.0,
) -> optax.Schedule:
  """Linear warmup over `warmup_ratio` of the steps, then cosine decay or a constant rate."""
  if schedule not in SCHEDULES:
    raise ValueError(f"optimizer.schedule={schedule!r}; choose one of {SCHEDULES}")
  if total_steps <= 0:
    raise ValueError(f"train.steps must be positive, got {total_steps}")
  warmup = int(round(warmup_ratio * total_steps))
  if schedule == "constant":
    after = optax.constant_schedule(lr)
  else:
    after = optax.cosine_decay_schedule(lr, max(total_steps - warmup, 1), alpha=min_lr_ratio)
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
