// The paramedic tablet and a move-up: while the dispatcher has the unit wait at another
// station (``post_station_id`` on its unit.updated event), the header says where, in
// the page's language, until the unit is posted back home; the crew is told once when
// the post moves, never when it ends because the unit was dispatched.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { initialState, postLine, postMoved, postName, postOf, reduce } from "../../ambulance_client/web/static/js/tablet-state.js";
import { at, clock, run, unit } from "./fixtures.js";

const dictionary = (lang) => JSON.parse(readFileSync(new URL(`../../ambulance_client/web/static/i18n/${lang}.json`, import.meta.url), "utf-8"));
const ja = dictionary("ja");
const en = dictionary("en");
const tr = (dict) => (key, vars = {}) => Object.entries(vars).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, String(v)), dict[key] ?? key);

// The unit of the fixtures waits at station 1 (みどり消防署); station 5 is Hamamura's.
const HAMAMURA = { post_station_id: 5, post_station_name: "浜村消防署" };
// What GET /region/names teaches the page: the English name of a unit's station.
const english = { 浜村消防署: "Hamamura Fire Station", みどり消防署: "Midori Fire Station" };
const inEnglish = (name) => english[name] || name;

/** A signed-in crew whose idle unit the page has read, then the live events ``more``. */
function crew(...more) {
  const c = clock();
  const state = run(reduce, initialState(10), c.ask("unit")(unit()), ...more.map((data) => c.event("unit.updated", unit(data))));
  return { c, state };
}

describe("the move-up post in the tablet's header", () => {
  it("is nothing while the unit waits at its own station", () => {
    assert.equal(postOf(initialState(10)), null); // nothing read yet
    assert.equal(postOf(crew().state), null);
    assert.equal(postLine(postOf(crew().state), tr(ja)), "");
    // Posted at its own station is no post at all.
    assert.equal(postOf(crew({ post_station_id: 1, post_station_name: "みどり消防署" }).state), null);
  });

  it("names the station the dispatcher moved the unit to, in Japanese and in English", () => {
    const post = postOf(crew(HAMAMURA).state);
    assert.deepEqual(post, { stationId: 5, name: "浜村消防署", at: null });
    assert.equal(postLine(post, tr(ja)), "待機場所：浜村消防署（移動配置）");
    assert.equal(postLine(post, tr(en), { station: inEnglish }), "Posted at: Hamamura Fire Station (move-up)");
    // A station the names do not know keeps the name it was sent with; no name at all: its id.
    assert.equal(postLine(post, tr(en), { station: () => "浜村消防署" }), "Posted at: 浜村消防署 (move-up)");
    assert.equal(postName({ stationId: 9, name: "" }), "#9");
  });

  it("says since when the unit is posted when the record carries the time", () => {
    const post = postOf(crew({ ...HAMAMURA, posted_at: at(12) }).state);
    assert.equal(post.at, at(12));
    const time = (iso) => (iso === at(12) ? "10:12" : "?");
    assert.equal(postLine(post, tr(ja), { time }), "待機場所：浜村消防署（移動配置） · 10:12から");
    assert.equal(postLine(post, tr(en), { station: inEnglish, time }), "Posted at: Hamamura Fire Station (move-up) · since 10:12");
  });

  it("stays through the unit's other updates and clears once the unit is posted back home", () => {
    const { c, state } = crew(HAMAMURA);
    // A position fix or any other record of the same post keeps the line.
    const moved = reduce(state, c.event("unit.updated", unit({ ...HAMAMURA, lat: 35.52, lon: 134.0 })));
    assert.equal(postOf(moved).stationId, 5);
    assert.equal(postOf(reduce(moved, c.event("unit.updated", unit({ post_station_id: null, post_station_name: "" })))), null);
    assert.equal(postOf(reduce(moved, c.event("unit.updated", unit({ post_station_id: 1, post_station_name: "みどり消防署" })))), null);
  });

  it("follows the newest record: an older answer read after the event does not bring the post back", () => {
    const c = clock();
    const asked = c.tick();
    let state = run(reduce, initialState(10), c.event("unit.updated", unit(HAMAMURA)));
    state = reduce(state, c.event("unit.updated", unit({ post_station_id: null })));
    state = reduce(state, { type: "answer", what: "unit", data: unit(HAMAMURA), asOf: asked });
    assert.equal(postOf(state), null);
    // Another unit's record is not ours.
    assert.equal(postOf(reduce(state, c.event("unit.updated", unit({ id: 11, ...HAMAMURA })))), null);
  });
});

describe("what the crew is told when the post moves", () => {
  it("a move-up, a second one and the way back home, each once", () => {
    const { c, state: home } = crew();
    const posted = reduce(home, c.event("unit.updated", unit(HAMAMURA)));
    assert.equal(postMoved(home, posted), "posted");
    assert.equal(postMoved(posted, reduce(posted, c.event("unit.updated", unit({ ...HAMAMURA, lat: 35.52 })))), null);
    const elsewhere = reduce(posted, c.event("unit.updated", unit({ post_station_id: 7, post_station_name: "岩美出張所" })));
    assert.equal(postMoved(posted, elsewhere), "posted");
    const back = reduce(elsewhere, c.event("unit.updated", unit({ post_station_id: null })));
    assert.equal(postMoved(elsewhere, back), "home");
  });

  it("nothing when the post ends because the unit is sent to a call or taken out of service", () => {
    const { c, state } = crew(HAMAMURA);
    const dispatched = reduce(state, c.event("unit.updated", unit({ status: "dispatched", current_transport_id: 100, post_station_id: null })));
    assert.equal(postOf(dispatched), null);
    assert.equal(postMoved(state, dispatched), null);
    const out = reduce(state, c.event("unit.updated", unit({ status: "out_of_service", post_station_id: null })));
    assert.equal(postMoved(state, out), null);
  });

  it("nothing for the first record the page reads: the header says it", () => {
    const c = clock();
    const before = initialState(10);
    assert.equal(postMoved(before, reduce(before, c.event("unit.updated", unit(HAMAMURA)))), null);
  });
});
