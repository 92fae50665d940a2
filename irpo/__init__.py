"""Training, by role: the base policy (`base/`), the reward model (`reward/`), DPO (`dpo/`) and the IRPO
loop (`loop/`)."""
