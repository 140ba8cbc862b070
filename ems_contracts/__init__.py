"""The formats the sides share: the relay's binary frames (``frames``) and its typed
text messages (``control``), the vitals and crew-note payloads (``vitals``), the
FDMA timeline kinds in order (``timeline``), the card's labels and PIN rules (``card``)
and every stable error code with its status and meaning (``codes``).

The server (``ems``), the relay (``hospital_gateway``) and the tablet
(``ambulance_client``) import this package; it imports no part of the system — only
the standard library and pydantic — so that each side can depend on it alone and a
format changes in one place for all of them.
"""
