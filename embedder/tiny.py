"""A tiny random decoder with a tokenizer trained in code: the fast backbone for tests."""

from __future__ import annotations

from pathlib import Path

# A few sentences in several scripts so that the byte-level BPE learns merges for each.
_CORPUS = [
    "Where is the railway station? The station is in the city centre.",
    "Wo ist der Bahnhof? Der Bahnhof liegt im Stadtzentrum.",
    "¿Dónde está la estación de tren? La estación está en el centro.",
    "Où est la gare ? La gare est au centre-ville.",
    "Где вокзал? Вокзал находится в центре города.",
    "駅はどこですか？駅は町の中心にあります。",
    "火车站在哪里？火车站在市中心。",
    "Instruct: Given a question, retrieve passages that answer the question\nQuery: ",
    "Represent the document for retrieval: ",
    "A man is playing a guitar. A woman is slicing an onion. The cat sleeps on the sofa.",
]


def build_tiny_backbone(out: Path, hidden_size: int = 32, num_layers: int = 2, seed: int = 0) -> None:
    """Write a random 2-layer Qwen2 model and a 600-token byte-level BPE tokenizer into `out`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2Model

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<pad>", "<bos>", "<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>"
    )
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    Qwen2Model(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
