"""JSON endpoints of incidents."""

from __future__ import annotations

from flask import Blueprint

from ems.api import API_PREFIX

bp = Blueprint("incidents", __name__, url_prefix=API_PREFIX)
