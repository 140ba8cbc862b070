"""hospital_gateway."""
