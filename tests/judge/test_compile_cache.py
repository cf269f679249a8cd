"""C++ binaries are compiled once per source and shared by a judge's workers."""

import os

from xcoder_jax import judge
from xcoder_jax.judge.compile_cache import CompileCache

T = judge.TestCase
DOUBLE = '#include <cstdio>\nint main(){long long x;scanf("%lld",&x);printf("%lld\\n",2*x);}\n'
TRIPLE = DOUBLE.replace("2*x", "3*x")


def submit(engine, *sources):
  results = engine.run(
    [judge.Submission(s, [T("4", "8"), T("5", "10")], lang="cpp") for s in sources]
  )
  return [[v.verdict.value for v in result.verdicts] for result in results]


def test_same_source_compiles_once_and_a_different_one_compiles(tmp_path):
  cache = CompileCache(str(tmp_path / "cache"))
  engine = judge.Judge(workers=2, compile_cache=cache)
  # Two workers want the same binary at once: one compiles, the other waits for it.
  assert submit(engine, DOUBLE, DOUBLE) == [["accepted"] * 2] * 2
  assert (cache.misses, cache.hits) == (1, 1)
  assert submit(engine, DOUBLE, TRIPLE) == [["accepted"] * 2, ["wrong_answer"] * 2]
  assert (cache.misses, cache.hits) == (2, 2)
  assert len(os.listdir(cache.directory)) == 2 and not cache._claims


def test_cache_is_bounded_least_recently_used_first(tmp_path):
  cache = CompileCache(str(tmp_path), max_bytes=250)
  for age, name in enumerate("ab"):
    cache.put(name, b"x" * 100)
    os.utime(tmp_path / name, ns=(0, (age + 1) * 10**9))  # a older than b
  with cache.claim("a") as binary:  # a read makes "a" the most recently used
    assert binary == b"x" * 100
  cache.put("c", b"x" * 100)
  assert sorted(os.listdir(tmp_path)) == ["a", "c"]
  cache.put("huge", b"x" * 251)  # larger than the whole cache: not kept
  assert sorted(os.listdir(tmp_path)) == ["a", "c"]
  assert (cache.hits, cache.misses) == (1, 0)
