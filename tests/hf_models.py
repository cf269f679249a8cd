"""Tiny random Qwen2 / Qwen3 / Llama checkpoints made with transformers (the reference)."""

import torch
import transformers


def make_hf_model(family: str, tied: bool, seed: int = 0, **overrides):
  """A random transformers model of the given family; qwen2 has q/k/v biases, qwen3 q/k norms,
  llama neither (head_dim 16 from hidden_size / heads)."""
  torch.manual_seed(seed)
  common = dict(
    vocab_size=256,
    hidden_size=64,
    intermediate_size=160,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    rms_norm_eps=1e-6,
    tie_word_embeddings=tied,
    bos_token_id=1,
    eos_token_id=2,
  )
  common.update(overrides)
  if family == "qwen2":
    config = transformers.Qwen2Config(rope_theta=10000.0, **common)
    model = transformers.Qwen2ForCausalLM(config)
  elif family == "qwen3":
    config = transformers.Qwen3Config(head_dim=32, rope_theta=1_000_000.0, **common)
    model = transformers.Qwen3ForCausalLM(config)
  else:
    config = transformers.LlamaConfig(rope_theta=10000.0, **common)
    model = transformers.LlamaForCausalLM(config)
  with torch.no_grad():  # random norms and biases, so a wrong mapping cannot hide behind 1s and 0s
    for name, param in model.named_parameters():
      if name.endswith("norm.weight") or name.endswith(".bias"):
        param.copy_(
          1.0 + 0.1 * torch.randn_like(param) if "norm" in name else 0.1 * torch.randn_like(param)
        )
  return model.eval()


def hf_logits(model, tokens):
  with torch.no_grad():
    return model(torch.as_tensor(tokens)).logits.float().numpy()
