// ESLint over the pages' own JavaScript (`npx --no-install eslint …`, run by `make check`):
// the server's pages, the tablet's page, the relay's viewer and the unit tests of the
// pages' state modules. Vendored and generated files, and the tablet's copies of the
// shared modules (linted at their source), are left out.
import js from "@eslint/js";
import globals from "globals";

const PAGES = ["ems/web/static/js/**/*.js", "ambulance_client/web/static/js/**/*.js", "hospital_gateway/static/**/*.js"];
// Pure: an event or an answer in, the new state out. They run in Node too (tests/js),
// so they may use neither the browser's globals nor Node's.
const PURE = ["**/*-state.js", "ems/web/static/js/domain.js"];

export default [
  {
    ignores: [
      "node_modules/**",
      "ems/web/static/vendor/**",
      "ems/web/static/js/generated/**",
      "ambulance_client/web/static/js/shared/**",
    ],
  },
  js.configs.recommended,
  {
    files: PAGES,
    ignores: PURE,
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: { ...globals.browser } },
  },
  {
    files: PURE,
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: {} },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: { ...globals.node } },
  },
];
