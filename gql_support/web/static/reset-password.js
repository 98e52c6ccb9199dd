// Password reset, the emails' link: without a token, asks for the address to send a link to;
// with one (?token=…), asks for the new password. The token leaves the address bar at once, so
// it stays out of the history and of anything shown on screen.
import { gql } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";
import { header } from "./layout.js";

const REQUEST = `mutation Request($input: RequestPasswordResetInput!) {
  requestPasswordReset(input: $input) { errors { code message retryAfter } }
}`;
const RESET = `mutation Reset($input: ResetPasswordInput!) {
  resetPassword(input: $input) { errors { code message field } }
}`;

function field(id, key, attrs) {
  const input = h("input", { id, name: id, required: true, ...attrs });
  return [input, h("p", {}, h("label", { for: id }, t(key)), input)];
}

function form(titleKey, fields, submitKey, onSubmit) {
  const message = h("p", { id: "reset-message", className: "error", role: "alert" });
  const element = h(
    "form",
    { className: "sign-in", "aria-describedby": "reset-message" },
    h("h1", {}, t(titleKey)),
    fields,
    message,
    h("button", { type: "submit" }, t(submitKey)),
  );
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = await onSubmit();
    if (error) message.textContent = error;
  });
  return element;
}

function done(main, key) {
  replace(main, h("div", { className: "sign-in", role: "status" },
    h("h1", {}, t("resetTitle")), h("p", {}, t(key)), h("a", { href: "/sign-in" }, t("signIn"))));
  main.focus();
}

function describe(error) {
  if (error.code === "RATE_LIMITED") return t("tooManyTries", { seconds: error.retryAfter });
  if (error.code === "INVALID_TOKEN") return t("resetLinkInvalid");
  return error.message;
}

function askForLink(main) {
  const [email, emailField] = field("email", "email", { type: "email", autocomplete: "username" });
  replace(main, form("forgotPassword", emailField, "sendResetLink", async () => {
    const { requestPasswordReset } = await gql(REQUEST, { input: { email: email.value } });
    const [error] = requestPasswordReset.errors;
    if (error) return describe(error);
    done(main, "resetLinkSent");
  }));
  email.focus();
}

function askForPassword(main, token) {
  const attrs = { type: "password", autocomplete: "new-password", minlength: 12 };
  const [password, passwordField] = field("new-password", "newPassword", attrs);
  const [again, againField] = field("new-password-again", "newPasswordAgain", attrs);
  replace(main, form("resetTitle", [passwordField, againField], "setPassword", async () => {
    if (password.value !== again.value) return t("passwordsDiffer");
    const { resetPassword } = await gql(RESET, {
      input: { token, newPassword: password.value },
    });
    const [error] = resetPassword.errors;
    if (!error) return done(main, "passwordChanged");
    if (error.code === "INVALID_TOKEN") {
      replace(main, h("div", { className: "sign-in", role: "alert" },
        h("h1", {}, t("resetTitle")), h("p", {}, describe(error)),
        h("a", { href: location.pathname }, t("sendResetLink"))));
      return null;
    }
    password.select();
    return describe(error);
  }));
  password.focus();
}

const token = new URLSearchParams(location.search).get("token");
if (token) history.replaceState(null, "", location.pathname);
document.title = `${t("resetTitle")} · ${t("product")}`;
const main = h("main", { id: "main", tabindex: "-1" });
replace(document.body, header(null), main);
if (token) askForPassword(main, token);
else askForLink(main);
