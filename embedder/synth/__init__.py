"""Synthetic training data with an LLM, the E5 recipe: brainstorm tasks, then write examples per task.

`babelsearch synth --backend local --family sts --languages en,de --tasks 2 --per-task 2 --out out.jsonl`

- prompts.py   the paraphrased E5 prompts, sampled attributes, per-family JSON keys
- backends.py  OpenAI-compatible HTTP (retries, backoff, concurrency) and a local transformers LM
- validate.py  JSON extraction from messy answers, schema and language checks, drop reasons
- dedup.py     near-duplicate removal (MinHash + LSH over character 5-grams)
- generate.py  the resumable loop that ties them together; cli.py the command
"""
