"""JSON endpoints of dispatch."""

from __future__ import annotations

from flask import Blueprint

from ems.api import API_PREFIX

bp = Blueprint("dispatch", __name__, url_prefix=API_PREFIX)
