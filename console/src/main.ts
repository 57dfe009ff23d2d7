// The console's shell: sign-in, the views (board with map and dispatch panel, intake,
// schedule), the language switch and the connection state.

import { api, endSession, onSessionLost, problem, signedIn, startSession } from "./api";
import { BoardView } from "./board";
import { DispatchPanel } from "./dispatch";
import { fill, h } from "./dom";
import { currentLang, setLang, t } from "./i18n";
import { IntakeView } from "./intake";
import { MapView } from "./map";
import { ScheduleView } from "./schedule";
import { BoardData } from "./store";

const root = document.getElementById("app") as HTMLElement;

type ViewName = "board" | "intake" | "schedule";

function signInPage(notice = ""): void {
  document.title = t("title");
  const login = h("input", { type: "text", id: "login", autocomplete: "username" });
  const password = h("input", { type: "password", id: "password", autocomplete: "current-password" });
  const token = h("input", { type: "password", id: "token", autocomplete: "off" });
  const message = h("p", { class: "status-line error", role: "alert" }, notice);
  const withPassword = h(
    "form",
    { class: "signin-form", "aria-label": t("signIn") },
    h("label", { for: "login" }, t("login")),
    login,
    h("label", { for: "password" }, t("password")),
    password,
    h("button", { type: "submit", class: "primary" }, t("signIn")),
  );
  const withToken = h(
    "form",
    { class: "signin-form", "aria-label": t("orToken") },
    h("label", { for: "token" }, t("token")),
    token,
    h("button", { type: "submit" }, t("signIn")),
  );
  withPassword.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const session = await api.auth.signIn({ login: login.value, password: password.value });
      startSession(session.accessToken, session.refreshToken, session.user?.name || login.value);
      await enter();
    } catch (error) {
      message.textContent = t("signInFailed", { message: problem(error).message });
    }
  });
  withToken.addEventListener("submit", async (event) => {
    event.preventDefault();
    startSession(token.value.trim(), "", "");
    try {
      await enter();
    } catch (error) {
      endSession();
      signInPage();
      const shown = root.querySelector(".status-line");
      if (shown) shown.textContent = t("signInFailed", { message: problem(error).message });
    }
  });
  fill(
    root,
    h(
      "main",
      { class: "signin" },
      h("h1", {}, t("title")),
      languageButton(signInPage),
      withPassword,
      h("p", { class: "muted" }, t("orToken")),
      withToken,
      message,
    ),
  );
  login.focus();
}

function languageButton(redraw: () => void): HTMLButtonElement {
  return h(
    "button",
    {
      class: "lang",
      lang: currentLang() === "en" ? "zh-CN" : "en",
      onclick: () => {
        setLang(currentLang() === "en" ? "zh-CN" : "en");
        redraw();
      },
    },
    t("language"),
  );
}

let data: BoardData | null = null;

/** Loads the board (which proves the token works), then shows the console. */
async function enter(view: ViewName = "board", selected = ""): Promise<void> {
  if (!data) {
    const board = new BoardData();
    await board.start();
    data = board;
  }
  shell(data, view, selected);
}

function shell(board: BoardData, initial: ViewName, selectedAtStart: string): void {
  document.title = t("title");
  const connection = h("span", { class: "connection", role: "status", "aria-live": "polite" });
  const showConnection = () => {
    connection.textContent = t(board.connection === "live" ? "live" : board.connection === "reconnecting" ? "reconnecting" : "loading");
    connection.dataset.state = board.connection;
  };
  board.subscribe((change) => {
    if (change.kind === "connection") showConnection();
  });
  showConnection();

  let selected = selectedAtStart;
  const panel = new DispatchPanel(board);
  const select = (slipId: string) => {
    selected = slipId;
    boardView.selectedId = slipId;
    map.select(slipId);
    boardView.reveal(slipId);
    panel.show(slipId);
  };
  const boardView = new BoardView(board, select);
  const map = new MapView(board, select);
  const intake = new IntakeView(board);
  const schedule = new ScheduleView(board);
  const views: Record<ViewName, HTMLElement> = {
    board: h("div", { class: "board-layout" }, boardView.element, h("div", { class: "side" }, map.element, panel.element)),
    intake: intake.element,
    schedule: schedule.element,
  };
  const content = h("main", { id: "content" });
  const tabs = (Object.keys(views) as ViewName[]).map((name) =>
    h("button", { class: "tab", "data-view": name, onclick: () => show(name) }, t(name)),
  );
  const show = (name: ViewName) => {
    for (const tab of tabs) tab.setAttribute("aria-current", String(tab.dataset.view === name));
    fill(content, views[name]);
    if (name === "board") map.resize();
    if (name === "intake") void intake.open();
    if (name === "schedule") schedule.open(board.slips.get(selected)?.engineerId ?? "");
  };
  const signOut = async () => {
    if (signedIn()?.refresh) await api.auth.signOut({}).catch(() => undefined);
    endSession();
    board.stop();
    data = null;
    signInPage();
  };
  const user = signedIn();
  fill(
    root,
    h(
      "header",
      { class: "top" },
      h("h1", {}, t("title")),
      h("nav", { "aria-label": t("title") }, ...tabs),
      connection,
      user?.name ? h("span", { class: "muted" }, `${t("signedInAs")} ${user.name}`) : "",
      languageButton(() => {
        board.stop();
        data = null;
        void enter(initial, selected);
      }),
      h("button", { class: "signout", onclick: signOut }, t("signOut")),
    ),
    content,
  );
  show(initial);
  boardView.redraw();
  if (selected) select(selected);
}

// A revoked session, or one whose refresh token ran out, goes back to the sign-in page.
onSessionLost((reason) => {
  data?.stop();
  data = null;
  signInPage(t("sessionEnded", { message: reason }));
});

const lang = new URLSearchParams(location.search).get("lang");
if (lang === "en" || lang === "zh-CN") setLang(lang);
signInPage();
