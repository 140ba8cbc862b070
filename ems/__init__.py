"""Emergency medical transport coordination server."""
