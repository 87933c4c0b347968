"""Training on the tiny backbone: the loss falls, hard negatives count, resume continues where it stopped."""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from embedder import load_embedder
from embedder.train.config import SourceConfig, TrainConfig
from embedder.train.data import Example, load_source
from embedder.train.loss import info_nce
from embedder.train.trainer import LATEST, batch_loss, build_trainable, train

WORDS = [
    "red",
    "green",
    "blue",
    "cat",
    "dog",
    "bird",
    "house",
    "tree",
    "river",
    "stone",
    "fire",
    "water",
    "moon",
    "star",
    "bread",
    "milk",
]


def _write_triplets(path, n: int = 64) -> None:
    rng = random.Random(0)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for i in range(n):
            anchor = " ".join(rng.sample(WORDS, 4)) + f" {i}"
            row = {"anchor": anchor, "positive": anchor.upper(), "negative": " ".join(rng.sample(WORDS, 4))}
            handle.write(json.dumps(row) + "\n")


@pytest.fixture()
def tiny_config(tmp_path) -> TrainConfig:
    _write_triplets(tmp_path / "triplets.jsonl.gz")
    return TrainConfig(
        backbone="tiny",
        dtype="float32",
        max_tokens=32,
        batch_size=8,
        steps=12,
        learning_rate=5e-3,
        warmup_steps=0,
        eval_every=0,
        save_every=4,
        data=str(tmp_path),
        out=str(tmp_path / "run"),
        sources=[SourceConfig(name="toy", files=["triplets.jsonl.gz"], kind="triplets", task="sts")],
    )


def _log(cfg: TrainConfig) -> list[dict]:
    return [json.loads(line) for line in (Path(cfg.out) / "log.jsonl").read_text().splitlines()]


def _train_until_killed(cfg: TrainConfig, after_steps: int, monkeypatch) -> None:
    """Run `train` but raise KeyboardInterrupt (as a kill would) once `after_steps` steps are done."""
    from embedder.train import trainer

    original = trainer.batch_loss
    calls = {"n": 0}

    def killed_later(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after_steps:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(trainer, "batch_loss", killed_later)
        with pytest.raises(KeyboardInterrupt):
            train(cfg, quiet=True)


def test_hard_negatives_change_the_loss():
    torch.manual_seed(0)
    q, p = torch.nn.functional.normalize(torch.randn(2, 4, 8), dim=-1)
    hard = torch.nn.functional.normalize(q + 0.01 * torch.randn_like(q), dim=-1)  # near-copies of the queries
    without = info_nce(q, p, None, 0.05)
    with_hard = info_nce(q, p, hard, 0.05)
    assert with_hard > without + 1.0


def test_loss_decreases_on_tiny(tiny_config):
    final = train(tiny_config, quiet=True)
    losses = [row["loss"] for row in _log(tiny_config)]
    assert len(losses) == tiny_config.steps
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    trained = load_embedder(final, dtype="float32")
    assert trained.contract["adapter_sha256"]


def test_resume_continues_from_the_last_checkpoint(tiny_config, monkeypatch):
    _train_until_killed(tiny_config, after_steps=9, monkeypatch=monkeypatch)  # checkpoint at 8, step 9 lost
    assert (Path(tiny_config.out) / LATEST).read_text().strip() == "checkpoint-000008"
    train(tiny_config, quiet=True)
    steps = [row["step"] for row in _log(tiny_config)]
    assert steps == [*range(1, 10), *range(9, 13)]  # step 9 is redone from the checkpoint; 12 steps in the end
    assert (Path(tiny_config.out) / "final" / "adapter").exists()


def test_resumed_run_matches_an_uninterrupted_one(tiny_config, tmp_path, monkeypatch):
    straight = replace(tiny_config, out=str(tmp_path / "straight"), steps=8)
    train(straight, quiet=True)
    resumed = replace(tiny_config, out=str(tmp_path / "resumed"), steps=8)
    _train_until_killed(resumed, after_steps=4, monkeypatch=monkeypatch)
    train(resumed, quiet=True)
    assert [r["loss"] for r in _log(resumed)] == pytest.approx([r["loss"] for r in _log(straight)], abs=1e-3)


def test_batch_loss_uses_hard_negatives(tiny_config):
    embedder = build_trainable(tiny_config)
    ex = [Example(f"query {w}", f"answer {w}", f"wrong {w}", "sts") for w in WORDS[:6]]
    no_neg = [Example(e.query, e.positive, None, e.task) for e in ex]
    with torch.no_grad():
        assert batch_loss(embedder, ex, tiny_config) > batch_loss(embedder, no_neg, tiny_config)


def test_missing_training_file_names_the_fix(tiny_config):
    source = SourceConfig(name="x", files=["nope.jsonl.gz"], kind="triplets")
    with pytest.raises(Exception, match="pass --data"):
        load_source(source, Path(tiny_config.data), random.Random(0))


def test_device_option_places_the_model(tiny_config):
    from embedder.loading import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    embedder = build_trainable(replace(tiny_config, device="cpu"))
    assert next(embedder.model.parameters()).device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_keep_best_saves_the_best_dev_embedder(tiny_config, tmp_path):
    dev = tmp_path / "sts" / "stsb_multi_mt" / "en"
    dev.mkdir(parents=True)
    pairs = enumerate(zip(WORDS, reversed(WORDS), strict=True))
    rows = [f"{w} {v}\t{w.upper()} {v}\t{i % 5}.0" for i, (w, v) in pairs]
    (dev / "dev.tsv").write_text("sentence1\tsentence2\tscore\n" + "\n".join(rows) + "\n")
    cfg = replace(tiny_config, eval_every=4, eval_pairs=0, keep_best=True)
    train(cfg, quiet=True)
    scores = [row["stsb_dev_spearman"] for row in _log(cfg) if "stsb_dev_spearman" in row]
    assert len(scores) == 3
    best = json.loads((Path(cfg.out) / "best" / "best.json").read_text())
    assert best["stsb_dev_spearman"] == max(scores)
    assert load_embedder(Path(cfg.out) / "best", dtype="float32", device="cpu").contract["adapter_sha256"]


def test_init_adapter_starts_from_saved_weights(tiny_config, tmp_path):
    from peft import get_peft_model_state_dict

    first = train(replace(tiny_config, out=str(tmp_path / "first"), steps=4), quiet=True)
    saved = get_peft_model_state_dict(build_trainable(replace(tiny_config, init_adapter=str(first))).model)
    fresh = get_peft_model_state_dict(build_trainable(tiny_config).model)
    trained = get_peft_model_state_dict(load_embedder(first, dtype="float32", merge_adapter=False).model)
    lora_b = [k for k in saved if "lora_B" in k]
    assert lora_b and all(torch.equal(saved[k], trained[k]) for k in lora_b)
    assert not any(torch.equal(saved[k], fresh[k]) for k in lora_b)  # fresh LoRA B is all zeros


def test_init_adapter_with_another_rank_names_the_fix(tiny_config, tmp_path):
    first = train(replace(tiny_config, out=str(tmp_path / "first"), steps=4), quiet=True)
    other_rank = replace(tiny_config, init_adapter=str(first), lora=replace(tiny_config.lora, r=4))
    with pytest.raises(ValueError, match="make the config's lora section match"):
        build_trainable(other_rank)
