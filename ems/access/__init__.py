"""The one rule book for patient and caller data.

``policy`` answers "may this principal do this action on this object now" from
plain facts, with a stable reason code; ``facts`` loads those facts from the
database; ``guard`` is what views, the event stream, the relay and the CLI call:
it asks the policy, audits a refusal in one place and raises it. No other module
decides who may see a patient. docs/api.md shows the same rules as a table, and
tests/ems/access/test_policy.py checks it row by row.
"""
