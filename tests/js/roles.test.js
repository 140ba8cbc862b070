// Each page for its role: who may open which page, what the others are told, and where
// the login may send someone back to (same-site paths of their own pages only).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { homeFor, mayOpen, safeNext, wrongPage } from "../../ems/web/static/js/roles.js";

describe("pages by role", () => {
  it("each role has its page; an admin has the console, not an ER board", () => {
    assert.equal(mayOpen("dispatcher", "/dispatch"), true);
    assert.equal(mayOpen("er_staff", "/er"), true);
    assert.equal(mayOpen("admin", "/dispatch"), true);
    assert.equal(mayOpen("admin", "/er"), false);
    assert.equal(mayOpen("er_staff", "/dispatch"), false);
    assert.equal(homeFor("paramedic"), null);
  });

  it("a user on another role's page is told why, with a link to their own", () => {
    assert.equal(wrongPage("er_staff", "/er"), null);
    assert.deepEqual(wrongPage("dispatcher", "/er"), { key: "role.not_for_dispatcher", home: "/dispatch" });
    assert.deepEqual(wrongPage("er_staff", "/dispatch"), { key: "role.not_for_er_staff", home: "/er" });
    assert.deepEqual(wrongPage("admin", "/er"), { key: "role.admin_not_here", home: "/dispatch" });
    assert.deepEqual(wrongPage("paramedic", "/dispatch"), { key: "role.use_tablet", home: null });
  });
});

describe("the MC console", () => {
  it("is the MC doctor's home, and theirs alone", () => {
    assert.equal(homeFor("mc_doctor"), "/mc");
    assert.equal(mayOpen("mc_doctor", "/mc"), true);
    for (const role of ["dispatcher", "er_staff", "admin", "paramedic"]) assert.equal(mayOpen(role, "/mc"), false, role);
    assert.equal(mayOpen("mc_doctor", "/er"), false);
    assert.equal(mayOpen("mc_doctor", "/dispatch"), false);
  });

  it("tells the other roles it is for doctors, with a link to their own page", () => {
    assert.deepEqual(wrongPage("dispatcher", "/mc"), { key: "role.mc_only", home: "/dispatch" });
    assert.deepEqual(wrongPage("er_staff", "/mc"), { key: "role.mc_only", home: "/er" });
    assert.deepEqual(wrongPage("admin", "/mc"), { key: "role.mc_only", home: "/dispatch" });
    assert.deepEqual(wrongPage("paramedic", "/mc"), { key: "role.use_tablet", home: null });
    assert.deepEqual(wrongPage("mc_doctor", "/er"), { key: "role.not_for_mc_doctor", home: "/mc" });
    assert.deepEqual(wrongPage("mc_doctor", "/dispatch"), { key: "role.not_for_mc_doctor", home: "/mc" });
  });

  it("the login sends a doctor there, and another role's ?next=/mc home", () => {
    assert.equal(safeNext(null, "mc_doctor"), "/mc");
    assert.equal(safeNext("/mc", "mc_doctor"), "/mc");
    assert.equal(safeNext("/dispatch", "mc_doctor"), "/mc");
    assert.equal(safeNext("/mc", "dispatcher"), "/dispatch");
  });
});

describe("where the login goes next", () => {
  it("back to the page that sent the user, when it is theirs", () => {
    assert.equal(safeNext("/er", "er_staff"), "/er");
    assert.equal(safeNext("/dispatch?x=1", "admin"), "/dispatch?x=1");
  });

  it("home instead of another role's page (no loop back to the page that refused)", () => {
    assert.equal(safeNext("/er", "dispatcher"), "/dispatch");
    assert.equal(safeNext(null, "er_staff"), "/er");
    assert.equal(safeNext("/login", "er_staff"), "/er");
  });

  it("never another site", () => {
    for (const next of ["https://evil.example/", "//evil.example/er", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)", "/er\n", " /er", "er"]) {
      assert.equal(safeNext(next, "er_staff"), "/er", next);
    }
    assert.equal(safeNext("//evil.example", "paramedic"), null);
  });
});
