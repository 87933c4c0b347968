"""InfoNCE over cosine similarities with in-batch and hard negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(
    queries: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor | None,
    temperature: float,
    symmetric: bool = False,
) -> torch.Tensor:
    """Contrastive loss: query i must pick positive i among all positives and all hard negatives.

    Inputs are L2-normalised (n, d); `negatives` is (m, d) with any m (hard negatives of any example).
    The optional symmetric term also asks positive i to pick query i among all queries.
    Same maths as sentence-transformers' MultipleNegativesRankingLoss (scale = 1 / temperature).
    """
    candidates = positives if negatives is None or len(negatives) == 0 else torch.cat([positives, negatives])
    logits = queries @ candidates.T / temperature
    labels = torch.arange(len(queries), device=queries.device)
    loss = F.cross_entropy(logits, labels)
    if symmetric:
        loss = (loss + F.cross_entropy(positives @ queries.T / temperature, labels)) / 2
    return loss
