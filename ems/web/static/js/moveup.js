// Move-up panel of the dispatcher console: idle units to move into coverage gaps, each
// with the coverage it gains, applied in one tap (POST /api/v1/dispatch/move-up). It asks
// again whenever an idle unit or its post changes (moveup-state.js says when).
import { api, callSign, el, errorText, fill, once, onLangChange, stationName, t, toast } from "./common.js";
import { rowsOf } from "./domain.js";
import { applyBody, pct, suggestionRows, unitsSignature } from "./moveup-state.js";

/** Draw the panel into ``node`` and keep it current with the console's ``store``. */
export function startMoveUp({ store, node }) {
  let read = null;
  let signature = null;
  let timer = null;

  // A station in the current language: a unit of that station knows its English name.
  const station = (name) => {
    const unit = rowsOf(store.state.units).find((u) => u.station_name === name);
    return unit ? stationName(unit) : name;
  };

  async function refresh() {
    try {
      read = await api("/api/v1/dispatch/move-up");
    } catch (error) {
      read = { error };
    }
    draw();
  }

  function apply(row, button) {
    return once(button, async () => {
      try {
        await api("/api/v1/dispatch/move-up", { method: "POST", body: applyBody(read, row) });
        toast(t("moveup.applied", { unit: callSign(row.callSign), station: station(row.stationName) }));
      } catch (e) {
        toast(t("common.about", { about: callSign(row.callSign), message: errorText(e) }), "error");
      }
      await refresh(); // applied or stale: the list is made again on today's fleet
    });
  }

  function draw() {
    const rows = suggestionRows(read);
    node.hidden = !read || Boolean(read.error);
    if (node.hidden) return;
    const head = el(
      "p",
      { class: "moveup-head small" },
      el("strong", {}, t("moveup.title")),
      " ",
      el(
        "span",
        { class: "muted", title: t("moveup.hint", { min: Math.round(read.threshold_s / 60) }) },
        rows.length ? t("moveup.now", { covered: pct(read.coverage.covered) }) : t("moveup.none", { covered: pct(read.coverage.covered) }),
        read.source === "straight_line" ? ` · ${t("moveup.straight_line")}` : "",
      ),
    );
    const items = rows.map((row) =>
      el(
        "li",
        { class: "moveup-row", "data-unit": String(row.unitId), "data-station": String(row.stationId) },
        el(
          "span",
          { class: "moveup-text" },
          t(row.coveredMoves ? "moveup.suggestion" : "moveup.suggestion_expected", {
            unit: callSign(row.callSign),
            station: station(row.stationName),
            before: row.coveredMoves ? row.before : row.expectedBefore,
            after: row.coveredMoves ? row.after : row.expectedAfter,
          }),
        ),
        el(
          "button",
          {
            type: "button",
            class: "btn btn-small btn-primary moveup-apply",
            onclick: (ev) => apply(row, ev.currentTarget),
          },
          t("moveup.apply"),
        ),
      ),
    );
    fill(node, head, items.length ? el("ul", { class: "moveup-list" }, ...items) : null);
  }

  store.subscribe((state) => {
    const next = unitsSignature(rowsOf(state.units));
    if (next === signature) return;
    signature = next;
    clearTimeout(timer);
    timer = setTimeout(refresh, 300); // a burst of unit events asks once
  });
  onLangChange(draw);
}
