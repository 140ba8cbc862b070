// Move-up panel of the dispatcher console, the pure part: what the suggestions read as,
// and when the fleet changed enough to ask again. The server's answer is
// GET /api/v1/dispatch/move-up (docs/api.md, "Move-up").

/** A share (0…1) as a whole percentage. */
export const pct = (share) => Math.round((share ?? 0) * 100);

/** The fleet as move-up sees it: which units are idle and where each waits. Position
 * fixes (every few seconds from every unit) leave it unchanged, so they cause no
 * request; a status change or a new post does. */
export function unitsSignature(units) {
  return [...units]
    .sort((a, b) => a.id - b.id)
    .map((u) => `${u.id}:${u.status}:${u.post_station_id ?? ""}`)
    .join(",");
}

/** One line per suggestion: the unit, the station, coverage now and after the move
 * (the covered share; the expected share when the covered one does not move). */
export function suggestionRows(read) {
  if (!read || read.error || !Array.isArray(read.suggestions)) return [];
  return read.suggestions.map((s) => ({
    key: `${s.unit_id}>${s.to_station_id}`,
    unitId: s.unit_id,
    callSign: s.call_sign,
    stationId: s.to_station_id,
    stationName: s.to_station_name,
    before: pct(s.before.covered),
    after: pct(s.after.covered),
    expectedBefore: pct(s.before.expected),
    expectedAfter: pct(s.after.expected),
    coveredMoves: pct(s.after.covered) !== pct(s.before.covered),
    driveMin: s.drive_s == null ? null : Math.max(1, Math.round(s.drive_s / 60)),
  }));
}

/** The body of the apply request for one row, with the basis the list was made on. */
export function applyBody(read, row) {
  return { unit_id: row.unitId, station_id: row.stationId, basis: read.basis };
}
