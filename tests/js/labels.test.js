// Map labels that do not overlap: beside their point when free, on another side when
// not, hidden when no side is free; never over a marker or outside the map.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { placeLabels } from "../../ems/web/static/js/labels.js";

const boxOf = (label, spot) => ({ left: label.x + spot.left, top: label.y + spot.top, width: label.w, height: label.h });
const overlap = (a, b) =>
  a.left < b.left + b.width && b.left < a.left + a.width && a.top < b.top + b.height && b.top < a.top + a.height;

describe("label placement", () => {
  it("a lone label sits to the right of its point", () => {
    const out = placeLabels([{ id: "a", x: 100, y: 100, w: 40, h: 14, r: 6 }]);
    assert.equal(out.a.side, "right");
    assert.deepEqual([out.a.left, out.a.top], [10, -7]);
  });

  it("three units at one station get three spots, none overlapping", () => {
    const labels = ["u1", "u2", "u3"].map((id) => ({ id, x: 200, y: 200, w: 70, h: 16, r: 6 }));
    const out = placeLabels(labels, { bounds: { width: 800, height: 600 } });
    const boxes = labels.map((l) => boxOf(l, out[l.id]));
    assert.deepEqual(labels.map((l) => out[l.id].side), ["right", "left", "above"]);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) assert.ok(!overlap(boxes[i], boxes[j]));
  });

  it("keeps clear of markers and the map's edge, and hides what has no room", () => {
    const marker = { left: 105, top: 90, width: 30, height: 30 };
    const out = placeLabels([{ id: "a", x: 100, y: 100, w: 40, h: 14, r: 2 }], { obstacles: [marker] });
    assert.notEqual(out.a.side, "right");
    assert.ok(!overlap(boxOf({ x: 100, y: 100, w: 40, h: 14 }, out.a), marker));
    const edge = placeLabels([{ id: "b", x: 795, y: 300, w: 60, h: 14 }], { bounds: { width: 800, height: 600 } });
    assert.equal(edge.b.side, "left");
    const crowded = placeLabels([{ id: "c", x: 10, y: 10, w: 300, h: 300 }], { bounds: { width: 100, height: 100 } });
    assert.equal(crowded.c.side, "hidden");
  });
});
