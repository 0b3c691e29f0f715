"""Search strategies (layer 4): who proposes the next architectures and learns from their rewards."""
