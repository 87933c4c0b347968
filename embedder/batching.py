"""Turn (prefix, text) pairs into padded model inputs: BOS + prefix + text (truncated) + EOS."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """Padded model inputs plus the mask that pooling averages over."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    pool_mask: torch.Tensor  # attention_mask with the instruction tokens zeroed (for mean pooling)

    def to(self, device: torch.device | str) -> Batch:
        """Move every tensor to `device`."""
        return Batch(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.position_ids, self.pool_mask)))


class Tokenized:
    """Token ids of texts with an instruction prefix, EOS appended, cut to `max_tokens`."""

    def __init__(self, tokenizer, max_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self._warned_truncation = False
        self._prefix_ids: dict[str, list[int]] = {}

    def prefix_ids(self, prefix: str) -> list[int]:
        """Token ids (BOS included) of the prefix on its own."""
        if prefix not in self._prefix_ids:
            self._prefix_ids[prefix] = list(self.tokenizer(prefix)["input_ids"]) if prefix else []
        return self._prefix_ids[prefix]

    def prefix_length(self, prefix: str) -> int:
        """Number of tokens (BOS included) the prefix occupies at the start of a sequence."""
        return len(self.prefix_ids(prefix))

    def shared_prefix_ids(self, prefix: str) -> list[int]:
        """The prefix ids that every `prefix + text` starts with: all but the last, which may merge with
        the text's first characters (Gemma's "Query: " ends in a space token that becomes " Wie")."""
        return self.prefix_ids(prefix)[:-1]

    def encode(self, texts: list[str], prefix: str) -> tuple[list[list[int]], int]:
        """Ids per text (`prefix + text`, then EOS) and the prefix's token count."""
        eos = self.tokenizer.eos_token_id
        ids = self.tokenizer([prefix + t for t in texts])["input_ids"]
        budget = self.max_tokens - 1  # keep room for EOS: last-token pooling reads it
        if any(len(x) > budget for x in ids) and not self._warned_truncation:
            log.warning("some inputs exceed max_tokens=%d and are truncated", self.max_tokens)
            self._warned_truncation = True
        return [[*x[:budget], eos] for x in ids], self.prefix_length(prefix)


def pad(sequences: list[list[int]], prefix_lengths: list[int], pad_id: int, padding_side: str = "right") -> Batch:
    """Pad id lists into a Batch; position ids count real tokens so left padding changes nothing."""
    width = max(len(s) for s in sequences)
    n = len(sequences)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((n, width), dtype=torch.long)
    pool_mask = torch.zeros((n, width), dtype=torch.long)
    for row, (seq, prefix_len) in enumerate(zip(sequences, prefix_lengths, strict=True)):
        start = 0 if padding_side == "right" else width - len(seq)
        input_ids[row, start : start + len(seq)] = torch.tensor(seq)
        attention_mask[row, start : start + len(seq)] = 1
        # keep at least the EOS token so that an empty text still has something to average
        first_pooled = min(start + prefix_len, start + len(seq) - 1)
        pool_mask[row, first_pooled : start + len(seq)] = 1
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    return Batch(input_ids, attention_mask, position_ids, pool_mask)
