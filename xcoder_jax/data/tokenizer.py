"""Tokenizers: a model's HF tokenizer directory, or the bundled ``tiny`` one.

``load_tokenizer(spec)`` takes ``"tiny"`` or a directory holding ``tokenizer.json`` (read with
the ``tokenizers`` library) and, for chat, a template from ``chat_template.jinja`` or the
``chat_template`` key of ``tokenizer_config.json`` (HF's precedence: the ``.jinja`` file
wins). Templates are rendered with jinja2 the way ``transformers`` does it (sandboxed
environment, ``trim_blocks``/``lstrip_blocks``, ``loopcontrols``, ``tojson``,
``raise_exception``, ``strftime_now``; special-token strings and extra keyword arguments such as
``enable_thinking`` are visible to the template).

Where generation stops and an SFT response ends come from the tokenizer's own files, never
from a model family: the end of turn is the special token the chat template closes an
assistant message with (``<|im_end|>`` for Qwen, ``<|eot_id|>`` for Llama 3, even where
``eos_token`` is the base model's ``<|endoftext|>``), else ``eos_token``; the stop ids are
those two plus ``generation_config.json``'s ``eos_token_id`` list.

The tiny tokenizer is a byte-level BPE (Qwen2-style pre-tokenizer: digits split one by one)
with 4096 entries, the ``tiny`` model preset's vocabulary, trained on ``assets/tiny_corpus.txt``
and the demo data. Special tokens: ``<|endoftext|>`` (id 0, padding), ``<|im_start|>`` (1),
``<|im_end|>`` (2, end of turn and eos). Its files (``TINY_TOKENIZER_DIR``, ``TINY_CORPUS``)
belong to this module; the demo module, which supplies the rest of the training text, rebuilds
them with ``python -m xcoder_jax.data.demo --write_assets``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from xcoder_jax.models.families import CHATML_TEMPLATE

_ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
TINY_TOKENIZER_DIR = os.path.join(_ASSETS, "tiny_tokenizer")
TINY_CORPUS = os.path.join(_ASSETS, "tiny_corpus.txt")  # handwritten part of its training text
TINY = "tiny"
TINY_VOCAB_SIZE = 4096
TINY_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# Qwen2's pre-tokenizer split pattern: contractions, letters, single digits, punctuation runs,
# newlines, spaces.
QWEN_SPLIT_PATTERN = (
  r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
TINY_CHAT_TEMPLATE = CHATML_TEMPLATE  # Qwen's chat format
_PROBE = "xcoder-end-of-turn-probe"  # an assistant message whose closing token is looked for


def _token_str(value: Any) -> str | None:
  if value is None:
    return None
  if isinstance(value, Mapping):
    return value.get("content")
  return str(value)


def _compile_template(template: str):
  import jinja2
  import jinja2.ext
  from jinja2.sandbox import ImmutableSandboxedEnvironment

  def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

  def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(
      x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )

  def strftime_now(fmt):
    return datetime.now().strftime(fmt)

  env = ImmutableSandboxedEnvironment(
    trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
  )
  env.filters["tojson"] = tojson
  env.globals["raise_exception"] = raise_exception
  env.globals["strftime_now"] = strftime_now
  return env.from_string(template)


class Tokenizer:
  """A ``tokenizers.Tokenizer`` plus the chat template and special ids of a model.

  Picklable (Grain worker processes receive it): the state is the tokenizer JSON, the config
  and the template text.
  """

  def __init__(
    self,
    tokenizer_json: str,
    config: Mapping[str, Any] | None = None,
    chat_template: str | None = None,
    source: str = "<memory>",
    generation_eos_ids: Sequence[int] = (),
  ):
    self._init(tokenizer_json, dict(config or {}), chat_template, source, generation_eos_ids)

  def _init(self, tokenizer_json, config, chat_template, source, generation_eos_ids):
    from tokenizers import Tokenizer as _Tok

    self._json = tokenizer_json
    self._tok = _Tok.from_str(tokenizer_json)
    self.config = config
    self.chat_template = chat_template
    self.source = source
    self.generation_eos_ids = tuple(generation_eos_ids)
    self._compiled = None
    self.special_tokens = {
      k: _token_str(config.get(k)) for k in ("bos_token", "eos_token", "pad_token", "unk_token")
    }
    eos = self.special_tokens["eos_token"]
    pad = self.special_tokens["pad_token"]
    eot = self._closing_token() or eos
    self.end_of_turn = eot
    self.end_of_turn_id = self._tok.token_to_id(eot) if eot is not None else None
    self.eos_id = self._tok.token_to_id(eos) if eos is not None else self.end_of_turn_id
    if self.eos_id is None:
      raise ValueError(f"tokenizer {source}: no eos token; set eos_token in tokenizer_config.json")
    # What generation stops at: eos, the end of a turn, and generation_config.json's list.
    stops = {self.eos_id, *self.generation_eos_ids}
    if self.end_of_turn_id is not None:
      stops.add(self.end_of_turn_id)
    self.stop_ids = tuple(sorted(stops))
    self.pad_id = self._tok.token_to_id(pad) if pad is not None else None
    if self.pad_id is None:
      self.pad_id = self._tok.token_to_id("<|endoftext|>")
    if self.pad_id is None:
      self.pad_id = self.eos_id

  def _closing_token(self) -> str | None:
    """The special token right after an assistant message the template renders (skipping
    whitespace, as DeepSeek-Coder's template puts a newline before <|EOT|>); None without a
    template, or when the template puts none there."""
    import jinja2

    if self.chat_template is None:
      return None
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _PROBE}]
    try:
      text = self.apply_chat_template(chat)
    except jinja2.TemplateError:
      return None
    rest = text[text.find(_PROBE) + len(_PROBE) :].lstrip() if _PROBE in text else ""
    added = (t.content for t in self._tok.get_added_tokens_decoder().values())
    return max((t for t in added if rest.startswith(t)), key=len, default=None)

  def __getstate__(self):
    return {
      "json": self._json,
      "config": self.config,
      "chat_template": self.chat_template,
      "source": self.source,
      "generation_eos_ids": self.generation_eos_ids,
    }

  def __setstate__(self, state):
    self._init(
      state["json"],
      state["config"],
      state["chat_template"],
      state["source"],
      state["generation_eos_ids"],
    )

  @property
  def vocab_size(self) -> int:
    return self._tok.get_vocab_size(with_added_tokens=True)

  def encode(self, text: str) -> list[int]:
    """Token ids of ``text``; special-token strings in it map to their ids, nothing is added."""
    return self._tok.encode(text, add_special_tokens=False).ids

  def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
    return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

  def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
    return self._tok.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

  def token_to_id(self, token: str) -> int | None:
    return self._tok.token_to_id(token)

  def apply_chat_template(
    self,
    messages: Sequence[Mapping[str, Any]],
    add_generation_prompt: bool = False,
    tokenize: bool = False,
    **kwargs: Any,
  ) -> str | list[int]:
    """Renders ``messages`` like HF's ``apply_chat_template(..., tokenize=False)``."""
    if self.chat_template is None:
      raise ValueError(
        f"tokenizer {self.source} has no chat template; add chat_template.jinja "
        "or a 'chat_template' key to tokenizer_config.json"
      )
    if self._compiled is None:
      self._compiled = _compile_template(self.chat_template)
    chat = []
    for m in messages:
      m = dict(m)
      # transformers aliases reasoning fields so every template finds them.
      for key in ("reasoning_content", "thinking", "reasoning"):
        if m.get(key) is not None:
          m = {"thinking": m[key], **m, "reasoning_content": m[key]}
          break
      chat.append(m)
    context = {k: v for k, v in self.special_tokens.items() if v is not None}
    context.update(kwargs)
    context.setdefault("tools", None)
    context.setdefault("documents", None)
    text = self._compiled.render(
      messages=chat, add_generation_prompt=add_generation_prompt, **context
    )
    return self.encode(text) if tokenize else text

  def save_pretrained(self, directory: str) -> None:
    """Writes tokenizer.json and tokenizer_config.json (with the chat template) for HF."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
      f.write(self._json)
    config = dict(self.config)
    if self.chat_template is not None:
      config["chat_template"] = self.chat_template
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
      json.dump(config, f, indent=2, ensure_ascii=False)
      f.write("\n")

  def __repr__(self):
    return (
      f"Tokenizer({self.source!r}, vocab_size={self.vocab_size}, eos_id={self.eos_id}, "
      f"stop_ids={list(self.stop_ids)}, pad_id={self.pad_id})"
    )


def _read_chat_template(directory: str, config: Mapping[str, Any]) -> str | None:
  jinja_path = os.path.join(directory, "chat_template.jinja")
  if os.path.isfile(jinja_path):
    with open(jinja_path, encoding="utf-8") as f:
      return f.read()
  template = config.get("chat_template")
  if template is None:
    json_path = os.path.join(directory, "chat_template.json")
    if os.path.isfile(json_path):
      with open(json_path, encoding="utf-8") as f:
        template = json.load(f).get("chat_template")
  if isinstance(template, list):  # [{"name": ..., "template": ...}, ...]
    by_name = {t.get("name"): t.get("template") for t in template}
    template = by_name.get("default") or next(iter(by_name.values()), None)
  return template


def tiny_tokenizer_dir() -> str:
  return TINY_TOKENIZER_DIR


def load_tokenizer(spec: str) -> Tokenizer:
  """``"tiny"`` (the bundled tokenizer) or an HF tokenizer directory (or a checkpoint's assets)."""
  directory = tiny_tokenizer_dir() if spec == TINY else os.path.expanduser(spec)
  path = os.path.join(directory, "tokenizer.json")
  if not os.path.isfile(path):
    raise FileNotFoundError(
      f"no tokenizer.json in {directory!r}; pass tokenizer='tiny' or an "
      "HF model/tokenizer directory (fast tokenizers only: tokenizer.json)"
    )
  with open(path, encoding="utf-8") as f:
    tokenizer_json = f.read()
  config: dict[str, Any] = {}
  cfg_path = os.path.join(directory, "tokenizer_config.json")
  if os.path.isfile(cfg_path):
    with open(cfg_path, encoding="utf-8") as f:
      config = json.load(f)
  stm_path = os.path.join(directory, "special_tokens_map.json")
  if os.path.isfile(stm_path):
    with open(stm_path, encoding="utf-8") as f:
      for k, v in json.load(f).items():
        config.setdefault(k, v)
  template = _read_chat_template(directory, config)
  config.pop("chat_template", None)
  source = directory if spec != TINY else TINY
  return Tokenizer(tokenizer_json, config, template, source, _generation_eos_ids(directory))


def _generation_eos_ids(directory: str) -> list[int]:
  """generation_config.json's eos_token_id (an id or a list: Llama 3.1 Instruct stops at
  <|end_of_text|>, <|eom_id|> and <|eot_id|>); [] without the file."""
  path = os.path.join(directory, "generation_config.json")
  if not os.path.isfile(path):
    return []
  with open(path, encoding="utf-8") as f:
    ids = json.load(f).get("eos_token_id")
  return [ids] if isinstance(ids, int) else list(ids or [])


def train_tiny_tokenizer(texts: Sequence[str], vocab_size: int = TINY_VOCAB_SIZE):
  """Trains the byte-level BPE (deterministic for the same texts); returns tokenizers.Tokenizer."""
  from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, trainers
  from tokenizers import Tokenizer as _Tok

  tok = _Tok(models.BPE())
  tok.normalizer = normalizers.NFC()
  tok.pre_tokenizer = pre_tokenizers.Sequence(
    [
      pre_tokenizers.Split(Regex(QWEN_SPLIT_PATTERN), behavior="isolated", invert=False),
      pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ]
  )
  tok.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(
    vocab_size=vocab_size,
    special_tokens=list(TINY_SPECIAL_TOKENS),
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    min_frequency=1,
    show_progress=False,
  )
  tok.train_from_iterator(list(texts), trainer)
  return tok


def tiny_tokenizer_config() -> dict[str, Any]:
  return {
    "tokenizer_class": "PreTrainedTokenizerFast",
    "bos_token": None,
    "eos_token": "<|im_end|>",
    "pad_token": "<|endoftext|>",
    "unk_token": None,
    "model_max_length": 4096,
    "clean_up_tokenization_spaces": False,
    "chat_template": TINY_CHAT_TEMPLATE,
  }


def build_tiny_tokenizer(directory: str, texts: Sequence[str]) -> Tokenizer:
  """Retrains the tiny tokenizer on ``texts`` and writes it to ``directory``."""
  tok = train_tiny_tokenizer(texts)
  config = tiny_tokenizer_config()
  template = config.pop("chat_template")
  result = Tokenizer(tok.to_str(pretty=True), config, template, source=TINY)
  result.save_pretrained(directory)
  return result
