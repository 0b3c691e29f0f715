"""Controllers (layer 2): policies that emit an architecture decision by decision."""
