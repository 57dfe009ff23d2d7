// An engineer's day or week as a timeline: shift hours, days off and appointments, all in
// the team's time zone.

import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { api, problem } from "./api";
import { fill, h } from "./dom";
import type { AppointmentEntry } from "./gen/onsite/v1/dispatch_pb";
import type { Engineer } from "./gen/onsite/v1/engineers_pb";
import { fromWall, label, t, time, toWall, weekdayDate } from "./i18n";
import { slipStates } from "./labels";
import type { BoardData } from "./store";

const DAY_MINUTES = 24 * 60;
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

export class ScheduleView {
  readonly element = h("section", { class: "panel schedule", "aria-label": t("schedule") });
  private readonly who = h("input", { type: "text", list: "engineer-list", "aria-label": t("engineer"), placeholder: t("filterEngineers") });
  private readonly list = h("datalist", { id: "engineer-list" });
  private readonly date = h("input", { type: "date", "aria-label": t("date") });
  private readonly week = h("select", { "aria-label": t("week") }, h("option", { value: "day" }, t("day")), h("option", { value: "week" }, t("week")));
  private readonly timeline = h("div", { class: "timeline", "aria-live": "polite" });
  private engineerId = "";

  constructor(private readonly data: BoardData) {
    this.date.value = toWall(new Date()).slice(0, 10);
    this.week.value = "week";
    for (const control of [this.who, this.date, this.week]) control.addEventListener("change", () => this.pick());
    fill(
      this.element,
      h("h2", {}, t("schedule")),
      h("div", { class: "filters" }, this.who, this.list, this.date, this.week),
      this.timeline,
    );
  }

  /** Shows an engineer's schedule; without one, the first engineer of the board. */
  open(engineerId = ""): void {
    const engineers = [...this.data.engineers.values()].sort((a, b) => a.employeeNumber.localeCompare(b.employeeNumber, undefined, { numeric: true }));
    fill(this.list, ...engineers.map((e) => h("option", { value: nameOf(e) })));
    const chosen = this.data.engineers.get(engineerId) ?? this.data.engineers.get(this.engineerId) ?? engineers[0];
    if (chosen) this.who.value = nameOf(chosen);
    void this.pick();
  }

  private async pick(): Promise<void> {
    const engineer = [...this.data.engineers.values()].find((e) => nameOf(e) === this.who.value);
    if (!engineer) return;
    this.engineerId = engineer.id;
    const days = this.days();
    const from = fromWall(`${days[0]}T00:00`);
    const to = fromWall(`${nextDay(days[days.length - 1])}T00:00`);
    if (!from || !to) return;
    try {
      const r = await api.dispatch.listAppointments({
        engineerId: engineer.id,
        range: { start: timestampFromDate(from), end: timestampFromDate(to) },
      });
      this.draw(engineer, days, r.appointments);
    } catch (error) {
      fill(this.timeline, h("p", { class: "status-line error" }, problem(error).message));
    }
  }

  /** The dates shown: the chosen day, or Monday to Sunday of its week. */
  private days(): string[] {
    const chosen = this.date.value || toWall(new Date()).slice(0, 10);
    if (this.week.value === "day") return [chosen];
    const d = new Date(`${chosen}T12:00:00Z`);
    const monday = new Date(d.getTime() - ((d.getUTCDay() + 6) % 7) * 86_400_000);
    return Array.from({ length: 7 }, (_, i) => new Date(monday.getTime() + i * 86_400_000).toISOString().slice(0, 10));
  }

  private draw(engineer: Engineer, days: string[], appointments: AppointmentEntry[]): void {
    const shift = parseWeek(engineer.shift);
    const off = new Set(engineer.daysOff.map((d) => `${d.year}-${String(d.month).padStart(2, "0")}-${String(d.day).padStart(2, "0")}`));
    const hours = h("div", { class: "hours", "aria-hidden": "true" }, ...Array.from({ length: 13 }, (_, i) => h("span", { style: `left:${(i * 2 * 100) / 24}%` }, `${String(i * 2).padStart(2, "0")}:00`)));
    const rows = days.map((day) => {
      const start = fromWall(`${day}T00:00`);
      const weekday = new Date(`${day}T12:00:00Z`).getUTCDay();
      const spans = shift[(weekday + 6) % 7];
      const lane = h("div", { class: "lane" });
      const dayOff = off.has(day);
      if (!dayOff) for (const [open, close] of spans) lane.append(h("div", { class: "shift", style: place(open, close), title: t("shift") }));
      const mine = appointments.filter((a) => a.appointment?.window?.start && toWall(timestampDate(a.appointment.window.start)).slice(0, 10) === day);
      for (const a of mine) {
        const w = a.appointment?.window;
        if (!w?.start || !w.end || !start) continue;
        const begin = (timestampDate(w.start).getTime() - start.getTime()) / 60000;
        const end = (timestampDate(w.end).getTime() - start.getTime()) / 60000;
        const text = `${time(w.start)}–${time(w.end)} ${a.ticketNumber} · ${label(slipStates, a.state)}`;
        lane.append(h("div", { class: "appointment", style: place(Math.max(0, begin), Math.min(DAY_MINUTES, end)), title: text, tabindex: 0 }, text));
      }
      return h(
        "div",
        { class: `day${dayOff ? " off" : ""}`, "data-day": day },
        h("div", { class: "day-label" }, start ? weekdayDate(start) : day, dayOff ? h("span", { class: "badge" }, t("dayOff")) : ""),
        lane,
      );
    });
    fill(
      this.timeline,
      h("p", { class: "muted" }, `${t("shift")}: ${engineer.shift || t("none")} · ${t("daysOff")}: ${[...off].join(", ") || t("none")}`),
      hours,
      ...rows,
      appointments.length ? "" : h("p", { class: "muted" }, t("noAppointments")),
    );
  }
}

function nameOf(e: Engineer): string {
  return `${e.name} (${e.employeeNumber})`;
}

function nextDay(day: string): string {
  return new Date(new Date(`${day}T12:00:00Z`).getTime() + 86_400_000).toISOString().slice(0, 10);
}

function place(from: number, to: number): string {
  return `left:${(from * 100) / DAY_MINUTES}%;width:${((to - from) * 100) / DAY_MINUTES}%`;
}

/** "Mon-Fri 08:30-12:00,13:00-17:30; Sat 09:00-12:00" as minutes per weekday, Monday first. */
export function parseWeek(spec: string): [number, number][][] {
  const week: [number, number][][] = Array.from({ length: 7 }, () => []);
  const minute = (s: string) => {
    const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
    return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  };
  for (const part of spec.split(";").map((p) => p.trim()).filter(Boolean)) {
    const space = part.indexOf(" ");
    if (space < 0) continue;
    const [first, last = first] = part.slice(0, space).split("-");
    const a = WEEKDAYS.indexOf(first);
    const b = WEEKDAYS.indexOf(last);
    if (a < 0 || b < 0) continue;
    for (const span of part.slice(space + 1).split(",")) {
      const [open, close] = span.split("-").map(minute);
      if (!(open < close)) continue;
      for (let d = a; ; d = (d + 1) % 7) {
        week[d].push([open, close]);
        if (d === b) break;
      }
    }
  }
  return week;
}
