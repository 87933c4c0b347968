"""The synthesis loop: brainstorm tasks, then generate, validate, deduplicate and append examples, resumably.

Files for `--out out.jsonl`:
- out.jsonl           kept rows, in the shared synthetic format (what training reads)
- out.jsonl.tasks     the brainstormed tasks (JSON), so a re-run uses the same ones
- out.jsonl.rejects   one JSON line per dropped attempt: task key, attempt number, reason, raw answer
- out.jsonl.lock      held (flock) while a run writes, so two runs never append to the same files

Every attempt has a number per task and a seed derived from (seed, family, task, attempt); a re-run reads
the three files, skips attempt numbers already made and goes on until each task has `per_task` rows or has
used `per_task * max_attempts` attempts.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from embedder.synth.backends import ChatBackend, Completion
from embedder.synth.dedup import NearDuplicateIndex
from embedder.synth.prompts import (
    BRAINSTORM_MAX_TOKENS,
    EXAMPLE_KEYS,
    FAMILIES,
    FIXED_TASKS,
    MAX_TOKENS,
    PAIRED,
    Attempt,
    brainstorm_messages,
    brainstorm_prefix,
    example_messages,
    sample_attributes,
)
from embedder.synth.validate import DUPLICATE, LanguageChecker, Rejected, parse_tasks, to_row

BRAINSTORM_KEY = "<brainstorm>"


class SynthError(ValueError):
    """Raised for settings that cannot work (bad family, languages, or an --out begun with other settings)."""


@dataclass
class SynthConfig:
    """One `babelsearch synth` run."""

    family: str
    languages: list[str]
    out: Path
    tasks: int = 2
    per_task: int = 2
    domain: str | None = None
    seed: int = 0
    max_attempts: int = 3  # per wanted example (and for the brainstorm)
    temperature: float = 0.7
    max_tokens: int | None = None  # None: the family's default (prompts.MAX_TOKENS)
    check_language: bool = True
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise SynthError(f"unknown family {self.family!r}: use one of {', '.join(FAMILIES)}")
        self.family = FAMILIES[self.family]
        self.max_tokens = self.max_tokens or MAX_TOKENS[self.family]
        self.languages = [code.strip().lower() for code in self.languages if code.strip()]
        if not self.languages:
            raise SynthError("no language given: pass --languages en,de")
        if min(self.tasks, self.per_task, self.max_attempts) < 1:
            raise SynthError(
                f"--tasks {self.tasks}, --per-task {self.per_task}, --max-attempts {self.max_attempts}: each must be 1+"
            )


@dataclass
class Summary:
    """What a run did: rows kept (before and by this run), drops by reason, wall time."""

    kept_before: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    tasks: list[dict] = field(default_factory=list)
    attempts: int = 0
    wall_s: float = 0.0

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        reasons = ", ".join(f"{reason} {n}" for reason, n in self.dropped.most_common()) or "none"
        return [
            f"tasks {len(self.tasks)}; attempts this run {self.attempts} in {self.wall_s:.1f}s",
            f"kept {self.kept} new (+{self.kept_before} from before = {self.kept + self.kept_before} rows)",
            f"dropped {sum(self.dropped.values())}: {reasons}",
        ]


def language_slots(family: str, languages: list[str]) -> list[str]:
    """The language (or "src->tgt" pair) of each example slot, cycled over examples of a task."""
    if family not in PAIRED:
        return languages
    pool = languages if len(languages) > 1 else sorted({languages[0], "en"})
    pairs = [f"{s}->{t}" for s, t in itertools.permutations(pool, 2)]
    if not pairs:
        raise SynthError(f"{family} needs two languages: pass e.g. --languages {languages[0]},de")
    return pairs


def attempt_seed(seed: int, family: str, task_key: str, attempt: int) -> int:
    """A stable 31-bit seed per attempt (the same on every re-run and machine)."""
    digest = hashlib.blake2b(f"{seed}|{family}|{task_key}|{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % (2**31 - 1)


def task_key(task: dict) -> str:
    """Rows are counted per task instruction and, for STS/bitext, per topic."""
    return task["task"] if task.get("topic") is None else f"{task['task']} | {task['topic']}"


def _read_jsonl(path: Path) -> list[dict]:
    """Complete lines of a JSONL file; a half-written last line (a killed run) is cut off first."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
    rows = []
    for line in data[:end].decode("utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # not ours to judge; the next write starts on a fresh line
    return rows


class Synthesizer:
    """Runs the two E5 steps against a backend and appends results to the output files."""

    def __init__(self, config: SynthConfig, backend: ChatBackend, checker: LanguageChecker | None = None):
        self.cfg = config
        self.backend = backend
        if checker is None and config.check_language:
            checker = LanguageChecker([part for code in config.languages for part in code.split("->")])
        self.checker = checker
        out = config.out
        self.tasks_path = out.with_name(out.name + ".tasks")
        self.rejects_path = out.with_name(out.name + ".rejects")
        self.summary = Summary()
        self.dedup = NearDuplicateIndex()
        self.kept: Counter = Counter()
        self.kept_languages: dict[str, Counter] = {}
        self.tried: dict[str, set[int]] = {}

    # -- resume ---------------------------------------------------------------------------------------
    def _load_state(self) -> None:
        for row in _read_jsonl(self.cfg.out):
            if row.get("family") != self.cfg.family:
                raise SynthError(
                    f"{self.cfg.out} holds {row.get('family')!r} rows and this run makes {self.cfg.family!r}; "
                    "pass another --out"
                )
            key = task_key({"task": row["task"], "topic": row.get("meta", {}).get("topic")})
            self.kept[key] += 1
            self.kept_languages.setdefault(key, Counter())[row["language"]] += 1
            self.tried.setdefault(key, set()).add(row.get("meta", {}).get("attempt", -1))
            self.dedup.add(row["query"] + "\n" + row["positive"])
        for row in _read_jsonl(self.rejects_path):
            self.tried.setdefault(row["task_key"], set()).add(row["attempt"])
        self.summary.kept_before = sum(self.kept.values())

    def _next_attempts(self, key: str, n: int, budget: int) -> list[int]:
        """The next `n` attempt numbers of a task not made yet, within its budget of attempts."""
        tried = self.tried.setdefault(key, set())
        numbers = [i for i in range(budget) if i not in tried][:n]
        tried.update(numbers)
        return numbers

    # -- step 1 ---------------------------------------------------------------------------------------
    def brainstorm(self) -> list[dict]:
        """The run's tasks: read from out.tasks, else (or when too few) brainstormed and saved there."""
        cfg = self.cfg
        tasks: list[dict] = []
        if self.tasks_path.exists():
            saved = json.loads(self.tasks_path.read_text(encoding="utf-8"))
            if saved["family"] != cfg.family or saved.get("domain") != cfg.domain:
                raise SynthError(
                    f"{self.tasks_path} was brainstormed for family {saved['family']!r}, domain "
                    f"{saved.get('domain')!r}; pass another --out or the same --family/--domain"
                )
            tasks = saved["tasks"]
            self.tried.setdefault(BRAINSTORM_KEY, set()).update(saved.get("attempts", []))
        seen = {t["topic"] or t["task"] for t in tasks}
        while len(tasks) < cfg.tasks:
            numbers = self._next_attempts(BRAINSTORM_KEY, 1, cfg.max_attempts)
            if not numbers:
                break
            attempt = numbers[0]
            messages = brainstorm_messages(cfg.family, cfg.tasks - len(tasks) + 2, cfg.domain)
            seed = attempt_seed(cfg.seed, cfg.family, BRAINSTORM_KEY, attempt)
            answer = self.backend.complete(
                messages,
                seed=seed,
                temperature=cfg.temperature,
                max_tokens=BRAINSTORM_MAX_TOKENS,
                prefix=brainstorm_prefix(cfg.family),
            )
            self.summary.attempts += 1
            try:
                found = parse_tasks(answer.text, cfg.family, answer.finish_reason)
            except Rejected as rejected:
                self._reject(BRAINSTORM_KEY, attempt, rejected.reason, answer)
                continue
            for item in found:
                if item not in seen and len(tasks) < cfg.tasks:
                    seen.add(item)
                    fixed = FIXED_TASKS.get(cfg.family)
                    tasks.append({"task": fixed or item, "topic": item if fixed else None})
            self._save_tasks(tasks)
        if not tasks:
            if cfg.family not in FIXED_TASKS:
                raise SynthError(
                    f"the model brainstormed no usable task in {cfg.max_attempts} attempts (answers in "
                    f"{self.rejects_path}); use a larger model or raise --max-attempts"
                )
            tasks = [{"task": FIXED_TASKS[cfg.family], "topic": None}]  # E5's own setting: no topics
            self._save_tasks(tasks)
        self.summary.tasks = tasks[: cfg.tasks]
        return self.summary.tasks

    def _save_tasks(self, tasks: list[dict]) -> None:
        attempts = sorted(self.tried.get(BRAINSTORM_KEY, ()))  # made; a re-run skips them
        body = {"family": self.cfg.family, "domain": self.cfg.domain, "tasks": tasks, "attempts": attempts}
        tmp = self.tasks_path.with_name(self.tasks_path.name + ".tmp")
        tmp.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.tasks_path)

    # -- step 2 ---------------------------------------------------------------------------------------
    def _missing_languages(self, task_index: int, key: str) -> list[str]:
        """Languages of the task's missing examples: its share of the round robin not kept yet."""
        slots = language_slots(self.cfg.family, self.cfg.languages)
        have = Counter(self.kept_languages.get(key, {}))
        missing = []
        for i in range(self.cfg.per_task):
            language = slots[(i + task_index) % len(slots)]  # tasks start at different languages
            if have[language] > 0:
                have[language] -= 1
            else:
                missing.append(language)
        return missing

    def _attempt(self, task: dict, number: int, language: str) -> Attempt:
        """Attempt `number` of a task in `language`, with its E5 attributes drawn from the attempt's seed."""
        key = task_key(task)
        rng = random.Random(attempt_seed(self.cfg.seed, self.cfg.family, key, number))
        meta = sample_attributes(self.cfg.family, rng)
        if task.get("topic"):
            meta["topic"] = task["topic"]
        meta["attempt"] = number
        return Attempt(task["task"], task.get("topic"), language, meta)

    def _run_one(self, attempt: Attempt, key: str) -> Completion:
        seed = attempt_seed(self.cfg.seed, self.cfg.family, key, attempt.meta["attempt"])
        messages = example_messages(self.cfg.family, attempt)
        return self.backend.complete(
            messages,
            seed=seed,
            temperature=self.cfg.temperature,
            max_tokens=self.cfg.max_tokens,
            json_keys=EXAMPLE_KEYS[self.cfg.family],
        )

    def _reject(self, key: str, number: int, reason: str, answer: Completion) -> None:
        self.summary.dropped[reason] += 1
        line = {"task_key": key, "attempt": number, "reason": reason, "raw": answer.text[:4000]}
        with self.rejects_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _accept(self, key: str, attempt: Attempt, answer: Completion) -> bool:
        cfg = self.cfg
        try:
            row = to_row(
                answer.text,
                cfg.family,
                attempt.task,
                attempt.language,
                attempt.meta,
                self.checker,
                answer.finish_reason,
            )
            if not self.dedup.add(row["query"] + "\n" + row["positive"]):
                raise Rejected(DUPLICATE)
        except Rejected as rejected:
            self._reject(key, attempt.meta["attempt"], rejected.reason, answer)
            return False
        with cfg.out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.kept[key] += 1
        self.kept_languages.setdefault(key, Counter())[attempt.language] += 1
        self.summary.kept += 1
        return True

    def run(self) -> Summary:
        """Both steps; returns the summary (also when resuming a finished run, with nothing to do)."""

        started = time.perf_counter()
        cfg = self.cfg
        cfg.out.parent.mkdir(parents=True, exist_ok=True)
        lock = cfg.out.with_name(cfg.out.name + ".lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the OS if this process dies
        except BlockingIOError as exc:
            lock.close()
            raise SynthError(
                f"another synth run is writing {cfg.out}: wait for it to end or pass another --out"
            ) from exc
        try:
            return self._run(started)
        finally:
            lock.close()

    def _run(self, started: float) -> Summary:
        from tqdm import tqdm

        cfg = self.cfg
        self._load_state()
        tasks = self.brainstorm()
        wanted = len(tasks) * cfg.per_task
        done = sum(min(self.kept[task_key(t)], cfg.per_task) for t in tasks)
        bar = tqdm(total=wanted, initial=done, unit="ex", desc=f"synth {cfg.family}", disable=cfg.quiet)
        failure: Exception | None = None
        with ThreadPoolExecutor(max_workers=max(1, self.backend.max_concurrency)) as pool:
            while failure is None:
                wave = []  # one attempt per missing example, for every task at once
                for index, task in enumerate(tasks):
                    key = task_key(task)
                    missing = cfg.per_task - self.kept[key]
                    numbers = self._next_attempts(key, missing, cfg.per_task * cfg.max_attempts)
                    for language, number in zip(self._missing_languages(index, key), numbers, strict=False):
                        attempt = self._attempt(task, number, language)
                        wave.append((key, attempt, pool.submit(self._run_one, attempt, key)))
                if not wave:
                    break
                for key, attempt, future in wave:  # in submission order: the files read the same on re-runs
                    try:
                        answer = future.result()
                    except Exception as exc:  # keep what the others made, then stop
                        failure = failure or exc
                        continue
                    self.summary.attempts += 1
                    if self.kept[key] < cfg.per_task and self._accept(key, attempt, answer):
                        bar.update(1)
                    bar.set_postfix(kept=self.summary.kept, dropped=sum(self.summary.dropped.values()))
        bar.close()
        self.summary.wall_s = time.perf_counter() - started
        if failure is not None:
            raise failure
        return self.summary


def synthesize(config: SynthConfig, backend: ChatBackend, checker: LanguageChecker | None = None) -> Summary:
    """Run (or resume) one synthesis job; see the module docstring for the files it writes."""
    return Synthesizer(config, backend, checker).run()
