// The selected slip: its details, the suggested engineers with why the nearest others were
// left out, assignment, and booking or rescheduling the window agreed with the customer.

import { type Duration, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { api, type Problem, problem, requestId } from "./api";
import { field, fill, h } from "./dom";
import type { SuggestEngineersResponse } from "./gen/onsite/v1/dispatch_pb";
import { type Slip, SlipState } from "./gen/onsite/v1/slips_pb";
import { dateTime, fromWall, label, t, toWall, wall } from "./i18n";
import { exclusionReasons, severities, slipStates } from "./labels";
import { showRefusal } from "./refusal";
import { slaClock } from "./board";
import type { BoardData } from "./store";

/** States from which a slip may be sent to an engineer (again). */
const DISPATCHABLE = [SlipState.VERIFIED, SlipState.DECLINED, SlipState.DISPATCHED, SlipState.CONFIRMED, SlipState.SCHEDULED];

export class DispatchPanel {
  readonly element = h("section", { class: "panel dispatch", "aria-label": t("selected"), "aria-live": "polite" });
  private slipId = "";
  /** The state and engineer the actions were drawn for. */
  private drawnFor = "";
  private readonly status = h("p", { class: "status-line", role: "status" });

  constructor(private readonly data: BoardData) {
    this.showEmpty();
    data.subscribe((change) => {
      if (change.kind !== "slip" || change.id !== this.slipId) return;
      // A change elsewhere (the engineer, another dispatcher): new actions when the state or
      // the engineer changed, else only the details, so that a form being filled stays.
      const slip = this.slip();
      if (slip && actionsKey(slip) !== this.drawnFor) this.render();
      else this.refreshHeader();
    });
  }

  private showEmpty(): void {
    fill(this.element, h("h2", {}, t("selected")), h("p", { class: "muted" }, t("noSelection")));
  }

  show(slipId: string): void {
    this.slipId = slipId;
    this.status.textContent = "";
    this.render();
  }

  private slip(): Slip | undefined {
    return this.data.slips.get(this.slipId);
  }

  private header(slip: Slip): HTMLElement {
    const ticket = this.data.tickets.get(slip.ticketId);
    const engineer = this.data.engineers.get(slip.engineerId);
    const rows: [string, string][] = [
      [t("customer"), ticket?.organisation ?? ""],
      [t("severity"), ticket ? label(severities, ticket.severity) : ""],
      [t("state"), label(slipStates, slip.state)],
      [t("engineer"), engineer ? `${engineer.name} (${engineer.employeeNumber})` : t("unassigned")],
      [t("appointment"), slip.appointment?.window ? `${dateTime(slip.appointment.window.start)}–${dateTime(slip.appointment.window.end)}` : t("none")],
      [t("sla"), ticket ? slaClock(ticket, Date.now()).text : ""],
      [t("skills"), slip.requiredSkills.join(", ")],
      [t("contactName"), ticket ? `${ticket.contactName} ${ticket.contactPhone}` : ""],
      [t("instructions"), slip.instructions],
    ];
    return h(
      "div",
      { class: "slip-header" },
      h("h2", {}, `${t("selected")}: ${slip.ticketNumber}`, ticket ? h("span", { class: "muted" }, ` ${ticket.title}`) : ""),
      h("dl", {}, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    );
  }

  private refreshHeader(): void {
    const slip = this.slip();
    const current = this.element.querySelector(".slip-header");
    if (!slip) {
      this.showEmpty();
      return;
    }
    if (current) current.replaceWith(this.header(slip));
  }

  private render(): void {
    const slip = this.slip();
    if (!slip) return this.showEmpty();
    this.drawnFor = actionsKey(slip);
    const parts: HTMLElement[] = [this.header(slip), this.status];
    if (slip.state === SlipState.DRAFT) {
      parts.push(h("button", { class: "primary", onclick: () => this.run(() => api.slips.verifySlip({ requestId: requestId(), slipId: slip.id, etag: slip.etag }), t("slipVerified")) }, t("verify")));
    }
    if (DISPATCHABLE.includes(slip.state)) parts.push(this.suggestions(slip));
    if (slip.state === SlipState.CONFIRMED || slip.state === SlipState.SCHEDULED) parts.push(this.bookingForm(slip));
    fill(this.element, ...parts);
  }

  /** Runs a change, shows the slip it returns at once, and says what happened. */
  private async run(call: () => Promise<Slip>, done: string, form?: HTMLElement): Promise<void> {
    try {
      const slip = await call();
      this.data.put(slip);
      this.status.className = "status-line ok";
      this.status.textContent = done;
      this.render();
    } catch (error) {
      this.showProblem(problem(error), form);
    }
  }

  private showProblem(p: Problem, form?: HTMLElement): void {
    let said: string | undefined;
    if (p.reason === "DOUBLE_BOOKED") {
      const engineer = this.data.engineers.get(this.slip()?.engineerId ?? "");
      const at = (key: string) => (p.metadata[key] ? dateTime(new Date(p.metadata[key])) : "");
      said = t("doubleBooked", {
        engineer: engineer?.name ?? "",
        ticket: p.metadata.conflicting_ticket_number ?? "",
        start: at("conflicting_start"),
        end: at("conflicting_end"),
      });
    }
    showRefusal(this.status, p, form, said);
  }

  private suggestions(slip: Slip): HTMLElement {
    const box = h("div", { class: "suggestions" }, h("h3", {}, t("suggestions")), h("p", { class: "muted" }, t("loading")));
    void api.dispatch
      .suggestEngineers({ slipId: slip.id, limit: 5 })
      .then((r) => fill(box, h("h3", {}, t("suggestions")), ...this.suggestionTables(slip, r)))
      .catch((error) => this.showProblem(problem(error)));
    const auto = h(
      "button",
      { onclick: () => this.run(() => api.dispatch.autoAssign({ requestId: requestId(), slipId: slip.id, etag: slip.etag }), t("done")) },
      t("autoAssign"),
    );
    return h("div", {}, box, h("div", { class: "actions" }, auto, this.assignAnyone(slip)));
  }

  /** The dispatcher may send someone the suggestions left out, knowing why. */
  private assignAnyone(slip: Slip): HTMLElement {
    const names = new Map([...this.data.engineers.values()].map((e) => [`${e.name} (${e.employeeNumber})`, e.id]));
    const list = h("datalist", { id: "assign-list" }, ...[...names.keys()].map((name) => h("option", { value: name })));
    const who = h("input", { type: "text", list: "assign-list" });
    const form = h("form", { class: "assign-other" }, field(t("assignOther"), who, "engineer_id"), list, h("button", { type: "submit" }, t("assign")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.run(
        () => api.slips.dispatchSlip({ requestId: requestId(), slipId: slip.id, etag: slip.etag, engineerId: names.get(who.value.trim()) ?? who.value.trim() }),
        t("assigned", { engineer: who.value }),
        form,
      );
    });
    return form;
  }

  private suggestionTables(slip: Slip, r: SuggestEngineersResponse): HTMLElement[] {
    const radius = Math.round(r.searchRadiusKm);
    const found = r.suggestions.map((s) => {
      const engineer = s.engineer;
      const name = engineer ? `${engineer.name} (${engineer.employeeNumber})` : "";
      const assign = () =>
        this.run(
          () => api.slips.dispatchSlip({ requestId: requestId(), slipId: slip.id, etag: slip.etag, engineerId: engineer?.id ?? "" }),
          t("assigned", { engineer: name }),
        );
      return h(
        "tr",
        {},
        h("td", {}, name),
        h("td", {}, `${s.distanceKm.toFixed(1)} ${t("km")}`),
        h("td", {}, `~${minutes(s.travelEstimate)} ${t("min")}`),
        h("td", {}, String(s.currentLoad)),
        h("td", {}, h("button", { class: "primary", onclick: assign, "aria-label": `${t("assign")} ${name}` }, t("assign"))),
      );
    });
    const head = (...keys: string[]) => h("thead", {}, h("tr", {}, ...keys.map((k) => h("th", { scope: "col" }, k))));
    const parts: HTMLElement[] = [
      h("p", { class: "muted" }, t("searchRadius", { km: radius, urgent: r.urgent ? t("urgentWidened") : "" })),
      found.length
        ? h("table", { class: "suggested" }, head(t("engineer"), t("distance"), t("travel"), t("load"), ""), h("tbody", {}, ...found))
        : h("p", {}, t("noSuggestions", { km: radius })),
    ];
    if (r.exclusions.length) {
      parts.push(
        h("h3", {}, t("excluded")),
        h(
          "table",
          { class: "excluded" },
          head(t("engineer"), t("distance"), t("reason")),
          h(
            "tbody",
            {},
            ...r.exclusions.map((x) =>
              h(
                "tr",
                { "data-reason": x.reason },
                h("td", {}, `${x.name} (${x.employeeNumber})`),
                h("td", {}, `${x.distanceKm.toFixed(1)} ${t("km")}`),
                h("td", {}, label(exclusionReasons, x.reason)),
              ),
            ),
          ),
        ),
      );
    }
    return parts;
  }

  private bookingForm(slip: Slip): HTMLElement {
    const rescheduling = slip.state === SlipState.SCHEDULED;
    const [start, end] = defaultWindow(slip);
    const startInput = h("input", { type: "datetime-local", value: start, required: true });
    const endInput = h("input", { type: "datetime-local", value: end, required: true });
    const contact = h("input", { type: "text", value: this.data.tickets.get(slip.ticketId)?.contactName ?? "", required: true });
    const reason = h("input", { type: "text", required: true });
    const informed = h("input", { type: "checkbox" });
    const form = h(
      "form",
      { class: "booking", "aria-label": rescheduling ? t("reschedule") : t("book") },
      h("h3", {}, rescheduling ? t("reschedule") : t("book")),
      field(t("start"), startInput, "window.start"),
      field(t("end"), endInput, "window.end"),
      rescheduling ? field(t("rescheduleReason"), reason, "reason") : field(t("contact"), contact, "contact_name"),
      rescheduling && h("div", { class: "field" }, h("label", {}, informed, ` ${t("customerInformed")}`)),
      h("button", { type: "submit", class: "primary" }, t("save")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const from = fromWall(startInput.value);
      const to = fromWall(endInput.value);
      const agreed = { start: from ? timestampFromDate(from) : undefined, end: to ? timestampFromDate(to) : undefined };
      const base = { requestId: requestId(), slipId: slip.id, etag: this.slip()?.etag ?? slip.etag, window: agreed };
      void this.run(
        () =>
          rescheduling
            ? api.slips.rescheduleAppointment({ ...base, reason: reason.value, customerInformed: informed.checked })
            : api.slips.bookAppointment({ ...base, contactName: contact.value }),
        t("booked"),
        form,
      );
    });
    return form;
  }
}

function actionsKey(slip: Slip): string {
  return `${slip.state}|${slip.engineerId}`;
}

function minutes(d: Duration | undefined): number {
  return d ? Math.round(Number(d.seconds) / 60) : 0;
}

/** The slip's window, or tomorrow 09:00-11:00 in the team's zone. */
function defaultWindow(slip: Slip): [string, string] {
  const w = slip.appointment?.window;
  if (w?.start && w.end) return [toWall(timestampDate(w.start)), toWall(timestampDate(w.end))];
  const tomorrow = wall(new Date(Date.now() + 86_400_000));
  const p = (n: number) => String(n).padStart(2, "0");
  const day = `${tomorrow.year}-${p(tomorrow.month)}-${p(tomorrow.day)}`;
  return [`${day}T09:00`, `${day}T11:00`];
}
