"""Vitals and ECG streamed from the ambulance, stored with the transport."""
