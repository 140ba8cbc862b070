"""ambulance_client."""
