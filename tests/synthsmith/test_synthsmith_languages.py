"""SynthSmith across languages: candidates asked per language, voting across languages with
the real judge, a golden per language, SFT records and DPO pairs within one language."""

import re

import ml_collections
import pytest

from data_pipeline import outputs, pairs, records, solutions, verify
from data_pipeline.records import Candidate, Task
from data_pipeline.teacher.base import Teacher
from xcoder_jax import judge
from xcoder_jax.rollout.types import Completion

STDIO_TASK = Task("task-s", "cfg", "codeforces", "stdio", None, "Sum", "Add the numbers.", {}, {})
LEETCODE_TASK = Task("task-l", "cfg", "leetcode", "leetcode", "add", "Add", "Add a and b.", {}, {})

SUM = {
  "python": "print(sum(map(int, input().split())))\n",
  "cpp": "#include <iostream>\nint main() { long long a, s = 0; while (std::cin >> a) s += a;"
  " std::cout << s << std::endl; }\n",
  "java": "import java.util.*;\npublic class Main { public static void main(String[] x) {"
  " Scanner in = new Scanner(System.in); long s = 0; while (in.hasNextLong()) s += in.nextLong();"
  " System.out.println(s); } }\n",
}
WRONG_JAVA = SUM["java"].replace("s += in.nextLong()", "s -= in.nextLong()")


class FencedTeacher(Teacher):
  """Answers each solution request with a block fenced for the language the prompt asks."""

  def _complete(self, stage, messages, sampling):
    fence = re.search(r"in a single ```(\w+) code block", messages[0]["content"]).group(1)
    return Completion(text=f"Reasoning.\n```{fence}\n// seed {sampling['seed']}\n```\n")


def solution_config(languages):
  return ml_collections.ConfigDict(
    {"num_candidates": 2, "languages": languages, "sampling": {"temperature": 0.6}}
  )


def test_candidates_are_asked_per_language_and_parsed_by_its_fence():
  teacher = FencedTeacher()
  candidates, drops = solutions.generate(
    teacher, solution_config(["python", "c++", "java"]), STDIO_TASK.to_json()
  )
  assert drops == {"candidate:syntax_error": 2}  # "// seed" is no Python
  assert [(c["index"], c["language"]) for c in candidates] == [
    (2, "cpp"),
    (3, "cpp"),
    (4, "java"),
    (5, "java"),
  ]
  assert (
    "complete, commented Java 17 solution in a single ```java code block"
    in (solutions.solution_messages(STDIO_TASK, "java")[0]["content"])
  )
  candidates, _ = solutions.generate(
    teacher, solution_config(["cpp", "python"]), LEETCODE_TASK.to_json()
  )
  assert candidates == []  # LeetCode-style tasks are asked in Python only
  assert teacher.usage["solution"]["requests"] == 6 + 2
  with pytest.raises(ValueError, match="unknown language 'cobol'; supported: python, cpp"):
    solutions.check_languages(["python", "cobol"])
  with pytest.raises(ValueError, match="repeats a language"):
    solutions.check_languages(["cpp", "c++"])


def test_languages_vote_together_and_each_gets_its_golden_sft_record_and_pairs():
  codes = [
    ("python", SUM["python"]),
    ("cpp", SUM["cpp"]),
    ("java", WRONG_JAVA),
    ("java", SUM["java"]),
    ("cpp", "int main() { return 1; }\n"),
  ]
  candidates = [
    Candidate(STDIO_TASK.id, i, f"answer {i}", code, lang) for i, (lang, code) in enumerate(codes)
  ]
  inputs = records.TestInputs(STDIO_TASK.id, ["1 2", "3 4 5", "10", "7 7", "0 0 1"], ["direct"] * 5)
  config = ml_collections.ConfigDict(
    {
      "min_candidates": 3,
      "min_votes": 2,
      "min_agreement": 0.5,
      "held_out_every": 4,
      "min_tests": 3,
      "time_limit_s": 5.0,
      "memory_mb": 256,
    }
  )
  with judge.Judge(workers=2) as engine:
    [verified], drops = verify.verify_task(engine, config, STDIO_TASK, candidates, inputs)
  assert [t["output"] for t in verified["tests"]] == ["3", "12", "10", "14", "1"]
  assert verified["tests"][0]["votes"] == 3  # Python, C++ and the right Java agree
  assert {lang: g["index"] for lang, g in verified["goldens"].items()} == {
    "python": 0,
    "cpp": 1,
    "java": 3,
  }
  assert [(o["language"], o["pass_fraction"]) for o in verified["candidates"]] == [
    ("python", 1.0),
    ("cpp", 1.0),
    ("java", 0.0),
    ("java", 1.0),
    ("cpp", 0.0),
  ]
  sft = outputs.sft_records(verified, "train")
  assert [(r["id"], r["metadata"]["language"], r["response"]) for r in sft] == [
    ("task-s", "python", "answer 0"),
    ("task-s:cpp", "cpp", "answer 1"),
    ("task-s:java", "java", "answer 3"),
  ]
  assert "Java 17 solution" in sft[2]["query"]
  responses = {c.index: c.response for c in candidates}
  options = ml_collections.ConfigDict({"max_per_task": 100, "min_gap": 0.0, "seed": 0})
  pair_records, _ = pairs.build_pairs(verified, responses, options, "train")
  assert [(p["id"], p["metadata"]["language"]) for p in pair_records] == [
    ("task-s/1>4", "cpp"),
    ("task-s/3>2", "java"),
  ]
  assert "C++17 solution" in pair_records[0]["prompt"]
