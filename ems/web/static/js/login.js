// Sign-in: exchanges the credentials for a token and opens the page of the user's role.
import { api, applyI18n, errorText, initI18n, saveSession, t } from "./common.js";

const HOME = { dispatcher: "/dispatch", er_staff: "/er", admin: "/dispatch", paramedic: null };

await initI18n();
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.hidden = true;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    error.textContent = t("login.missing");
    error.hidden = false;
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const body = await api("/api/v1/auth/token", {
      method: "POST",
      body: { username, password },
    });
    saveSession(body.access_token, body.user);
    const next = new URLSearchParams(location.search).get("next");
    const home = HOME[body.user.role];
    if (!home) {
      error.textContent = t("login.use_tablet");
      error.hidden = false;
      return;
    }
    const allowed = next && next.startsWith("/") && !next.startsWith("//") ? next : home;
    location.replace(allowed);
  } catch (err) {
    error.textContent = err.status === 401 ? t("login.invalid") : errorText(err);
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
applyI18n();
