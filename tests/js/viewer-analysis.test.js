// The relay viewer's patient analysis, in both languages: the rhythm line with its
// confidence and the decision-support label, alerts said from their reason, trend arrows.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { MESSAGES, alertText, partialText, rhythmText, translator, trendOf } from "../../hospital_gateway/static/viewer.js";

const en = translator({ lang: "en" });
const ja = translator({ lang: "ja" });

describe("viewer analysis", () => {
  it("says the rhythm, shockable, confidence and decision support, in ja and en", () => {
    const ecg = { rhythm: "vf", heart_rate_bpm: null, shockable: true, confidence: 0.64 };
    assert.equal(rhythmText(ecg, en), "ventricular fibrillation · shockable · confidence 64% · decision support, not a diagnosis");
    assert.equal(rhythmText(ecg, ja), "心室細動 · 電気ショック適応 · 確信度 64% · 判断支援（診断ではありません）");
    assert.ok(!rhythmText({ rhythm: "unknown", shockable: false, confidence: 0.2 }, en).includes("shockable"));
  });

  it("says each alert from its reason and values, and falls back to the relay's message", () => {
    const news2 = { reason: "news2_emergency", message: "NEWS2 8 reached…", values: { news2: 8, previous: 0, threshold: 7 } };
    assert.equal(alertText(news2, ja), "NEWS2 8：救急対応の基準（7）に達しました");
    const red = { reason: "news2_red_parameter", message: "m", values: { parameters: ["spo2", "systolic_bp"], news2: 6 } };
    assert.equal(alertText(red, en), "A single NEWS2 parameter scored 3: SpO₂, systolic BP");
    const vf = { reason: "shockable_rhythm", message: "m", values: { rhythm: "vf", confidence: 0.6 } };
    assert.equal(alertText(vf, ja), "電気ショック適応の波形：心室細動");
    assert.equal(alertText({ reason: "something_new", message: "As the relay says", values: {} }, ja), "As the relay says");
  });

  it("says when NEWS2 is a partial score, naming what the monitor could not read", () => {
    assert.equal(partialText({ news2: 1, news2_missing: ["spo2", "pulse"] }, en), "NEWS2 is partial: SpO₂, pulse not measured");
    assert.equal(partialText({ news2: 1, news2_missing: ["systolic_bp"] }, ja), "NEWS2 は一部のみ：収縮期血圧 が未測定");
    assert.equal(partialText({ news2: 3, news2_missing: [] }, en), null);
    assert.equal(partialText(null, en), null);
  });

  it("has every analysis string in both languages", () => {
    const keys = (lang) => Object.keys(MESSAGES[lang]).filter((k) => /rhythm_|alert_|decision|trend_|param_/.test(k)).sort();
    assert.deepEqual(keys("ja"), keys("en"));
    for (const rhythm of ["sinus", "af", "vt", "vf", "asystole", "unknown"]) assert.ok(MESSAGES.ja[`viewer.rhythm_${rhythm}`]);
  });

  it("counts frames in the singular for one, on its own tables and on a page's", () => {
    assert.equal(en("viewer.frames", { n: 1 }), "1 frame");
    assert.equal(en("viewer.frames", { n: 12 }), "12 frames");
    assert.equal(ja("viewer.frames", { n: 1 }), "1 フレーム");
    const page = translator({ lang: "en", t: (key, vars) => (key === "viewer.frames" ? `page ${vars.n}` : key) });
    assert.equal(page("viewer.frames", { n: 1 }), "page 1");
  });

  it("points the trend arrows past the noise only", () => {
    assert.equal(trendOf([0, 3, 8], 1), "up");
    assert.equal(trendOf([5, 4], 1), "down");
    assert.equal(trendOf([null, 0.62, 0.66], 0.1), "flat");
    assert.equal(trendOf([0.62, null, 1.17], 0.1), "up");
    assert.equal(trendOf([7], 1), "flat");
  });
});
