"""The Ray Serve auction endpoint, payments and click ledger."""
