// The live board: open slips with their SLA countdown, filters, and the engineers' status and
// load. Redraws are batched to one per frame however many events arrive.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { fill, h, options } from "./dom";
import type { Engineer } from "./gen/onsite/v1/engineers_pb";
import type { Slip } from "./gen/onsite/v1/slips_pb";
import type { Ticket } from "./gen/onsite/v1/tickets_pb";
import { dateTime, label, t } from "./i18n";
import { engineerStatuses, openStates, severities, slipStates } from "./labels";
import type { BoardData } from "./store";

/** Engineers listed at once; the filter finds the others. */
const ENGINEER_ROWS = 200;
/** The height of a slip row in pixels (fixed in app.css), so that only the rows in view are drawn. */
const ROW_HEIGHT = 28;
/** Rows drawn above and below the visible ones, so that scrolling shows no gap. */
const OVERSCAN = 15;

export class BoardView {
  readonly element: HTMLElement;
  private readonly slipRows = h("tbody");
  private readonly slipScroll = h("div", { class: "scroll slip-scroll" });
  private readonly slipTable = h("table", { class: "slips" });
  private readonly slipCount = h("span", { class: "muted count", "aria-live": "polite" });
  /** The filtered, ordered slips; the table draws the part of them in view. */
  private rows: Slip[] = [];
  private readonly engineerRows = h("tbody");
  private readonly engineerCount = h("p", { class: "muted", "aria-live": "polite" });
  private readonly state = h("select", { "aria-label": t("state") });
  private readonly severity = h("select", { "aria-label": t("severity") });
  private readonly skill = h("select", { "aria-label": t("skill") });
  private readonly engineerFilter = h("input", { type: "search", placeholder: t("filterEngineers"), "aria-label": t("filterEngineers") });
  private countdowns: [HTMLElement, Ticket][] = [];
  private pending = false;
  selectedId = "";

  constructor(
    private readonly data: BoardData,
    private readonly onSelect: (slipId: string) => void,
  ) {
    fill(this.state, ...options([["", t("any")], ...openStates.map((s): [string, string] => [String(s), label(slipStates, s)])]));
    fill(this.severity, ...options([["", t("any")], ...Object.keys(severities).map((s): [string, string] => [s, label(severities, s)])]));
    for (const control of [this.state, this.severity, this.skill]) control.addEventListener("change", () => this.redraw());
    this.engineerFilter.addEventListener("input", () => this.drawEngineers());
    this.element = h(
      "section",
      { class: "board", "aria-label": t("board") },
      h(
        "div",
        { class: "panel" },
        h("h2", {}, t("openSlips"), " ", this.slipCount),
        h(
          "div",
          { class: "filters" },
          h("label", {}, `${t("state")} `, this.state),
          h("label", {}, `${t("severity")} `, this.severity),
          h("label", {}, `${t("skill")} `, this.skill),
        ),
        this.slipScroll,
      ),
      h(
        "div",
        { class: "panel" },
        h("h2", {}, t("engineers")),
        this.engineerFilter,
        this.engineerCount,
        h(
          "div",
          { class: "scroll" },
          h(
            "table",
            { class: "engineers" },
            h("thead", {}, h("tr", {}, ...["engineer", "status", "load", "skills"].map((k) => h("th", { scope: "col" }, t(k as "engineer"))))),
            this.engineerRows,
          ),
        ),
      ),
    );
    fill(
      this.slipTable,
      h("thead", {}, h("tr", {}, ...SLIP_COLUMNS.map((k) => h("th", { scope: "col", class: `col-${k}` }, t(k))))),
      this.slipRows,
    );
    fill(this.slipScroll, this.slipTable);
    this.slipScroll.addEventListener("scroll", () => this.drawWindow(), { passive: true });
    data.subscribe(() => this.redraw());
    setInterval(() => this.tick(), 1000);
  }

