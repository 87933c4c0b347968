"""The synthesis loop with a scripted backend: rows training can read, counted drops, dedup, resume."""

from __future__ import annotations

import json
import random

import pytest

from embedder.synth.backends import BackendError, Completion
from embedder.synth.generate import SynthConfig, SynthError, language_slots, synthesize
from embedder.train.config import SourceConfig
from embedder.train.data import load_source

WORDS = ["train", "bus", "ticket", "delay", "platform", "river", "bread", "cheese"]
WORDS += ["window", "garden", "lamp", "chair", "music", "road", "city", "snow"]


class ScriptedBackend:
    """Brainstorms `topics`, then answers each example call from `script` (a function of the call) or validly."""

    max_concurrency = 2

    def __init__(self, topics=("train delays", "bakery opening hours"), script=None, fail_after=None):
        self.topics = list(topics)
        self.script = script or (lambda call, seed: None)
        self.fail_after = fail_after
        self.calls: list[tuple[str, int]] = []  # (kind, seed)

    def complete(self, messages, *, seed, temperature, max_tokens, **guides):
        prompt = messages[-1]["content"]
        kind = "brainstorm" if "JSON list" in prompt else "example"
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise BackendError("server went away")
        self.calls.append((kind, seed))
        if kind == "brainstorm":
            return Completion(json.dumps(self.topics), "stop")
        scripted = self.script(len(self.calls), seed)
        if scripted is not None:
            return scripted
        rng = random.Random(seed)  # unique, valid text per seed
        s1, s2, s3 = (" ".join(rng.choices(WORDS, k=8)) for _ in range(3))
        return Completion("Here it is: " + json.dumps({"text": s1, "paraphrase": s2, "different_meaning": s3}), "stop")


def _config(tmp_path, **overrides) -> SynthConfig:
    settings = dict(
        family="sts",
        languages=["en", "de"],
        out=tmp_path / "out.jsonl",
        tasks=2,
        per_task=2,
        check_language=False,
        quiet=True,
    )
    return SynthConfig(**{**settings, **overrides})


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_rows_are_in_the_shared_format_and_training_reads_them(tmp_path):
    summary = synthesize(_config(tmp_path), ScriptedBackend())
    rows = _rows(tmp_path / "out.jsonl")
    assert summary.kept == len(rows) == 4 and not summary.dropped
    for row in rows:
        assert set(row) == {"family", "task", "language", "query", "positive", "negative", "meta"}
        assert row["family"] == "sts" and row["task"] == "Retrieve semantically similar text."
        assert {"difficulty", "unit", "high_score", "low_score", "topic", "attempt"} <= set(row["meta"])
    # each topic gets one English and one German example (round robin over --languages)
    by_topic = {}
    for row in rows:
        by_topic.setdefault(row["meta"]["topic"], set()).add(row["language"])
    assert by_topic == {"train delays": {"en", "de"}, "bakery opening hours": {"en", "de"}}
    source = SourceConfig(name="synthetic", files=["out.jsonl"], kind="synthetic")
    examples = load_source(source, tmp_path, random.Random(0))
    assert len(examples) == 4 and all(e.symmetric and e.negative for e in examples)


def test_drops_are_counted_by_reason_and_retried(tmp_path):
    bad = {1: Completion("I am not sure what you mean.", "stop"), 2: Completion('{"text": "cut off', "length")}
    backend = ScriptedBackend(script=lambda call, seed: bad.get(call - 1))  # call 1 is the brainstorm
    summary = synthesize(_config(tmp_path), backend)
    assert summary.kept == 4
    assert dict(summary.dropped) == {"not_json": 1, "truncated": 1}
    languages = sorted((r["meta"]["topic"], r["language"]) for r in _rows(tmp_path / "out.jsonl"))
    assert languages == [
        ("bakery opening hours", "de"),
        ("bakery opening hours", "en"),
        ("train delays", "de"),
        ("train delays", "en"),
    ]  # retries keep the languages balanced
    rejects = _rows(tmp_path / "out.jsonl.rejects")
    assert sorted(r["reason"] for r in rejects) == ["not_json", "truncated"]
    assert "Retrieve semantically similar text." in (tmp_path / "out.jsonl.tasks").read_text()


