// The sign-in form: the server answers with an HttpOnly cookie, which this script never sees.
import { h, replace } from "./dom.js";
import { followUser, t } from "./i18n.js";
import { header } from "./layout.js";

// Only a path on this server: a link cannot send the user elsewhere after signing in.
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

function render() {
  document.title = `${t("signIn")} · ${t("product")}`;
  const message = h("p", { id: "sign-in-error", className: "error", role: "alert" });
  const email = h("input", {
    id: "email", name: "email", type: "email", autocomplete: "username", required: true,
  });
  const password = h("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password",
    required: true,
  });
  const form = h(
    "form",
    { className: "sign-in", "aria-describedby": "sign-in-error" },
    h("h1", {}, t("signIn")),
    h("p", {}, h("label", { for: "email" }, t("email")), email),
    h("p", {}, h("label", { for: "password" }, t("password")), password),
    message,
    h("button", { type: "submit" }, t("signIn")),
    h("a", { href: "/reset-password" }, t("forgotPassword")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: email.value, password: password.value }),
    });
    if (response.ok) {
      const { viewer } = await response.json();
      followUser(viewer.locale);
      location.assign(nextPage());
      return;
    }
    const error = (await response.json()).errors?.[0] ?? {};
    message.textContent =
      error.code === "RATE_LIMITED"
        ? t("tooManyTries", { seconds: error.retryAfter })
        : error.code === "INVALID_CREDENTIALS"
          ? t("signInFailed")
          : error.message;
    password.select();
  });
  const main = h("main", { id: "main", tabindex: "-1" }, form);
  replace(document.body, header(null), main);
  email.focus();
}

render();
