"""JSON endpoints of fleet."""

from __future__ import annotations

from flask import Blueprint

from ems.api import API_PREFIX

bp = Blueprint("fleet", __name__, url_prefix=API_PREFIX)