def test_near_duplicates_are_dropped_and_the_attempt_budget_ends_the_run(tmp_path):
    same = Completion(
        json.dumps(
            {
                "text": "the bus is late",
                "paraphrase": "the bus did not come on time",
                "different_meaning": "the bus is early",
            }
        ),
        "stop",
    )
    summary = synthesize(
        _config(tmp_path, tasks=1, per_task=2, max_attempts=3), ScriptedBackend(script=lambda c, s: same)
    )
    assert summary.kept == 1
    assert summary.dropped["near_duplicate"] == 5  # 2 examples x 3 attempts, one kept


def test_resume_continues_where_it_stopped(tmp_path):
    crashing = ScriptedBackend(fail_after=3)  # brainstorm + 2 examples, then the server dies
    with pytest.raises(BackendError):
        synthesize(_config(tmp_path), crashing)
    first = _rows(tmp_path / "out.jsonl")
    assert len(first) == 2
    with (tmp_path / "out.jsonl").open("a") as handle:
        handle.write('{"family": "sts", "task": "half a li')  # a run killed mid-write
    resumed = ScriptedBackend(topics=["something else entirely"])  # tasks come from out.jsonl.tasks
    summary = synthesize(_config(tmp_path), resumed)
    rows = _rows(tmp_path / "out.jsonl")
    assert summary.kept_before == 2 and summary.kept == 2 and len(rows) == 4
    assert rows[:2] == first
    assert not any(kind == "brainstorm" for kind, _ in resumed.calls)
    assert {s for _, s in resumed.calls}.isdisjoint({s for _, s in crashing.calls})  # no attempt repeated
    again = ScriptedBackend()
    assert synthesize(_config(tmp_path), again).kept == 0 and again.calls == []  # finished: nothing to do


def test_out_started_for_another_family_is_refused(tmp_path):
    synthesize(_config(tmp_path, tasks=1, per_task=1), ScriptedBackend())
    with pytest.raises(SynthError, match="another --out"):
        synthesize(_config(tmp_path, family="bitext"), ScriptedBackend())


def test_language_slots_for_paired_families():
    assert language_slots("sts", ["en", "de"]) == ["en", "de"]
    assert language_slots("bitext", ["en", "de"]) == ["en->de", "de->en"]
    assert language_slots("xling", ["de"]) == ["de->en", "en->de"]
    with pytest.raises(SynthError):
        language_slots("bitext", ["en"])
    with pytest.raises(SynthError, match="unknown family"):
        SynthConfig(family="qa", languages=["en"], out=None)
    with pytest.raises(SynthError, match="must be 1"):
        SynthConfig(family="sts", languages=["en"], out=None, per_task=0)
    assert SynthConfig(family="cross-lingual", languages=["de"], out=None).family == "xling"


def test_brainstorm_keeps_going_until_enough_tasks_and_falls_back_for_sts(tmp_path):
    class OneTopicAtATime(ScriptedBackend):
        answers = iter(['["train delays"]', "no list, sorry", '["train delays", "museum tickets"]'])

        def complete(self, messages, **kwargs):
            if "JSON list" in messages[-1]["content"]:
                self.calls.append(("brainstorm", kwargs["seed"]))
                return Completion(next(self.answers), "stop")
            return super().complete(messages, **kwargs)

    summary = synthesize(_config(tmp_path, per_task=1), OneTopicAtATime())
    assert [t["topic"] for t in summary.tasks] == ["train delays", "museum tickets"]
    assert summary.dropped == {"bad_task_list": 1}
    saved = json.loads((tmp_path / "out.jsonl.tasks").read_text())
    assert saved["attempts"] == [0, 1, 2]

    class NeverAList(ScriptedBackend):
        def complete(self, messages, **kwargs):
            if "JSON list" in messages[-1]["content"]:
                return Completion("{}", "stop")
            return super().complete(messages, **kwargs)

    summary = synthesize(_config(tmp_path / "sub", per_task=1), NeverAList())
    assert summary.tasks == [{"task": "Retrieve semantically similar text.", "topic": None}]  # E5's setting
    assert summary.kept == 1
    with pytest.raises(SynthError, match="no usable task"):
        synthesize(_config(tmp_path / "sub2", family="short-long"), NeverAList())


def test_a_second_run_on_the_same_out_is_refused_while_one_writes(tmp_path):
    import fcntl

    config = _config(tmp_path, tasks=1, per_task=1)
    with (tmp_path / "out.jsonl.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running synth holds it
        with pytest.raises(SynthError, match="another synth run"):
            synthesize(config, ScriptedBackend())
    assert synthesize(config, ScriptedBackend()).kept == 1  # free again once the first has ended
