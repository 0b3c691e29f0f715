"""Policy optimisers (layer 3): the updates that turn rewards into a better controller."""
