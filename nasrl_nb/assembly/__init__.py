"""Every method put together (layer 7): the configuration, the factory, the method registry, export."""
