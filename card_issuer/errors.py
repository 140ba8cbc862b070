"""The issuer's one exception: a refusal with a stable ``code``, printed by the CLI as
``code: detail``. (What it calls in ``ems`` raises ``ems.errors.EmsError``.)"""

from __future__ import annotations


class IssuerError(Exception):
    def __init__(self, detail: str, *, code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
