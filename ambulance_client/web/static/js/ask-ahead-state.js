// Ask ahead on the tablet: the early round the dispatcher sent from the 119 call while
// the unit drove, and what the crew may still say about it on scene. Pure: the page
// draws it (tablet.js), tests/js/ask-ahead-state.test.js checks it.

/** The early round of the transport's requests: its requests, the crew's word so far
 * (``null`` until confirmed or withdrawn) and whether confirm / withdraw are offered. */
export function earlyRound(requests, transport) {
  const early = (requests || []).filter((r) => r.early && (!transport || r.transport_id === transport.id));
  if (!early.length || !transport) return null;
  const outcome = early.find((r) => r.early_outcome)?.early_outcome ?? null;
  const active = transport.status === undefined || transport.status === "active";
  const awaiting = outcome === null && active;
  return {
    requests: early,
    outcome,
    accepted: early.find((r) => r.status === "accepted") || null,
    open: early.filter((r) => r.status === "sent").length,
    canConfirm: awaiting,
    // Once the unit reached a hospital, the patient is there: nothing to withdraw.
    canWithdraw: awaiting && !transport.arrived_hospital_at,
  };
}
