// What the board knows: open slips with their tickets, and engineers. Loaded once, then kept
// current by WatchBoard, which resumes from its cursor after a dropped connection.

import { Code, api, allPages, problem, recover } from "./api";
import type { Engineer } from "./gen/onsite/v1/engineers_pb";
import { type Slip, SlipState } from "./gen/onsite/v1/slips_pb";
import { type Ticket, TicketStatus } from "./gen/onsite/v1/tickets_pb";
import { openStates } from "./labels";

export type Connection = "loading" | "live" | "reconnecting";

/** What changed, so that each view redraws only what it must. */
export type Change =
  | { kind: "all" }
  | { kind: "slip"; id: string }
  | { kind: "engineer"; id: string }
  | { kind: "connection" };

export class BoardData {
  readonly slips = new Map<string, Slip>();
  readonly tickets = new Map<string, Ticket>();
  readonly engineers = new Map<string, Engineer>();
  connection: Connection = "loading";
  private cursor = "";
  private listeners: ((change: Change) => void)[] = [];
  private stopped = new AbortController();

  subscribe(listener: (change: Change) => void): void {
    this.listeners.push(listener);
  }

  /** Loads the board and follows it until `stop`. */
  async start(): Promise<void> {
    await this.reload();
    void this.follow();
  }

  stop(): void {
    this.stopped.abort();
    this.listeners = [];
  }

  /** Open slips each engineer holds. */
  loadOf(engineerId: string): number {
    let n = 0;
    for (const slip of this.slips.values()) if (slip.engineerId === engineerId) n++;
    return n;
  }

  private emit(change: Change): void {
    for (const listener of this.listeners) listener(change);
  }

  private setConnection(connection: Connection): void {
    if (this.connection === connection) return;
    this.connection = connection;
    this.emit({ kind: "connection" });
  }

  private async reload(): Promise<void> {
    // The team is the longest list: it goes first, in the largest pages the server gives.
    const engineers = allPages(async (pageToken) => {
      const r = await api.engineers.listEngineers({ pageSize: 1000, pageToken });
      return { items: r.engineers, next: r.nextPageToken };
    });
    const slipPages = Promise.all(
      openStates.map((state) =>
        allPages(async (pageToken) => {
          const r = await api.slips.listSlips({ state, pageSize: 200, pageToken });
          return { items: r.slips, next: r.nextPageToken };
        }),
      ),
    );
    const tickets = Promise.all(
      [TicketStatus.OPEN, TicketStatus.IN_PROGRESS].map((status) =>
        allPages(async (pageToken) => {
          const r = await api.tickets.listTickets({ status, pageSize: 200, pageToken });
          return { items: r.tickets, next: r.nextPageToken };
        }),
      ),
    );
    const [engineerList, slipLists, ticketLists] = await Promise.all([engineers, slipPages, tickets]);
    this.slips.clear();
    this.engineers.clear();
    for (const slip of slipLists.flat()) this.slips.set(slip.id, slip);
    for (const engineer of engineerList) this.engineers.set(engineer.id, engineer);
    for (const ticket of ticketLists.flat()) this.tickets.set(ticket.id, ticket);
    await this.fetchMissingTickets([...this.slips.values()]);
    // For the console's benchmark: when the data was in, apart from drawing it.
    performance.mark("onsite:board-loaded");
    this.emit({ kind: "all" });
  }

  private async fetchMissingTickets(slips: Slip[]): Promise<void> {
    const missing = [...new Set(slips.map((s) => s.ticketId))].filter((id) => !this.tickets.has(id));
    const found = await Promise.all(missing.map((id) => api.tickets.getTicket({ id }).catch(() => undefined)));
    for (const ticket of found) if (ticket) this.tickets.set(ticket.id, ticket);
  }

  /** Follows WatchBoard; after a drop, waits a little and resumes from the last cursor. */
  private async follow(): Promise<void> {
    let wait = 500;
    while (!this.stopped.signal.aborted) {
      try {
        const events = api.dispatch.watchBoard({ cursor: this.cursor }, { signal: this.stopped.signal });
        this.setConnection("live");
        for await (const event of events) {
          wait = 500;
          this.cursor = event.cursor;
          if (event.change.case === "slip") await this.applySlip(event.change.value);
          else if (event.change.case === "engineer") this.applyEngineer(event.change.value);
        }
      } catch (error) {
        if (this.stopped.signal.aborted) return;
        if (problem(error).reason === "CURSOR_EXPIRED") this.cursor = "";
        // An expired token is swapped and the stream resumed at once; a revoked one ends here.
        if (problem(error).code === Code.Unauthenticated) {
          if (await recover(error)) continue;
          return;
        }
      }
      if (this.stopped.signal.aborted) return;
      this.setConnection("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 2, 5000);
      // Without a cursor nothing says what was missed: read the board again.
      if (!this.cursor) await this.reload().catch(() => undefined);
    }
  }

  private async applySlip(slip: Slip): Promise<void> {
    const open = openStates.includes(slip.state) && slip.state !== SlipState.UNSPECIFIED;
    if (!open) {
      if (this.slips.delete(slip.id)) this.emit({ kind: "slip", id: slip.id });
      return;
    }
    await this.fetchMissingTickets([slip]);
    this.slips.set(slip.id, slip);
    this.emit({ kind: "slip", id: slip.id });
  }

  private applyEngineer(engineer: Engineer): void {
    this.engineers.set(engineer.id, engineer);
    this.emit({ kind: "engineer", id: engineer.id });
  }

  /** A slip changed by this console: shown at once, before its event arrives. */
  put(slip: Slip): void {
    void this.applySlip(slip);
  }
}
