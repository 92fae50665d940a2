"""Generation engines (vLLM, HF transformers) behind one interface, and the Ad-LLM prompt."""
