"""The simulated users of the system, and the demo that runs them: a tool around the
parts, never imported by them (STYLE.md rule 13).

Hospitals that answer acceptance requests, a dispatcher taking a region's 119 calls
and ambulances working each one to handover, all through the public API and the
relay; the ambulances drive the tablet's own code (card reader, timeline outbox,
streamer). ``python -m simulation demo`` runs the whole system with them on SQLite;
``bench/load.py`` and ``bench/faults.py`` run them under load and faults, with the
network cutter (``netcut``) and the process supervisor (``procs``) of this package.
"""
