"""The acceptance requests a crew sends to hospitals: parallel rounds, first accept wins."""
