"""Patient analysis of each stream as it arrives, in a worker, never on the event loop.

The relay that holds a transport's publisher hands each newly stored ECG and vitals
record to ``StreamAnalysis.offer`` (on the loop: it only queues). Per transport one
job at a time runs in a small thread pool: it feeds the waiting ECG to the
transport's ``ems.analysis.stream.EcgStreamAnalyzer`` and the waiting readings to its
``ems.analysis.vitals.VitalsMonitor`` and turns what comes out into a
``control.Analysis`` message, which ``on_result`` gets back on the loop (the relay
sends it to the viewers and to the tablet). Decision support, never a diagnosis.

Bounded: while a transport's job runs, its ECG waits in windows of ``every_s``
seconds, at most enough of them to fill one analysis window (``window_s``). When
analysis falls behind, a new window pushes the oldest out: its samples are dropped
(counted, ``on_drop("ecg")``) and the analyser starts its window afresh, so that
no analysis ever runs across a gap. Readings wait in a queue of their own, as many
as a trend holds (``TREND_READINGS``); an older one is dropped the same way. A
transport quiet for ``idle_s`` is forgotten.

Why threads and not processes: the heavy parts (neurokit2's filters and peak
detection, scipy's Welch spectrum, numpy) release the GIL, one analysis takes a few
milliseconds every two seconds of a stream, and the state of each transport (its
rolling window, its trend) stays in this process instead of crossing a pipe on every
record. Two worker threads keep at most two analyses competing with the loop.

neurokit2 is imported in a thread at start (it takes seconds); without it the relay
streams as before and analyses nothing (logged once).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ems.vitals.service import EcgRecord, Record, VitalsRecord
from ems_contracts import control

if TYPE_CHECKING:
    from ems.analysis.ecg import EcgResult
    from ems.analysis.stream import EcgStreamAnalyzer
    from ems.analysis.vitals import VitalsAssessment, VitalsMonitor

log = logging.getLogger("hospital_gateway.analysis")

WINDOW_S = 10.0
EVERY_S = 2.0
TREND_READINGS = 5  # as ems.analysis.vitals.TREND_READINGS (not imported: neurokit2)
IDLE_S = 600.0

Result = Callable[[int, control.Analysis], None]
Drop = Callable[[str], None]


# --- what waits for the worker (touched on the loop only) -----------------------------


@dataclass
class Window:
    sample_rate_hz: int
    samples_uv: list[int] = field(default_factory=list)
    last_seq: int = 0
    last_at: dt.datetime | None = None


@dataclass
class Job:
    """One transport's ECG and readings for one run of the worker."""

    windows: list[Window]
    readings: list[VitalsRecord]
    # Samples were dropped before these: the analyser starts its window afresh.
    gap: bool = False


@dataclass
class _Pending:
    windows: deque[Window] = field(default_factory=deque)
    readings: deque[VitalsRecord] = field(default_factory=deque)
    gap: bool = False
    running: bool = False
    last_offer: float = field(default_factory=time.monotonic)

    def take(self) -> Job:
        job = Job(list(self.windows), list(self.readings), self.gap)
        self.windows.clear()
        self.readings.clear()
        self.gap = False
        return job

    def __bool__(self) -> bool:
        return bool(self.windows or self.readings)


# --- one transport's analysers (touched in one worker job at a time) ------------------


