"""The base policy IRPO starts from: the tiny tokenizer and model, the SFT corpus and trainer, the
checks of what a base knows, and the imitation ceiling."""
