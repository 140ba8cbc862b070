// Sign-in: exchanges the credentials for a token and opens the page of the user's role
// (or the page that sent them here, when it is one of ours and theirs: roles.js).
import { api, applyI18n, errorText, initI18n, onSubmit, saveSession, t } from "./common.js";
import { safeNext } from "./roles.js";

await initI18n();
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

function say(message, field) {
  error.textContent = message;
  error.hidden = false;
  for (const input of form.querySelectorAll("input")) input.removeAttribute("aria-invalid");
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

onSubmit(form, async () => {
  error.hidden = true;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    say(t("login.missing"), !username ? form.username : form.password);
    return;
  }
  try {
    const body = await api("/api/v1/auth/token", {
      method: "POST",
      body: { username, password },
    });
    const target = safeNext(new URLSearchParams(location.search).get("next"), body.user.role);
    if (!target) {
      say(t("login.use_tablet"));
      return;
    }
    saveSession(body.access_token, body.user);
    location.replace(target);
  } catch (err) {
    say(err.status === 401 ? t("login.invalid") : errorText(err));
  }
});
applyI18n();
