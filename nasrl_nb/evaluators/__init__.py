"""Evaluators (layer 4): who trains the proposed architectures (here, on processes, on Ray) into records."""
