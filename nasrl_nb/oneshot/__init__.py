"""One-shot NAS: shared-weight supernets trained once, children scored as their subgraphs (ENAS, DARTS)."""
