// The glue between a page's state and the network: each need is asked once at a time,
// what its answer makes necessary is asked in turn, and answers that land out of order
// are sorted out by the state (their tick), not by serialising the requests.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { answered, emptyTable, put, rowOf, wanted } from "../../ems/web/static/js/domain.js";
import { createStore, drawWhenChanged, follow } from "../../ems/web/static/js/store.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A toy page: it needs "a", and once "a" says so, "b".
function reduce(state, action) {
  if (action.type !== "answer") return state;
  return {
    rows: put(state.rows, { id: action.what, value: action.data }, action.asOf),
    book: answered(state.book, action.what, action.asOf),
  };
}
const needs = (state) =>
  ["a", ...(rowOf(state.rows, "a")?.value === "wants b" ? ["b"] : [])]
    .filter((k) => wanted(state.book, k))
    .map((k) => ({ key: k, what: k }));

describe("follow", () => {
  it("asks what the state lacks, once at a time, and what the answers make necessary", async () => {
    const store = createStore(reduce, { rows: emptyTable(), book: {} });
    const asked = [];
    const load = async (need, asOf) => {
      asked.push(need.key);
      await sleep(5);
      return { type: "answer", what: need.what, data: need.key === "a" ? "wants b" : "done", asOf };
    };
    const fetcher = follow(store, needs, load, { delayMs: 20 });
    fetcher.request(0);
    fetcher.request(0); // a second click while the first is on its way asks nothing more
    await fetcher.settled();
    assert.deepEqual(asked, ["a", "b"]);
    assert.equal(rowOf(store.state.rows, "b").value, "done");
  });

  it("lets overlapping answers land in any order: the later-asked one wins", async () => {
    const store = createStore(reduce, { rows: emptyTable(), book: {} });
    const first = store.tick();
    const second = store.tick();
    store.dispatch({ type: "answer", what: "a", data: "second", asOf: second });
    store.dispatch({ type: "answer", what: "a", data: "first", asOf: first });
    assert.equal(rowOf(store.state.rows, "a").value, "second");
  });
});

describe("drawWhenChanged", () => {
  it("draws only when what it reads changed, and again after reset", () => {
    let draws = 0;
    const draw = drawWhenChanged((st) => [st.x], () => (draws += 1));
    const st = { x: {} };
    draw(st);
    draw({ ...st });
    assert.equal(draws, 1);
    draw({ x: {} });
    assert.equal(draws, 2);
    draw.reset();
    draw({ x: st.x });
    assert.equal(draws, 3);
  });
});
