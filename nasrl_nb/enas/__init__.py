"""enas."""
