// Map labels that do not overlap: beside their point when free, on another side when
// not, a step further out when every side is taken, hidden when nothing is free; never
// over a marker or outside the map. Markers that cover one another are moved apart.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { mapName, placeLabels, spreadMarkers } from "../../ems/web/static/js/labels.js";

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

describe("label placement a step further out", () => {
  it("takes a spot further out when every spot beside the point is taken", () => {
    const label = { id: "a", x: 200, y: 200, w: 40, h: 14, r: 6 };
    // Boxes hugging the point on every side, with a free ring beyond them.
    const d = 6 + 4;
    const obstacles = [
      { left: 200 + d, top: 186, width: 9, height: 28 },
      { left: 200 - d - 9, top: 186, width: 9, height: 28 },
      { left: 160, top: 200 - d - 9, width: 80, height: 9 },
      { left: 160, top: 200 + d, width: 80, height: 9 },
    ];
    const out = placeLabels([label], { obstacles, bounds: { width: 800, height: 600 } });
    assert.notEqual(out.a.side, "hidden");
    const box = boxOf(label, out.a);
    for (const o of obstacles) assert.ok(!overlap(box, o));
  });
});

describe("markers moved apart", () => {
  const apart = (markers, moved) => {
    const at = markers.map((m) => ({ x: m.x + moved[m.id].dx, y: m.y + moved[m.id].dy, r: m.r }));
    for (let i = 0; i < at.length; i++)
      for (let j = i + 1; j < at.length; j++) assert.ok(Math.hypot(at[i].x - at[j].x, at[i].y - at[j].y) >= at[i].r + at[j].r, `${i} and ${j} overlap`);
  };

  it("three units parked at the town's hospital: the hospital stays, the units around it", () => {
    const markers = [
      { id: "h", x: 300, y: 200, r: 12, fixed: true },
      { id: "u1", x: 300, y: 200, r: 6 },
      { id: "u2", x: 301, y: 200, r: 6 },
      { id: "u3", x: 300, y: 201, r: 6 },
    ];
    const moved = spreadMarkers(markers);
    assert.deepEqual(moved.h, { dx: 0, dy: 0 });
    apart(markers, moved);
    // Near their point still: within a few marker widths.
    for (const id of ["u1", "u2", "u3"]) assert.ok(Math.hypot(moved[id].dx, moved[id].dy) <= 40, id);
  });

  it("incidents called in from one block fan out; a lone one stays put", () => {
    const markers = [0, 1, 2].map((n) => ({ id: `i${n}`, x: 500 + n, y: 300, r: 15 })).concat([{ id: "far", x: 50, y: 50, r: 15 }]);
    const moved = spreadMarkers(markers);
    assert.deepEqual(moved.i0, { dx: 0, dy: 0 });
    assert.deepEqual(moved.far, { dx: 0, dy: 0 });
    apart(markers, moved);
  });
});

describe("a hospital's name on the map", () => {
  it("drops the centre's designation, in both languages; short names stay whole", () => {
    assert.equal(mapName("Midori Prefectural Central Hospital, Emergency and Critical Care Center"), "Midori Prefectural Central Hospital");
    assert.equal(mapName("みどり県立中央病院 救命救急センター"), "みどり県立中央病院");
    assert.equal(mapName("Midori Red Cross Hospital"), "Midori Red Cross Hospital");
    assert.equal(mapName("日野病院"), "日野病院");
  });
});
