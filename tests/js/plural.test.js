// Counts read right in both languages: English takes its singular form for one
// ("1 record waiting", not "1 records waiting") where the dictionary has one, under
// ``<key>_one``; Japanese has no plural forms and reads the same for every count.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { translate } from "../../ems/web/static/js/domain.js";

const dictionary = (tree, lang) =>
  JSON.parse(readFileSync(new URL(`../../${tree}/static/i18n/${lang}.json`, import.meta.url), "utf-8"));
const TREES = ["ems/web", "ambulance_client/web"];

describe("plural forms", () => {
  const en = dictionary("ambulance_client/web", "en");
  const ja = dictionary("ambulance_client/web", "ja");

  it("takes the English singular for one and the plural otherwise", () => {
    assert.equal(translate(en, ja, "en", "tablet.queued_records", { n: 1 }), "1 record waiting");
    assert.equal(translate(en, ja, "en", "tablet.queued_records", { n: 2 }), "2 records waiting");
    assert.equal(translate(en, ja, "en", "tablet.queued_records", { n: 0 }), "0 records waiting");
    assert.equal(translate(en, ja, "en", "tablet.wrong_pin", { n: 1 }), "Wrong PIN (1 try left)");
  });

  it("reads Japanese the same for every count", () => {
    assert.equal(translate(ja, ja, "ja", "tablet.queued_records", { n: 1 }), "記録 1 件 送信待ち");
    assert.equal(translate(ja, ja, "ja", "tablet.queued_records", { n: 3 }), "記録 3 件 送信待ち");
  });

  it("falls back to the plain key without a count, and to Japanese, then the key", () => {
    assert.equal(translate(en, ja, "en", "tablet.queued_records", {}), "{n} records waiting");
    assert.equal(translate({}, ja, "en", "tablet.queued_records", { n: 1 }), "記録 1 件 送信待ち");
    assert.equal(translate({}, {}, "en", "no.such_key", { n: 1 }), "no.such_key");
  });

  for (const tree of TREES) {
    it(`every English text with a count of one reads singular (${tree})`, () => {
      const words = dictionary(tree, "en");
      const plural = /\{n\} (beds|records|requests|hospitals|frames|digits|tries|instruction requests|new requests)\b/;
      for (const [key, text] of Object.entries(words)) {
        if (key.endsWith("_one") || !plural.test(text)) continue;
        const one = translate(words, {}, "en", key, { n: 1, about: "#1" });
        assert.ok(!plural.test(one.replace("1", "{n}")), `${key}: "${one}"`);
      }
    });
  }
});
