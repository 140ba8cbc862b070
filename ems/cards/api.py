"""JSON endpoints of cards."""

from __future__ import annotations

from flask import Blueprint

from ems.api import API_PREFIX

bp = Blueprint("cards", __name__, url_prefix=API_PREFIX)
