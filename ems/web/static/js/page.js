// Boot of the server's signed-in pages (dispatcher console, ER dashboard): the user, or
// the login page when there is none or the role does not fit; the dictionaries and the
// language toggle; then the header. The tablet signs in on its own page instead.
import { initHeader, initI18n, session, toLogin } from "./common.js";

/** The page's user, or a redirect to the login page when there is none or the role
 * does not fit the page. */
export function requireSession(roles) {
  const s = session();
  if (!s || (roles && !roles.includes(s.user.role) && s.user.role !== "admin")) {
    toLogin();
    throw new Error("not signed in");
  }
  return s;
}

export async function startPage(roles) {
  const s = requireSession(roles);
  await initI18n();
  initHeader(s);
  return s;
}
