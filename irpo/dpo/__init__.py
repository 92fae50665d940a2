"""DPO: winner-vs-loser pairs from reward-ranked answers, the loss, and the Ray Train trainer."""
