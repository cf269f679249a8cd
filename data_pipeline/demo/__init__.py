"""The bundled offline demo: original seed problems and a recorded teacher to replay.

Its data files live here, so their paths do too. Importing ``data_pipeline.demo.scripted_author``
registers the ``scripted_demo_author`` teacher backend that authored the recording.
"""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(_HERE, "seeds.jsonl")
RECORDING = os.path.join(_HERE, "teacher_recording.jsonl")
