// The map's markers and labels, kept apart. First the markers: a unit parked at a
// hospital, or incidents called in from one block, would hide one another, so each
// marker that overlaps one placed before it is moved to the nearest free spot on a ring
// around its point (hospitals stay where they are; spreadMarkers). Then the labels:
// each is tried beside its point (right, left, above, below, the diagonals, then the
// same steps further out); the first spot that overlaps no label placed before it nor
// a marker, inside the map, wins, and a label with no free spot is hidden (its marker
// keeps its tooltip). Both go in the order given: most important first. Pure: points
// and boxes in screen pixels in, offsets and spots out; map.js measures and applies.

const GAP = 4;

/** Where a ``w``×``h`` label sits for a point at (x, y) and a marker of radius ``r``,
 * ``far`` pixels further out than beside it. */
function spot(side, { x, y, w, h, r }, far = 0) {
  const d = r + GAP + far;
  switch (side) {
    case "right":
      return { left: x + d, top: y - h / 2 };
    case "left":
      return { left: x - d - w, top: y - h / 2 };
    case "above":
      return { left: x - w / 2, top: y - d - h };
    case "below":
      return { left: x - w / 2, top: y + d };
    case "above-right":
      return { left: x + d / 2, top: y - d - h };
    case "below-right":
      return { left: x + d / 2, top: y + d };
    case "above-left":
      return { left: x - d / 2 - w, top: y - d - h };
    default:
      return { left: x - d / 2 - w, top: y + d };
  }
}

export const SIDES = ["right", "left", "above", "below", "above-right", "below-right", "above-left", "below-left"];

// Steps further out, when every spot beside the point is taken (a crowded town centre).
const FAR = [10, 22];
const CANDIDATES = [[0], FAR].flat().flatMap((far) => SIDES.map((side) => [side, far]));

const overlaps = (a, b) =>
  a.left < b.left + b.width && b.left < a.left + a.width && a.top < b.top + b.height && b.top < a.top + a.height;

/** ``labels``: ``[{ id, x, y, w, h, r? }]`` (``r``: the marker's radius, 0 for a bare
 * label). ``obstacles``: boxes ``{ left, top, width, height }`` to keep clear (markers).
 * ``bounds``: ``{ width, height }`` of the map, or null. Answers ``{ id: { side, left,
 * top } | { side: "hidden" } }``; ``left``/``top`` are relative to the point. */
export function placeLabels(labels, { obstacles = [], bounds = null } = {}) {
  const taken = [...obstacles];
  const out = {};
  for (const label of labels) {
    const r = label.r ?? 0;
    let chosen = null;
    for (const [side, far] of CANDIDATES) {
      const { left, top } = spot(side, { ...label, r }, far);
      const box = { left, top, width: label.w, height: label.h };
      const inside =
        !bounds || (left >= 0 && top >= 0 && left + label.w <= bounds.width && top + label.h <= bounds.height);
      if (inside && !taken.some((b) => overlaps(box, b))) {
        chosen = { side, box };
        break;
      }
    }
    if (!chosen) {
      out[label.id] = { side: "hidden" };
      continue;
    }
    taken.push(chosen.box);
    out[label.id] = { side: chosen.side, left: chosen.box.left - label.x, top: chosen.box.top - label.y };
  }
  return out;
}

/** ``markers``: ``[{ id, x, y, r, fixed? }]`` in screen pixels, most important first.
 * Answers ``{ id: { dx, dy } }``: how far to move each so that no two overlap (``gap``
 * pixels between their edges). A fixed marker stays put; another that overlaps one
 * placed before it goes to the first free spot on rings around its point, nearest ring
 * first; with no free spot it stays put. */
export function spreadMarkers(markers, { gap = 2 } = {}) {
  const placed = [];
  const out = {};
  const clear = (x, y, r) => placed.every((p) => Math.hypot(p.x - x, p.y - y) >= p.r + r + gap);
  for (const m of markers) {
    let offset = { dx: 0, dy: 0 };
    if (!m.fixed && !clear(m.x, m.y, m.r)) {
      // Rings a marker's radius apart, six spots on the first and more on the next,
      // starting straight up and going clockwise.
      search: for (let ring = 1; ring <= 8; ring++) {
        const dist = ring * (m.r + gap);
        const spots = 6 * ring;
        for (let k = 0; k < spots; k++) {
          const a = -Math.PI / 2 + (2 * Math.PI * k) / spots;
          const dx = Math.round(dist * Math.cos(a));
          const dy = Math.round(dist * Math.sin(a));
          if (clear(m.x + dx, m.y + dy, m.r)) {
            offset = { dx, dy };
            break search;
          }
        }
      }
    }
    placed.push({ x: m.x + offset.dx, y: m.y + offset.dy, r: m.r });
    out[m.id] = offset;
  }
  return out;
}

/** A hospital's name on the map without its centre's designation: "Midori Prefectural
 * Central Hospital, Emergency and Critical Care Center" → "Midori Prefectural Central
 * Hospital", "みどり県立中央病院 救命救急センター" → "みどり県立中央病院". The tooltip
 * keeps the whole name. */
export function mapName(name) {
  // A space counts only before a Japanese word ("Red Cross" stays whole).
  return String(name ?? "").split(/,\s*|[ \u3000](?=[^ -~])/)[0];
}
