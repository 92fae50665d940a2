"""The reward model: click rows from judged answers, the pCTR network, its Ray Train fit, and the
fitted model seen as a click model."""