  /** Redraws at the next frame, once however many changes came in. */
  redraw(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.drawSkills();
      this.drawSlips();
      this.drawEngineers();
      performance.mark("onsite:board-drawn");
    });
  }

  private drawSkills(): void {
    const skills = new Set<string>();
    for (const slip of this.data.slips.values()) for (const s of slip.requiredSkills) skills.add(s);
    const chosen = this.skill.value;
    fill(this.skill, ...options([["", t("any")], ...[...skills].sort().map((s): [string, string] => [s, s])], chosen));
  }

  /** The slips the filters let through, the next SLA due first. */
  private visibleSlips(): Slip[] {
    const state = this.state.value;
    const severity = this.severity.value;
    const skill = this.skill.value;
    return [...this.data.slips.values()]
      .filter((slip) => !state || String(slip.state) === state)
      .filter((slip) => !severity || String(this.data.tickets.get(slip.ticketId)?.severity) === severity)
      .filter((slip) => !skill || slip.requiredSkills.includes(skill))
      .map((slip): [number, Slip] => [due(this.data.tickets.get(slip.ticketId)), slip])
      .sort((a, b) => a[0] - b[0])
      .map(([, slip]) => slip);
  }

  private drawSlips(): void {
    this.rows = this.visibleSlips();
    this.slipCount.textContent = `(${this.rows.length})`;
    this.slipTable.setAttribute("aria-rowcount", String(this.rows.length + 1));
    this.drawWindow();
  }

  /** Draws the rows in view, with spacers standing in for the others. */
  private drawWindow(): void {
    const first = Math.max(0, Math.floor(this.slipScroll.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const shown = Math.ceil((this.slipScroll.clientHeight || 600) / ROW_HEIGHT) + 2 * OVERSCAN;
    const last = Math.min(this.rows.length, first + shown);
    this.countdowns = [];
    const spacer = (rows: number) =>
      rows > 0 && h("tr", { class: "spacer", "aria-hidden": "true" }, h("td", { colspan: SLIP_COLUMNS.length, style: `height:${rows * ROW_HEIGHT}px` }));
    const drawn = this.rows.slice(first, last).map((slip, i) => this.slipRow(slip, first + i));
    fill(this.slipRows, spacer(first), ...drawn, spacer(this.rows.length - last));
    this.tick();
  }

  private slipRow(slip: Slip, index: number): HTMLTableRowElement {
    const ticket = this.data.tickets.get(slip.ticketId);
    const engineer = this.data.engineers.get(slip.engineerId);
    const sla = h("td", { class: "sla" });
    if (ticket) this.countdowns.push([sla, ticket]);
    const open = h("button", { class: "link", onclick: () => this.onSelect(slip.id) }, slip.ticketNumber || slip.id.slice(0, 8));
    const row = h(
      "tr",
      { "data-slip": slip.id, "aria-rowindex": index + 2, class: slip.id === this.selectedId ? "selected" : undefined },
      h("td", {}, open, slip.visitNumber > 1 ? ` #${slip.visitNumber}` : ""),
      h("td", { title: ticket?.organisation ?? "" }, ticket?.organisation ?? ""),
      h("td", {}, h("span", { class: `sev sev-${ticket?.severity ?? 0}` }, ticket ? label(severities, ticket.severity) : "")),
      h("td", {}, label(slipStates, slip.state)),
      h("td", {}, engineer ? `${engineer.name} (${engineer.employeeNumber})` : t("unassigned")),
      h("td", {}, slip.appointment?.window ? dateTime(slip.appointment.window.start) : t("none")),
      sla,
    );
    row.addEventListener("click", (e) => {
      if (e.target !== open) this.onSelect(slip.id);
    });
    return row;
  }

  /** Scrolls the table to a slip chosen elsewhere (on the map). */
  reveal(slipId: string): void {
    const index = this.rows.findIndex((slip) => slip.id === slipId);
    if (index < 0) return;
    const top = index * ROW_HEIGHT;
    const view = this.slipScroll;
    if (top < view.scrollTop || top + ROW_HEIGHT > view.scrollTop + view.clientHeight - ROW_HEIGHT) {
      view.scrollTop = Math.max(0, top - view.clientHeight / 3);
    }
    this.drawWindow();
  }

  private drawEngineers(): void {
    const needle = this.engineerFilter.value.trim().toLowerCase();
    const all = [...this.data.engineers.values()];
    const loads = new Map<string, number>();
    for (const slip of this.data.slips.values()) if (slip.engineerId) loads.set(slip.engineerId, (loads.get(slip.engineerId) ?? 0) + 1);
    const matching = needle ? all.filter((e) => matches(e, needle)) : all;
    // Plain comparisons: a locale-aware sort of ten thousand names takes a visible moment.
    matching.sort(
      (a, b) =>
        a.status - b.status ||
        (loads.get(b.id) ?? 0) - (loads.get(a.id) ?? 0) ||
        (a.employeeNumber < b.employeeNumber ? -1 : a.employeeNumber > b.employeeNumber ? 1 : 0),
    );
    const shown = matching.slice(0, ENGINEER_ROWS);
    this.engineerCount.textContent = t("showing", { shown: shown.length, total: matching.length });
    fill(
      this.engineerRows,
      ...shown.map((e) =>
        h(
          "tr",
          { "data-engineer": e.id },
          h("td", {}, `${e.name} (${e.employeeNumber})`),
          h("td", {}, h("span", { class: `status status-${e.status}` }, label(engineerStatuses, e.status))),
          h("td", {}, String(loads.get(e.id) ?? 0)),
          h("td", {}, e.skills.join(", ")),
        ),
      ),
    );
  }

  /** Counts the SLA clocks down. */
  private tick(): void {
    const now = Date.now();
    for (const [cell, ticket] of this.countdowns) {
      const clock = slaClock(ticket, now);
      cell.textContent = clock.text;
      cell.classList.toggle("breached", clock.breached);
    }
  }
}

const SLIP_COLUMNS = ["ticket", "customer", "severity", "state", "engineer", "appointment", "sla"] as const;

function matches(e: Engineer, needle: string): boolean {
  return (
    e.name.toLowerCase().includes(needle) ||
    e.employeeNumber.toLowerCase().includes(needle) ||
    e.skills.some((s) => s.toLowerCase().includes(needle))
  );
}

/** The next SLA due time of a ticket: the response until it came, then the resolution. */
function due(ticket: Ticket | undefined): number {
  const sla = ticket?.sla;
  if (!sla) return Number.MAX_SAFE_INTEGER;
  const at = sla.respondedAt ? sla.resolveBy : sla.respondBy;
  return at ? timestampDate(at).getTime() : Number.MAX_SAFE_INTEGER;
}

/** "resolve in 3h 05m", or "resolution overdue by 12m" once breached. */
export function slaClock(ticket: Ticket, now: number): { text: string; breached: boolean } {
  const sla = ticket.sla;
  if (!sla || sla.resolvedAt) return { text: t("none"), breached: false };
  const responded = Boolean(sla.respondedAt);
  const left = due(ticket) - now;
  const breached = sla.responseBreached || sla.resolutionBreached || left < 0;
  if (left < 0) return { text: `${t(responded ? "resolutionOverdue" : "responseOverdue")} ${span(-left)}`, breached };
  return { text: `${t(responded ? "resolveIn" : "respondIn")} ${span(left)}`, breached };
}

function span(ms: number): string {
  const minutes = Math.floor(ms / 60000);
  const seconds = Math.floor((ms % 60000) / 1000);
  if (minutes >= 24 * 60) return `${Math.floor(minutes / 1440)}d ${Math.floor((minutes % 1440) / 60)}h`;
  if (minutes >= 60) return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
  return `${minutes}m ${String(seconds).padStart(2, "0")}s`;
}
