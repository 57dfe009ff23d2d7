// A refused call as the dispatcher sees it: each field violation next to its field, and the
// reason with whatever is left on the form's status line.

import type { Problem } from "./api";
import { showFieldErrors } from "./dom";
import { t } from "./i18n";

/** `said` replaces the server's message when the page can say it better (a double booking). */
export function showRefusal(line: HTMLElement, p: Problem, form?: HTMLElement, said?: string): void {
  const rest = form ? showFieldErrors(form, p.fields) : p.fields;
  let text = said ?? p.message;
  if (said === undefined && rest.size > 0) text = [...rest].map(([f, d]) => `${f}: ${d}`).join("; ");
  else if (said === undefined && p.fields.size > 0) text = "";
  line.className = "status-line error";
  line.textContent = text ? `${p.reason || t("error")}: ${text}` : "";
}
