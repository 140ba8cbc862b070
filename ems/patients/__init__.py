"""Patients and their medical records: FHIR Bundles, encrypted at rest, summarised."""
