"""The search (layer 4): strategies, evaluators, the loop, its run folder and configuration."""