class TransportAnalysis:
    """The analysers of one transport and what it said last; pure, no I/O.

    Beside the readings' own alerts (NEWS2 and shock-index crossings), it raises
    ``shockable_rhythm`` when the rhythm becomes shockable after a rhythm that was
    not (an ``unknown`` window in between changes nothing), once per episode.
    """

    def __init__(self, transport_id: int, *, window_s: float, every_s: float) -> None:
        from ems.analysis.stream import EcgStreamAnalyzer
        from ems.analysis.vitals import VitalsMonitor

        self.transport_id = transport_id
        self._window_s = window_s
        self._every_s = every_s
        self._new_ecg: Callable[[], EcgStreamAnalyzer] = lambda: EcgStreamAnalyzer(
            window_s=window_s, every_s=every_s
        )
        self.ecg = self._new_ecg()
        self.vitals: VitalsMonitor = VitalsMonitor()
        self.last_ecg: control.EcgAnalysis | None = None
        self.last_vitals: control.VitalsAnalysis | None = None
        self._shockable: bool | None = None

    def run(self, job: Job) -> control.Analysis | None:
        """Feed one job; the message to send, or None when nothing new came out."""
        if job.gap:
            self.ecg = self._new_ecg()
        alerts: list[control.AnalysisAlert] = []
        at: dt.datetime | None = None
        new = False
        result = self._feed_ecg(job.windows)
        if result is not None:
            new = True
            alerts += self._rhythm_alerts(result)
            self.last_ecg = _ecg_part(result)
        for reading in job.readings:
            assessment = self.vitals.feed(reading.values)
            new = True
            alerts += [_alert(a.reason, a.message, a.values) for a in assessment.alerts]
            self.last_vitals = _vitals_part(assessment)
            at = _later(at, reading.measured_at)
        for window in job.windows:
            at = _later(at, window.last_at)
        if not new or at is None:
            return None
        return control.Analysis(
            transport_id=self.transport_id,
            at=at,
            ecg=self.last_ecg,
            vitals=self.last_vitals,
            alerts=alerts,
        )

    def _feed_ecg(self, windows: Sequence[Window]) -> EcgResult | None:
        from ems.analysis.errors import AnalysisInputError

        result = None
        # Contiguous windows of one rate go in as one record: one analysis at most.
        runs: list[Window] = []
        for w in windows:
            if runs and runs[-1].sample_rate_hz == w.sample_rate_hz:
                runs[-1] = Window(w.sample_rate_hz, runs[-1].samples_uv + w.samples_uv, w.last_seq)
            else:
                runs.append(Window(w.sample_rate_hz, list(w.samples_uv), w.last_seq))
        for run in runs:
            try:
                fed = self.ecg.feed(run.samples_uv, sample_rate_hz=run.sample_rate_hz)
            except AnalysisInputError as exc:
                log.info(
                    "ECG not analysable",
                    extra={"transport_id": self.transport_id, "code": exc.code},
                )
                continue
            result = fed or result
        return result

    def _rhythm_alerts(self, result: EcgResult) -> list[control.AnalysisAlert]:
        if result.rhythm.value == "unknown":
            return []
        before, self._shockable = self._shockable, result.shockable
        if not result.shockable or before:
            return []
        name = result.rhythm.value
        return [
            _alert(
                "shockable_rhythm",
                f"shockable rhythm: {name.upper()} (confidence {result.confidence:.2f})",
                {"rhythm": name, "confidence": round(result.confidence, 2)},
            )
        ]


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    return a if b is None or a >= b else b


def _ecg_part(result: EcgResult) -> control.EcgAnalysis:
    summary = result.summary()
    return control.EcgAnalysis(
        rhythm=summary["rhythm"],
        heart_rate_bpm=summary["heart_rate_bpm"],
        shockable=summary["shockable"],
        confidence=float(summary["confidence"]),
    )


def _vitals_part(assessment: VitalsAssessment) -> control.VitalsAnalysis:
    d = assessment.as_dict()
    return control.VitalsAnalysis(
        news2=d["news2"],
        news2_trend=d["news2_trend"],
        news2_missing=d["news2_missing"],
        shock_index=d["shock_index"],
        shock_index_trend=d["shock_index_trend"],
    )


def _alert(reason: str, message: str, values: dict[str, Any]) -> control.AnalysisAlert:
    return control.AnalysisAlert(reason=reason, message=message, values=_json(values))


