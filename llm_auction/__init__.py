"""The composition root: the `llm-auction` CLI and the experiment config."""
