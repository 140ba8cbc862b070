"""Patient analysis during transport: ECG rhythm and vital-sign early warning.

Pure computation, decision support for the crew, the medical-control doctor and the
receiving ER, never a diagnosis (every result carries ``DECISION_SUPPORT``):

- ``ecg.analyze_ecg``: one window of ECG → heart rate, rhythm, shockable, confidence;
- ``stream.EcgStreamAnalyzer``: one per transport, fed the ECG records as the relay
  receives them, a result at most every few seconds of signal;
- ``vitals.news2`` / ``vitals.VitalsMonitor``: NEWS2 and the shock index of each
  reading, their trend, and an alert with a reason code when the patient deteriorates.

Import the submodules (``from ems.analysis.ecg import analyze_ecg``): this package's
``__init__`` stays empty so that the ``ems`` command does not load neurokit2 (a few
seconds) for commands that do not analyse. No I/O, no Flask, no database. The work
is CPU-bound (neurokit2, numpy): a caller on an event loop runs it in a worker
thread or process.
"""
