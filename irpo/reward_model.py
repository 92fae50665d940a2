"""The pCTR reward model (METHOD.md section 3): p_i = sigmoid(MLP([enc(x); enc(y); e_user; e_ad])).

Text embeddings come from a frozen encoder, computed once per phase outside this module; the model
learns only the ID embeddings and the MLP. Index 0 of each ID table is "unseen" (a new user or ad).
"""
from __future__ import annotations

import torch
from torch import nn


class PCTRModel(nn.Module):
    def __init__(self, text_dim: int, n_users: int, n_ads: int, user_dim: int = 64, ad_dim: int = 32,
                 hidden: tuple[int, ...] = (128, 64, 32)):
        super().__init__()
        self.users = nn.Embedding(n_users + 1, user_dim)
        self.ads = nn.Embedding(n_ads + 1, ad_dim)
        layers: list[nn.Module] = []
        width = 2 * text_dim + user_dim + ad_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, query: torch.Tensor, response: torch.Tensor, user: torch.Tensor, ad: torch.Tensor
                ) -> torch.Tensor:
        """Click logits, one per (query, response, user, ad) row."""
        features = torch.cat([query, response, self.users(user), self.ads(ad)], dim=-1)
        return self.mlp(features).squeeze(-1)

    def click_probability(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(*inputs))


def click_loss(logits: torch.Tensor, clicked: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on the simulated clicks of the ads that appear in the answer."""
    return nn.functional.binary_cross_entropy_with_logits(logits, clicked.float())
