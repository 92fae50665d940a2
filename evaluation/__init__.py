"""The mechanism comparison: every mechanism on the same requests, its statistics, report, plots and
the bid-response curves; `llm-auction evaluate`, and the final stage of a training run."""
