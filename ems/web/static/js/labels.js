// Map labels that do not overlap: each label is tried beside its point (right, left,
// above, below, then the diagonals); the first spot that overlaps no label placed before
// it (nor a marker) wins, and a label with no free spot is hidden (its marker keeps its
// tooltip). Labels are placed in the order given: most important first. Pure: boxes in
// screen pixels in, spots out; map.js measures and applies.

const GAP = 4;

/** Where a ``w``×``h`` label sits for a point at (x, y) and a marker of radius ``r``. */
function spot(side, { x, y, w, h, r }) {
  const d = r + GAP;
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
    for (const side of SIDES) {
      const { left, top } = spot(side, { ...label, r });
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
