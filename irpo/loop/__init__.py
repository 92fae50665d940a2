"""The IRPO loop: the training run, the driver and its stages, the atomic run store, sampling and
the per-epoch held-out evaluation, progress and the run summary."""
