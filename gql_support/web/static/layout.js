// What every desk page shares: the viewer, the header (navigation, language switch, sign
// out) and the page's main landmark.
import { gql, stopLive } from "./api.js";
import { h, replace } from "./dom.js";
import { LANGUAGES, choose, followUser, language, t } from "./i18n.js";

const VIEWER = `query Viewer { viewer { id name role locale } }`;

export const isManager = (viewer) => viewer.role === "MANAGER" || viewer.role === "ADMIN";

async function signOut() {
  stopLive();
  await fetch("/session", { method: "DELETE" });
  location.assign("/sign-in");
}

function languageSwitch() {
  const select = h(
    "select",
    { id: "language", onchange: () => (choose(select.value), location.reload()) },
    Object.entries(LANGUAGES).map(([code, name]) =>
      h("option", { value: code, lang: code, selected: code === language() }, name),
    ),
  );
  return h("span", { className: "language" }, h("label", { for: "language" }, t("language")), select);
}

export function header(viewer) {
  const here = location.pathname;
  const link = (href, key) =>
    h("a", { href, "aria-current": here === href ? "page" : null }, t(key));
  return h(
    "header",
    { className: "top" },
    h("a", { href: "#main", className: "skip" }, t("skip")),
    h("strong", { className: "product" }, t("product")),
    viewer
      ? h(
          "nav",
          { "aria-label": t("product") },
          link("/", "dashboard"),
          link("/report", "report"),
          link("/graphql", "graphiql"),
        )
      : null,
    languageSwitch(),
    viewer ? h("span", { className: "who" }, t("signedInAs", { name: viewer.name })) : null,
    viewer ? h("button", { type: "button", onclick: signOut }, t("signOut")) : null,
  );
}

// Loads the viewer (sending strangers to sign in first) and lays out the page.
export async function page(titleKey, params = {}) {
  const { viewer } = await gql(VIEWER);
  followUser(viewer.locale);
  document.title = `${t(titleKey, params)} · ${t("product")}`;
  const main = h("main", { id: "main", tabindex: "-1" });
  replace(document.body, header(viewer), main);
  return { viewer, main };
}
