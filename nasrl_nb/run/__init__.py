"""One search run (layer 5): the loop over a strategy and an evaluator, its run folder, summary and result."""
