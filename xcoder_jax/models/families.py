"""Model families: one row per Hugging Face architecture the decoder reproduces.

A row says everything that differs between families: the HF names (`model_type`,
`architectures`), the attention options the decoder switches on (q/k/v biases, QK-norm), the
config.json keys the row cannot honour (refused when true) or writes on export, the RoPE
scaling kinds its checkpoints use, and its chat format. Everything else (field names, tensor
names, SwiGLU, rotate-half RoPE, RMSNorm) is shared. Adding a family is one row here plus a
parity test against transformers (tests/models/test_families.py); no caller branches on a
family's name.
"""

from __future__ import annotations

import dataclasses
from typing import Any

# ChatML as Qwen writes it, without Qwen's default system prompt (keeps tiny examples short).
CHATML_TEMPLATE = (
  "{%- for message in messages %}"
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
  "{%- endfor %}"
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# Llama 3's header format, without the default system prompt of Meta's instruct template.
LLAMA3_TEMPLATE = (
  "{{- bos_token or '' }}"
  "{%- for message in messages %}"
  "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
  "{{- message['content'] + '<|eot_id|>' }}"
  "{%- endfor %}"
  "{%- if add_generation_prompt %}"
  "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

# What each refusable config.json key would switch on.
_FEATURES = {
  "use_sliding_window": "sliding-window attention",
  "attention_bias": "biases on the attention projections",
  "mlp_bias": "biases on the MLP projections",
}


@dataclasses.dataclass(frozen=True)
class Family:
  """One HF architecture as the decoder runs it."""

  name: str  # HF model_type; also ModelConfig.family
  architecture: str  # HF architectures[0]
  covers: str  # released models, for error messages
  qkv_bias: bool  # biases on the q/k/v projections (Qwen2)
  qk_norm: bool  # RMSNorm over each query and key head before RoPE (Qwen3)
  rope_types: tuple[str, ...]  # HF rope_type values its checkpoints use (models/rope.py)
  refused: tuple[str, ...]  # config.json keys that must be false: features not implemented
  exported: dict[str, Any]  # config.json keys an export writes besides the shared ones
  chat_template: str  # the family's chat format, as this project writes it
  end_of_turn: str  # the token that template closes a turn with

  def check(self, hf: dict[str, Any]) -> None:
    """Raises ValueError naming the first key of `hf` this family cannot honour."""
    for key in self.refused:
      if hf.get(key):
        raise ValueError(
          f"{key}={hf[key]!r} in config.json: {_FEATURES[key]} is not implemented for "
          f"{self.name}; set it to false if the checkpoint allows"
        )


_QWEN_ROPE = ("default", "yarn")
FAMILIES: dict[str, Family] = {
  family.name: family
  for family in (
    Family(
      name="qwen2",
      architecture="Qwen2ForCausalLM",
      covers="Qwen2, Qwen2.5, Qwen2.5-Coder",
      qkv_bias=True,
      qk_norm=False,
      rope_types=_QWEN_ROPE,
      refused=("use_sliding_window",),
      exported={"use_sliding_window": False, "sliding_window": None},
      chat_template=CHATML_TEMPLATE,
      end_of_turn="<|im_end|>",
    ),
    Family(
      name="qwen3",
      architecture="Qwen3ForCausalLM",
      covers="Qwen3 dense",
      qkv_bias=False,
      qk_norm=True,
      rope_types=_QWEN_ROPE,
      refused=("use_sliding_window", "attention_bias"),
      exported={"use_sliding_window": False, "sliding_window": None, "attention_bias": False},
      chat_template=CHATML_TEMPLATE,
      end_of_turn="<|im_end|>",
    ),
    Family(
      name="llama",
      architecture="LlamaForCausalLM",
      covers="Llama 3.x, CodeLlama, DeepSeek-Coder 1.x",
      qkv_bias=False,
      qk_norm=False,
      rope_types=("default", "linear", "llama3"),
      refused=("attention_bias", "mlp_bias"),
      exported={"attention_bias": False, "mlp_bias": False, "pretraining_tp": 1},
      chat_template=LLAMA3_TEMPLATE,
      end_of_turn="<|eot_id|>",
    ),
  )
}


def supported() -> str:
  """One line naming every family, for errors."""
  return ", ".join(f"{f.name} ({f.architecture}: {f.covers})" for f in FAMILIES.values())


def family_of_hf(hf: dict[str, Any]) -> Family:
  """The row of an HF config.json: by `architectures`, else by `model_type`."""
  archs = hf.get("architectures") or []
  for family in FAMILIES.values():
    if family.architecture in archs or (not archs and hf.get("model_type") == family.name):
      return family
  found = archs or hf.get("model_type")
  raise ValueError(f"unsupported architecture {found!r} in config.json; supported: {supported()}")
