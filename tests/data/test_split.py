"""The train/held-out split: a function of each task alone, stable as tasks are added, with
near-duplicates of held-out tasks on the held-out side, and one filter every consumer uses."""

import random

import pytest

from data_pipeline.demo import task_bank
from xcoder_jax.data import split

WORDS = "array graph query token river lantern grid prefix stack bridge coin tower".split()


def _statements(n, seed=0):
  rng = random.Random(seed)
  return {f"t{seed}-{i}": " ".join(rng.choice(WORDS) for _ in range(40)) for i in range(n)}


def test_the_draw_depends_on_the_statement_alone():
  text = "Count the calm pairs (i < j) of lanterns."
  assert split.draw(text) == split.draw("  count THE calm pairs, i<j, of lanterns!")
  assert split.draw(text) != split.draw(text + " Print it.")
  statements = _statements(400)
  alone = {tid: split.assign({tid: s}, 0.25, 5, 0.5)[tid].split for tid, s in statements.items()}
  together = split.assign(statements, 0.25, 5, 0.5)
  assert {tid: a.split for tid, a in together.items() if a.reason == "draw"} == {
    tid: side for tid, side in alone.items() if together[tid].reason == "draw"
  }
  renamed = split.assign({f"other-{tid}": s for tid, s in statements.items()}, 0.25, 5, 0.5)
  assert [a.split for a in renamed.values()] == [a.split for a in together.values()]


def test_the_fraction_is_honoured_within_sampling_noise():
  assignments = split.assign(_statements(2000, seed=1), 0.1, 5, 1.0)
  held = sum(a.split == split.HELDOUT for a in assignments.values())
  assert abs(held - 200) < 4 * (2000 * 0.1 * 0.9) ** 0.5  # four binomial standard deviations


def test_adding_tasks_moves_no_existing_task_across_the_split():
  bank = {task["title"]: task["statement"] for task in task_bank.TASKS}
  first = dict(list(bank.items())[: len(bank) // 2])
  before = split.assign(first, 0.25, 5, 0.5)
  after = split.assign({**bank, **_statements(300, seed=2)}, 0.25, 5, 0.5)
  assert {tid: after[tid].split for tid in first} == {tid: a.split for tid, a in before.items()}
  assert {a.split for a in after.values()} == {split.TRAIN, split.HELDOUT}


def test_a_near_duplicate_of_a_held_out_task_joins_it():
  statements = _statements(200, seed=3)
  held = next(tid for tid, s in statements.items() if split.draw(s) < 0.25)
  trained = next(tid for tid, s in statements.items() if split.draw(s) >= 0.25)
  endings = (f"Good luck{'!' * i} Have fun {i}." for i in range(100))
  paraphrase = next(
    p
    for p in ("Note: " + statements[held].replace("river", "canal", 1) + e for e in endings)
    if split.draw(p) >= 0.25  # the draw alone would train on it
  )
  result = split.assign({**statements, "copy": paraphrase}, 0.25, 5, 0.5)
  assert (
    result["copy"].split == split.HELDOUT and result["copy"].reason == f"near_duplicate_of:{held}"
  )
  assert 0.5 <= result["copy"].overlap < 1 and result[trained].split == split.TRAIN
  # The one way an added task moves another: it is held out and a near-duplicate of it.
  assert split.assign({**statements, "copy": paraphrase}, 0.25, 5, 0.999)["copy"].split == "train"


def _brute_force_match(sets, items, at_least, contained):
  best, score = None, 0.0
  for key in sorted(sets):
    size = len(sets[key]) if contained else min(len(items), len(sets[key]))
    share = len(sets[key] & items) / size
    if share > score:
      best, score = key, share
  return (best, score) if score >= at_least else (None, 0.0)


@pytest.mark.parametrize("contained", [False, True])
def test_overlap_index_prefix_filter_finds_exactly_what_comparing_every_set_finds(contained):
  """Random sets over a skewed alphabet (common items shared by most sets, rare ones by few),
  sizes from 1 to 40, thresholds including those where float rounding bites (0.6 of 5)."""
  rng = random.Random(0)
  alphabet = [f"c{i}" for i in range(8)] + [f"r{i}" for i in range(300)]

  def draw(size):
    return {alphabet[min(int(rng.expovariate(0.05)), len(alphabet) - 1)] for _ in range(size)}

  sets = {f"k{i:03d}": draw(rng.randint(1, 40)) for i in range(120)}
  index = split.OverlapIndex()
  for key, items in sets.items():
    index.add(key, items)
  for at_least in (0.2, 0.5, 0.6, 0.8, 1.0):
    for _ in range(150):
      items = rng.choice([draw(rng.randint(1, 50)), set(rng.choice(list(sets.values())))])
      items |= draw(rng.randint(0, 3))
      got = index.best_match(items, at_least, contained)
      assert got == _brute_force_match(sets, items, at_least, contained), (at_least, items)


def test_consumers_keep_their_side_and_refuse_records_older_than_the_split():
  train, held, external = (
    {"id": "a", "split": "train"},
    {"id": "b", "split": "heldout"},
    {"id": "c"},
  )
  assert [split.keeps(r, "train") for r in (train, held, external)] == [True, False, True]
  assert [split.keeps(r, "eval") for r in (train, held, external)] == [False, True, True]
  assert split.keeps(held, "train", allow_heldout=True)
  with pytest.raises(split.SplitError, match="'split' is 'test'; it must be one of"):
    split.keeps({"id": "d", "split": "test"}, "train")
  for old in ({"id": "e", "metadata": {"source": "synthsmith"}}, {"id": "f", "num_candidates": 4}):
    with pytest.raises(
      split.SplitError, match="before the train/held-out split.*launch.synthsmith"
    ):
      split.keeps(old, "eval")
  keep = split.SplitFilter("train", 2, "shards x")
  assert keep(train) and not keep(held)
  with pytest.raises(split.SplitError, match="shards x: all 2 records are held out"):
    keep({"id": "g", "split": "heldout"})
  with pytest.raises(split.SplitError, match="assign|heldout_fraction"):
    split.assign({"x": "y"}, 1.5, 5, 0.5)


def test_sft_training_skips_held_out_records_and_evaluation_reads_only_them(tmp_path):
  from configs.data import data_config
  from xcoder_jax.data import make_sft_iterator, shards
  from xcoder_jax.data.demo import load_demo_records

  records = [
    {**r, "split": ("heldout", "train", None)[i % 3]} for i, r in enumerate(load_demo_records()[:9])
  ]
  shards.write_shards(
    [{k: v for k, v in r.items() if v is not None} for r in records], str(tmp_path)
  )
  config = data_config()
  config.update(train_files=str(tmp_path), eval_files=str(tmp_path), packing=False)
  config.update(global_batch_size=1, seq_len=256, drop_remainder=False)

  def examples(role, **changes):
    config.update(changes)
    return sum(int(b["segment_ids"].any()) for b in make_sft_iterator(config, role, 0, 1))

  assert examples("train") == 6  # train and unmarked records
  assert examples("eval") == 6  # held-out and unmarked records
  assert examples("train", train_on_heldout=True) == 9
  heldout = [{**r, "split": "heldout"} for r in load_demo_records()[:3]]
  shards.write_shards(heldout, str(tmp_path / "heldout"))
  config.update(train_files=str(tmp_path / "heldout"), train_on_heldout=False, num_epochs=0)
  with pytest.raises(ValueError, match="held-out records .* are skipped by training.*train_on"):
    next(make_sft_iterator(config, "train", 0, 1))  # endless: every record skipped, stops
