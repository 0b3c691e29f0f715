"""ENAS (layer 6): one shared-weight supernet trained once, children scored as its subgraphs (Pham et al. 2018)."""
