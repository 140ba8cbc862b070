// Boot of the server's signed-in pages (dispatcher console, ER dashboard): the user, or
// the login page when there is none; the dictionaries and the language toggle; then the
// header. A user whose role the page is not for is told so, with a link to their own
// page, and the page goes no further: no data is asked, no stream opened. The tablet
// signs in on its own page instead.
import {
  clearSession,
  el,
  fill,
  initHeader,
  initI18n,
  loadNames,
  onLangChange,
  session,
  t,
  toLogin,
} from "./common.js";
import { wrongPage } from "./roles.js";

/** The page's user, or null after sending the browser to the login page. */
export function requireSession() {
  const s = session();
  if (!s) {
    toLogin();
    return null;
  }
  return s;
}

// A promise that never settles: the page's module stops at its ``await startPage``.
const never = () => new Promise(() => {});

function refuse(s, refusal) {
  document.body.dataset.refused = "true";
  const render = () =>
    fill(
      document.getElementById("main"),
      el(
        "section",
        { class: "panel refusal", id: "role-refusal", role: "alert", "aria-labelledby": "role-refusal-title" },
        el("h2", { id: "role-refusal-title" }, t("role.wrong_page_title")),
        el("p", { id: "role-refusal-message" }, t(refusal.key, { name: s.user.display_name || s.user.username, role: t(`role.${s.user.role}`) })),
        el(
          "div",
          { class: "form-actions" },
          refusal.home
            ? el("a", { class: "btn btn-primary", id: "role-refusal-home", href: refusal.home }, t(`role.go_${refusal.home.slice(1)}`))
            : null,
          el(
            "button",
            {
              type: "button",
              class: "btn",
              id: "role-refusal-switch",
              onclick: () => {
                clearSession();
                toLogin();
              },
            },
            t("role.switch_user"),
          ),
        ),
      ),
    );
  render();
  onLangChange(render);
  // No stream is opened: the header's live indicator has nothing to say.
  for (const node of document.querySelectorAll("[data-live], .topbar-context")) node.hidden = true;
  document.body.dataset.ready = "true";
}

/** Start the page for ``s``'s role: resolves with the session when the page is theirs;
 * otherwise shows why not and never resolves. */
export async function startPage() {
  const s = requireSession();
  if (!s) return never();
  await initI18n();
  initHeader(s);
  const refusal = wrongPage(s.user.role, location.pathname.replace(/\/+$/, "") || "/");
  if (refusal) {
    refuse(s, refusal);
    return never();
  }
  await loadNames();
  return s;
}
