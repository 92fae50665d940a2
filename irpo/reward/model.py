"""The pCTR reward model (METHOD.md section 3): p_i = sigmoid(MLP([enc(x); enc(y); e_user; e_ad; e_pos; e_n])).

Text embeddings come from a frozen encoder, computed once per phase outside this module; the model
learns only the ID embeddings and the MLP. Index 0 of each ID table is "unseen" (a new user or ad).
Ours, beyond the paper: small embeddings of the ad's position in the answer and of the number of ads
in it, which a mean-pooled response embedding barely carries (position effects and flooding); and
optionally cosine similarities of the ad's text with the query, the answer and the mention, the last
`similarity_dim` response features, which also enter the logit through a linear term of their own
(a wide-and-deep layout): a few thousand clicks do not teach an MLP to sum a product of embeddings
into a similarity, and relevance is what separates a click from none.
"""
from __future__ import annotations

import torch
from torch import nn

MAX_POSITION = 8  # positions and counts above this share the last bucket


class PCTRModel(nn.Module):
    def __init__(self, text_dim: int, n_users: int, n_ads: int, user_dim: int = 64, ad_dim: int = 32,
                 hidden: tuple[int, ...] = (128, 64, 32), slot_dim: int = 8, response_dim: int | None = None,
                 similarity_dim: int = 0):
        """`response_dim`: width of the response features (default `text_dim`: enc(y) alone), of which the
        last `similarity_dim` are similarities."""
        super().__init__()
        self.similarity_dim = similarity_dim
        self.wide = nn.Linear(similarity_dim, 1, bias=False) if similarity_dim else None
        self.users = nn.Embedding(n_users + 1, user_dim)
        self.ads = nn.Embedding(n_ads + 1, ad_dim)
        self.positions = nn.Embedding(MAX_POSITION + 1, slot_dim)
        self.counts = nn.Embedding(MAX_POSITION + 1, slot_dim)
        layers: list[nn.Module] = []
        width = text_dim + (response_dim or text_dim) + user_dim + ad_dim + 2 * slot_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, query: torch.Tensor, response: torch.Tensor, user: torch.Tensor, ad: torch.Tensor,
                position: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        """Click logits, one per (query, response, user, ad, position in answer, ads in answer) row."""
        features = torch.cat([query, response, self.users(user), self.ads(ad),
                              self.positions(position.clamp(max=MAX_POSITION)),
                              self.counts(count.clamp(max=MAX_POSITION))], dim=-1)
        logits = self.mlp(features).squeeze(-1)
        if self.wide is not None:
            logits = logits + self.wide(response[:, -self.similarity_dim:]).squeeze(-1)
        return logits

    def click_probability(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(*inputs))


def click_loss(logits: torch.Tensor, clicked: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on the simulated clicks of the ads that appear in the answer."""
    return nn.functional.binary_cross_entropy_with_logits(logits, clicked.float())