def _json(value: Any) -> Any:
    """Plain JSON values (numpy scalars and tuples out), NaN as null."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # a numpy scalar
        return _json(value.item())
    return str(value)


# --- the shell: queues on the loop, jobs in the pool ----------------------------------


class StreamAnalysis:
    """The relay's analysis of every stream it publishes; see the module docstring."""

    def __init__(
        self,
        *,
        on_result: Result,
        on_drop: Drop = lambda _kind: None,
        workers: int = 2,
        window_s: float = WINDOW_S,
        every_s: float = EVERY_S,
        idle_s: float = IDLE_S,
        enabled: bool = True,
    ) -> None:
        self.on_result = on_result
        self.on_drop = on_drop
        self.window_s = window_s
        self.every_s = every_s
        self.idle_s = idle_s
        self.max_windows = max(1, math.ceil(window_s / every_s))
        self.max_readings = TREND_READINGS
        self.enabled = enabled
        # None while neurokit2 loads, then whether it did.
        self.available: bool | None = None
        self.dropped = {"ecg": 0, "vitals": 0}
        self.analysed = 0
        self._workers = workers
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._ready: asyncio.Future[bool] | None = None
        self._pending: dict[int, _Pending] = {}
        self._states: dict[int, TransportAnalysis] = {}

    def start(self) -> None:
        """Start the workers and load neurokit2 (seconds) in a thread of its own."""
        if not self.enabled:
            return
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._workers, thread_name_prefix="analysis"
        )
        loop = asyncio.get_running_loop()
        self._ready = ready = loop.create_future()
        ready.add_done_callback(self._loaded)

        def load() -> None:
            ok = _load()

            def settle() -> None:
                if not ready.done():
                    ready.set_result(ok)

            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle)

        # A daemon thread, not the pool: an import cannot be cancelled, and a relay
        # told to stop while neurokit2 still loads must not wait for it.
        threading.Thread(target=load, name="analysis-load", daemon=True).start()

    def _loaded(self, ready: asyncio.Future[bool]) -> None:
        self.available = not ready.cancelled() and ready.result()
        if not self.available:
            self._pending.clear()
            return
        # Records that came while neurokit2 loaded (bounded as ever) go now.
        for tid in list(self._pending):
            self._schedule(tid)

    async def ready(self) -> bool:
        """Whether analysis runs (neurokit2 loaded); waits for the load."""
        if self._ready is None:
            return False
        await asyncio.wait([self._ready])
        return bool(self.available)

    async def close(self) -> None:
        """Stop: running analyses (milliseconds) finish, waiting ones are dropped."""
        if self._ready is not None and not self._ready.done():
            self._ready.cancel()
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: pool.shutdown(wait=True, cancel_futures=True)
            )

    def offer(self, transport_id: int, record: Record) -> None:
        """Queue one stored record for analysis (on the loop; never waits)."""
        if self._pool is None or not isinstance(record, EcgRecord | VitalsRecord):
            return
        if self._ready is None or self.available is False:
            return
        pending = self._pending.setdefault(transport_id, _Pending())
        pending.last_offer = time.monotonic()
        if isinstance(record, VitalsRecord):
            pending.readings.append(record)
            if len(pending.readings) > self.max_readings:
                pending.readings.popleft()
                self._drop("vitals")
        else:
            self._queue_ecg(pending, record)
        self._schedule(transport_id)

    def _queue_ecg(self, pending: _Pending, record: EcgRecord) -> None:
        rate = record.sample_rate_hz
        last = pending.windows[-1] if pending.windows else None
        full = last is not None and len(last.samples_uv) >= self.every_s * rate
        if last is None or last.sample_rate_hz != rate or full:
            last = Window(rate)
            pending.windows.append(last)
            if len(pending.windows) > self.max_windows:
                pending.windows.popleft()
                pending.gap = True
                self._drop("ecg")
        last.samples_uv.extend(record.samples_uv)
        last.last_seq = record.seq
        last.last_at = record.started_at

    def _drop(self, kind: str) -> None:
        self.dropped[kind] += 1
        self.on_drop(kind)

    def _schedule(self, transport_id: int) -> None:
        pending = self._pending.get(transport_id)
        if pending is None or pending.running or not pending or self._pool is None:
            return
        if not self.available:
            return  # still loading neurokit2: ``_loaded`` schedules what waits
        pending.running = True
        job = pending.take()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._run, transport_id, job)
        future.add_done_callback(lambda f: self._done(transport_id, f))

    def _run(self, transport_id: int, job: Job) -> control.Analysis | None:
        """In a worker thread: this transport's analysers, one job at a time."""
        state = self._states.get(transport_id)
        if state is None:
            state = TransportAnalysis(transport_id, window_s=self.window_s, every_s=self.every_s)
            self._states[transport_id] = state
        return state.run(job)

    def _done(self, transport_id: int, future: asyncio.Future[control.Analysis | None]) -> None:
        pending = self._pending.get(transport_id)
        if pending is not None:
            pending.running = False
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.error(
                "analysis failed",
                extra={"transport_id": transport_id},
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        else:
            message = future.result()
            if message is not None:
                self.analysed += 1
                self.on_result(transport_id, message)
        self._schedule(transport_id)

    def forget_idle(self) -> None:
        """Forget the transports that sent nothing for ``idle_s`` (none running)."""
        now = time.monotonic()
        for tid, pending in list(self._pending.items()):
            if not pending.running and not pending and now - pending.last_offer >= self.idle_s:
                del self._pending[tid]
                self._states.pop(tid, None)


def _load() -> bool:
    try:
        import ems.analysis.stream
        import ems.analysis.vitals  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install: stream without analysis
        log.warning(
            "patient analysis off: neurokit2 is not installed (pip install '.[relay]')",
            extra={"error": str(exc)},
        )
        return False
    return True
