"""Training: the pCTR reward model, DPO, and the IRPO loop."""
