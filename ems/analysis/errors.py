"""The analysis' one error: input it cannot analyse (a 400 where an API passes it on)."""

from __future__ import annotations

from ems.errors import ValidationFailed


class AnalysisInputError(ValidationFailed):
    """Samples or a sample rate the analysis cannot use; ``code`` says which:
    ``bad_sample_rate``, ``bad_samples``, ``too_short``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)
