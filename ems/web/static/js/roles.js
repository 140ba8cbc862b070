// Which signed-in page is whose: the server's pages by role, where a user of each role
// starts, and where the login page may send someone back to. Pure (no DOM, no
// storage): page.js and login.js ask it; tests/js/roles.test.js keeps it honest.

/** The server's pages and the roles each is for. An admin has the dispatcher console
 * (every role check passes for them there); the ER board is one hospital's, and an
 * admin has none; the MC console is the medical-control doctor's alone (an admin may
 * not give a doctor's instruction). */
export const PAGE_ROLES = {
  "/dispatch": ["dispatcher", "admin"],
  "/er": ["er_staff"],
  "/mc": ["mc_doctor"],
};

/** Where a user of ``role`` starts; null for a paramedic, who signs in on the tablet. */
export function homeFor(role) {
  if (role === "er_staff") return "/er";
  if (role === "mc_doctor") return "/mc";
  if (role === "dispatcher" || role === "admin") return "/dispatch";
  return null;
}

/** Whether ``role`` may use the page at ``path``. */
export function mayOpen(role, path) {
  const roles = PAGE_ROLES[path];
  return Boolean(roles && roles.includes(role));
}

/** What a user of ``role`` on the page at ``path`` is told: null when the page is
 * theirs, else ``{ key, home }`` (the message's i18n key, and the page to go to or null). */
export function wrongPage(role, path) {
  if (mayOpen(role, path)) return null;
  const home = homeFor(role);
  if (!home) return { key: "role.use_tablet", home: null };
  // The MC console is refused in its own words: it is for doctors, whoever asks.
  if (path === "/mc") return { key: "role.mc_only", home };
  if (role === "admin") return { key: "role.admin_not_here", home };
  return { key: `role.not_for_${role}`, home };
}

/** The page the login may send a user of ``role`` to: ``next`` when it is one of our
 * own pages (a same-site path, never another origin, ``//host`` or ``/\host`` included)
 * and theirs, else their home page (null: none). */
export function safeNext(next, role) {
  const home = homeFor(role);
  if (typeof next !== "string" || !/^\/(?![/\\])[^\s\\]*$/.test(next)) return home;
  let url;
  try {
    url = new URL(next, "http://ems.invalid");
  } catch {
    return home;
  }
  if (url.origin !== "http://ems.invalid") return home;
  return mayOpen(role, url.pathname) ? `${url.pathname}${url.search}${url.hash}` : home;
}
