"""The mock My Number card issuer (a stand-in for J-LIS and the municipal office): a
tool beside the server, never part of it.

It creates the CAs (``ca``), writes the cards onto SoftHSM2 tokens (``tokens``),
issues the tablets' device certificates, revokes and signs the CRLs, unlocks cards
(``service``) and seeds the demo's cards (``demo``); ``python -m card_issuer``
(``cli``) runs it. Its private material (CA keys, SO PINs, registers) stays in its
own directory; the server's PKI_DIR receives only the CA certificates and the CRLs
(``Issuer.publish``). It may import the server (to register a card with a patient),
the tablet's card reader and the contracts; nothing imports it.
"""
