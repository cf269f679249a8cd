"""The Llama family against transformers' LlamaForCausalLM: import, train, sample, serve and
export (Qwen's tolerances: 1e-4 in float32, 5% of the largest logit in bfloat16), its RoPE
scalings, and a Llama 3 tokenizer whose end of turn and stop ids come from its own files."""

import asyncio
import json
import os

import jax
import numpy as np
import pytest
import torch
import transformers
from flax import nnx
from safetensors import safe_open

from xcoder_jax.data import load_tokenizer, sft
from xcoder_jax.data.tokenizer import TINY_TOKENIZER_DIR
from xcoder_jax.hf import HFConfigError, load_hf, save_hf, weights
from xcoder_jax.models.build import param_path
from xcoder_jax.models.families import FAMILIES
from xcoder_jax.rollout import Sampler, SamplingParams
from xcoder_jax.rollout.app import make_app
from xcoder_jax.rollout.server import PolicyServer
from xcoder_jax.train.loss import sft_loss

from hf_models import hf_logits, make_hf_model

TOKENS = np.random.RandomState(2).randint(0, 256, (2, 48))
# head_dim 16 and theta 1e4 put one frequency in each llama3 band (kept, blended, divided)
# for an original context of 32 positions, which 48 tokens run past.
LLAMA3 = {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0}
LLAMA3 |= {"low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 32}
ROPES = {
  "llama3": LLAMA3,
  "linear": {"rope_type": "linear", "rope_theta": 100000.0, "factor": 4.0},  # DeepSeek-Coder
  "default": {"rope_type": "default", "rope_theta": 500000.0},
}
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>"]
SPECIALS.append("<|eot_id|>")  # ids 4096 .. 4100 after the tiny tokenizer's 4096
BOS, END_OF_TEXT, EOT = 4096, 4097, 4100
CHAT = [
  {"role": "user", "content": "Read n, print n squared."},
  {"role": "assistant", "content": "```python\nn = int(input())\nprint(n * n)\n```"},
]


def _tensors(path):
  with safe_open(os.path.join(path, "model.safetensors"), framework="pt") as f:
    return {k: f.get_tensor(k) for k in f.keys()}


@pytest.mark.parametrize("rope,tied", [("llama3", False), ("linear", False), ("default", True)])
def test_llama_logits_match_transformers_and_export_round_trips(tmp_path, rope, tied):
  model = make_hf_model("llama", tied, rope_parameters=ROPES[rope])
  model.save_pretrained(tmp_path / "hf")
  ours = load_hf(str(tmp_path / "hf"), dtype="float32")
  assert (ours.config.family, ours.config.rope_type) == ("llama", rope)
  want = hf_logits(model, TOKENS)
  assert np.abs(np.asarray(ours(TOKENS)) - want).max() < 1e-4
  if rope != "default":  # the scaling really changes the logits
    plain = load_hf(str(tmp_path / "hf"), dtype="float32", rope_type="default")
    assert np.abs(np.asarray(plain(TOKENS)) - want).max() > 1e-3
  out = save_hf(ours, str(tmp_path / "export"), dtype="float32")
  before, after = _tensors(tmp_path / "hf"), _tensors(out)
  assert sorted(before) == sorted(after)
  assert all(torch.equal(before[k], after[k]) for k in before)
  config = json.load(open(os.path.join(out, "config.json")))
  assert (
    config["architectures"] == ["LlamaForCausalLM"] and config["rope_parameters"] == ROPES[rope]
  )
  reloaded = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
  assert np.abs(hf_logits(reloaded, TOKENS) - want).max() < 1e-4
  assert load_hf(out, dtype="float32").config == ours.config


def test_bfloat16_llama_matches_transformers_and_round_trips_exactly(tmp_path):
  model = make_hf_model("llama", False, rope_parameters=LLAMA3).to(torch.bfloat16)
  model.save_pretrained(tmp_path / "hf")
  ours = load_hf(str(tmp_path / "hf"))  # computes in the stored dtype
  assert ours.config.dtype == "bfloat16"
  want = hf_logits(model, TOKENS)
  assert np.abs(np.asarray(ours(TOKENS)) - want).max() < 0.05 * np.abs(want).max()
  out = save_hf(ours, str(tmp_path / "export"), dtype="bfloat16")
  before, after = _tensors(tmp_path / "hf"), _tensors(out)
  assert all(after[k].dtype == torch.bfloat16 and torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
  "changes,message",
  [
    ({"attention_bias": True}, "attention_bias=True in config.json: biases on the attention"),
    ({"mlp_bias": True}, "mlp_bias=True in config.json: biases on the MLP projections"),
    ({"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e4, "factor": 4.0}}, "yarn"),
    (
      {"architectures": ["MistralForCausalLM"], "model_type": "mistral"},
      r"unsupported architecture \['MistralForCausalLM'\].*qwen2 .*qwen3 .*llama",
    ),
  ],
)
def test_what_the_decoder_cannot_reproduce_is_refused(tmp_path, changes, message):
  make_hf_model("llama", False).save_pretrained(tmp_path)
  config = json.load(open(tmp_path / "config.json"))
  json.dump({**config, **changes}, open(tmp_path / "config.json", "w"))
  with pytest.raises(HFConfigError, match=message):
    load_hf(str(tmp_path))


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
  """(directory, transformers model): a tiny Llama 3 model and tokenizer as a base model ships
  them (eos <|end_of_text|>), with a chat template and generation_config's eos list."""
  from tokenizers import Tokenizer

  path = tmp_path_factory.mktemp("llama3")
  model = make_hf_model("llama", False, rope_parameters=LLAMA3, vocab_size=4160)
  model.save_pretrained(path)
  tokenizer = Tokenizer.from_file(os.path.join(TINY_TOKENIZER_DIR, "tokenizer.json"))
  tokenizer.add_special_tokens(SPECIALS)
  tokenizer.save(str(path / "tokenizer.json"))
  config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": SPECIALS[0]}
  config |= {"eos_token": SPECIALS[1], "chat_template": FAMILIES["llama"].chat_template}
  (path / "tokenizer_config.json").write_text(json.dumps(config))
  (path / "generation_config.json").write_text(json.dumps({"eos_token_id": [END_OF_TEXT, EOT]}))
  return str(path), model


def test_llama3_tokenizer_ends_turns_and_stops_where_its_files_say(llama):
  path, _ = llama
  ours = load_tokenizer(path)
  assert ours.end_of_turn == FAMILIES["llama"].end_of_turn and ours.end_of_turn_id == EOT
  assert (ours.eos_id, ours.stop_ids) == (END_OF_TEXT, (END_OF_TEXT, EOT))
  theirs = transformers.AutoTokenizer.from_pretrained(path)
  for generation_prompt in (False, True):
    want = theirs.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=generation_prompt)
    assert ours.apply_chat_template(CHAT, add_generation_prompt=generation_prompt) == want
  tokens, mask = sft.encode_messages(CHAT, ours)
  assert tokens[0] == BOS and ours.decode(tokens[mask == 1]) == CHAT[1]["content"] + "<|eot_id|>"


@pytest.mark.slow
def test_sft_loss_and_gradients_match_transformers(llama):
  path, theirs = llama
  tokenizer = load_tokenizer(path)
  features = sft.to_features(*sft.encode_messages(CHAT, tokenizer), tokenizer.pad_id)
  batch = {k: v[None] for k, v in features.items()}
  batch["segment_ids"] = np.ones_like(batch["inputs"])
  batch["positions"] = np.arange(batch["inputs"].shape[1], dtype=np.int32)[None]
  ours = load_hf(path, dtype="float32")

  def loss(model):
    out = sft_loss(chunk=batch["inputs"].shape[1])(model, batch)
    return out.numerator / out.denominator

  value, grads = nnx.value_and_grad(loss)(ours)
  logits = theirs(torch.as_tensor(batch["inputs"])).logits[0]
  per_token = torch.nn.functional.cross_entropy(
    logits, torch.as_tensor(batch["targets"][0]).long(), reduction="none"
  )
  mask = torch.as_tensor(batch["loss_mask"][0]).float()
  want = (per_token * mask).sum() / mask.sum()
  theirs.zero_grad()
  want.backward()
  assert abs(float(value) - want.item()) < 1e-5
  grads = {param_path(p): g for p, g in jax.tree_util.tree_leaves_with_path(grads)}
  hf_params = dict(theirs.named_parameters())
  for m in weights.tensor_mappings(ours.config):
    grad = np.asarray(grads[m.path])
    for i in range(ours.config.num_layers) if m.stacked else [None]:
      name = m.hf_name if i is None else m.hf_name.format(layer=i)
      mine = weights.ours_to_hf(m.kind, grad if i is None else grad[i])
      reference = hf_params[name].grad.numpy()
      assert np.abs(mine - reference).max() < 1e-4 * max(1.0, np.abs(reference).max()), name


def test_imported_llama_samples_and_serves_like_transformers(llama):
  path, theirs = llama
  prompt = [BOS, *range(40, 51)]
  greedy = SamplingParams(max_new_tokens=8, temperature=0.0)
  want = theirs.generate(
    torch.as_tensor([prompt]), max_new_tokens=8, do_sample=False, eos_token_id=None
  )[0, len(prompt) :].tolist()
  tokenizer = load_tokenizer(path)
  (sampled,) = Sampler(load_hf(path, dtype="float32"), tokenizer).generate([prompt], greedy)
  assert list(sampled.tokens) == want[: len(sampled.tokens)]
  assert len(sampled.tokens) == 8 or sampled.tokens[-1] in tokenizer.stop_ids

  async def ask(server, route, body):
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(make_app(server))) as client:
      response = await client.post(route, json=body)
      return response.status, await response.json()

  server = PolicyServer(path, dtype="float32")
  body = {"input_ids": prompt, "sampling_params": {"max_new_tokens": 8, "temperature": 0}}
  status, answer = asyncio.run(ask(server, "/generate", body))
  assert status == 200 and answer["output_ids"] == list(sampled.tokens)
  status, answer = asyncio.run(
    ask(server, "/v1/chat/completions", {"messages": CHAT[:1], "max_tokens": 4})
  )
  rendered = tokenizer.apply_chat_template(CHAT[:1], add_generation_prompt=True)
  assert status == 200 and answer["usage"]["prompt_tokens"] == len(tokenizer.encode(rendered))
