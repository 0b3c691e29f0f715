"""Networks (layer 2): the op registry, child networks, their cost, the data, and training."""
