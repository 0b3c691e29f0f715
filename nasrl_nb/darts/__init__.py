"""darts."""
