"""Re-authors the demo's checked-in assets from the SynthSmith demo (configs/synthsmith/demo.py).

  python -m launch.demo_assets --recording   # data_pipeline/demo/teacher_recording.jsonl
  python -m launch.demo_assets --dpo_pairs   # xcoder_jax/data/assets/demo_dpo_pairs.jsonl

--recording asks the scripted demo author (data_pipeline/demo/scripted_author.py) anew; run
--dpo_pairs after it, since the pairs come from a replay of that recording.
"""

from __future__ import annotations

from absl import flags

from configs.synthsmith import demo as demo_config
from launch import common

_RECORDING = flags.DEFINE_bool("recording", False, "Re-author the demo's teacher recording.")
_DPO_PAIRS = flags.DEFINE_bool("dpo_pairs", False, "Re-write the demo DPO pairs asset.")


def main(argv):
  del argv
  if not (_RECORDING.value or _DPO_PAIRS.value):
    raise common.UserError("say what to re-author: --recording, --dpo_pairs or both")
  from data_pipeline import demo
  from data_pipeline.demo import dpo_pairs, record

  if _RECORDING.value:
    count = record.rerecord(demo_config.get_config())
    print(f"wrote {count} recorded answers to {demo.RECORDING}")
  if _DPO_PAIRS.value:
    count = dpo_pairs.rewrite_asset(demo_config.get_config())
    print(f"wrote {count} demo DPO pairs to {dpo_pairs.ASSET}")


if __name__ == "__main__":
  common.run(main, "demo_assets")
