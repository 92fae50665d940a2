"""The simulation environment: worlds, the rule-based simulated user, the LLM judge."""
