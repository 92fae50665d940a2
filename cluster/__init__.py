"""Ray plumbing: connecting to Ray, role resources, job submission, metrics tracking."""
