"""Simulated users that drive the running system through its public API and relay:
hospitals that answer acceptance requests, ambulances that work incidents end to
end, and the incident stream of a region. ``ems demo`` runs them against the
embedded system; ``bench/load.py`` and ``bench/faults.py`` run them under load."""
