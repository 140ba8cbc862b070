"""JSON endpoints of transports."""

from __future__ import annotations

from flask import Blueprint

from ems.api import API_PREFIX

bp = Blueprint("transports", __name__, url_prefix=API_PREFIX)
