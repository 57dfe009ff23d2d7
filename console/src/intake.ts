// Ticket intake: every field the desk records when a customer reports a fault, the server's
// field errors next to the fields, then a dispatch slip for the ticket and its verification.

import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { allPages, api, problem, requestId } from "./api";
import { field, fill, h, options } from "./dom";
import { Severity } from "./gen/onsite/v1/common_pb";
import type { Customer } from "./gen/onsite/v1/customers_pb";
import { type Slip, VisitKind } from "./gen/onsite/v1/slips_pb";
import type { Ticket } from "./gen/onsite/v1/tickets_pb";
import { fromWall, label, t, toWall } from "./i18n";
import { categories, channels, severities, visitKinds } from "./labels";
import { showRefusal } from "./refusal";
import type { BoardData } from "./store";

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

export class IntakeView {
  readonly element = h("section", { class: "panel intake", "aria-label": t("intake") });
  private customers: Customer[] = [];
  /** Customers read in full (the list leaves out contacts, sites and products). */
  private readonly details = new Map<string, Customer>();

  constructor(private readonly data: BoardData) {}

  /** Loads the customers, then shows an empty form. */
  async open(): Promise<void> {
    if (this.customers.length === 0) {
      this.customers = await allPages(async (pageToken) => {
        const r = await api.customers.listCustomers({ pageSize: 200, pageToken });
        return { items: r.customers, next: r.nextPageToken };
      });
    }
    fill(this.element, h("h2", {}, t("intake")), this.ticketForm());
  }

  private ticketForm(): HTMLFormElement {
    const choose = (table: Record<string, [string, string]>) =>
      h("select", {}, ...options([["0", t("choose")], ...Object.keys(table).map((k): [string, string] => [k, label(table, k)])]));
    const c = {
      title: h("input", { type: "text" }),
      channel: choose(channels),
      category: choose(categories),
      severity: choose(severities),
      customer: h("select", {}, ...options([["", t("choose")], ...this.customers.map((x): [string, string] => [x.id, x.name])])),
      contactName: h("input", { type: "text", list: "contacts" }),
      contactPhone: h("input", { type: "tel" }),
      organisation: h("input", { type: "text" }),
      product: h("select", {}),
      productModel: h("input", { type: "text" }),
      serial: h("input", { type: "text" }),
      faultTime: h("input", { type: "datetime-local", value: toWall(new Date()) }),
      symptoms: h("textarea", { rows: 3 }),
      errorMessage: h("textarea", { rows: 2 }),
      impact: h("input", { type: "text" }),
      urgency: h("input", { type: "text" }),
    };
    const contacts = h("datalist", { id: "contacts" });
    c.customer.addEventListener("change", async () => {
      const customer = await this.customer(c.customer.value);
      fill(contacts, ...(customer?.contacts ?? []).map((x) => h("option", { value: x.name }, x.phone)));
      fill(c.product, ...options([["", t("none")], ...(customer?.products ?? []).map((p): [string, string] => [p.id, `${p.model} ${p.serialNumber}`])]));
      if (customer && !c.organisation.value) c.organisation.value = customer.name;
    });
    c.contactName.addEventListener("change", () => {
      const contact = this.details.get(c.customer.value)?.contacts.find((x) => x.name === c.contactName.value);
      if (contact && !c.contactPhone.value) c.contactPhone.value = contact.phone;
    });
    c.product.addEventListener("change", () => {
      const product = this.details.get(c.customer.value)?.products.find((p) => p.id === c.product.value);
      if (product) {
        c.productModel.value = product.model;
        c.serial.value = product.serialNumber;
      }
    });
    const required = (text: string) => `${text} *`;
    const fields: [string, Control, string][] = [
      [required(t("ticketTitle")), c.title, "ticket.title"],
      [required(t("customer")), c.customer, "ticket.customer_id"],
      [required(t("channel")), c.channel, "ticket.channel"],
      [required(t("category")), c.category, "ticket.category"],
      [required(t("severity")), c.severity, "ticket.severity"],
      [required(t("contactName")), c.contactName, "ticket.contact_name"],
      [t("contactPhone"), c.contactPhone, "ticket.contact_phone"],
      [t("organisation"), c.organisation, "ticket.organisation"],
      [t("product"), c.product, "ticket.product_id"],
      [t("productModel"), c.productModel, "ticket.product_model"],
      [t("serial"), c.serial, "ticket.serial_number"],
      [t("faultTime"), c.faultTime, "ticket.fault_occurred_at"],
      [required(t("symptoms")), c.symptoms, "ticket.symptoms"],
      [t("errorMessage"), c.errorMessage, "ticket.error_message"],
      [required(t("impact")), c.impact, "ticket.impact_scope"],
      [t("urgency"), c.urgency, "ticket.initial_urgency"],
    ];
    const message = h("p", { class: "status-line", role: "status" });
    const form = h("form", { class: "grid-form", novalidate: true }, ...fields.map(([text, control, name]) => field(text, control, name)), contacts, message, h("button", { type: "submit", class: "primary" }, t("createTicket")));
    for (const [text, control] of fields) if (text.endsWith(" *")) control.setAttribute("aria-required", "true");
    const submit = form.querySelector<HTMLButtonElement>("button[type=submit]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (submit) submit.disabled = true;
      const fault = fromWall(c.faultTime.value);
      try {
        const ticket = await api.tickets.createTicket({
          requestId: requestId(),
          ticket: {
            title: c.title.value,
            channel: Number(c.channel.value),
            category: Number(c.category.value),
            severity: Number(c.severity.value) as Severity,
            customerId: c.customer.value,
            contactName: c.contactName.value,
            contactPhone: c.contactPhone.value,
            organisation: c.organisation.value,
            productId: c.product.value,
            productModel: c.productModel.value,
            serialNumber: c.serial.value,
            faultOccurredAt: fault ? timestampFromDate(fault) : undefined,
            symptoms: c.symptoms.value,
            errorMessage: c.errorMessage.value,
            impactScope: c.impact.value,
            initialUrgency: c.urgency.value,
          },
        });
        this.data.tickets.set(ticket.id, ticket);
        fill(this.element, h("h2", {}, t("intake")), h("p", { class: "status-line ok", role: "status" }, t("ticketCreated", { number: ticket.number })), this.slipForm(ticket));
      } catch (error) {
        showRefusal(message, problem(error), form);
        form.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
      } finally {
        if (submit) submit.disabled = false;
      }
    });
    return form;
  }

  private async customer(id: string): Promise<Customer | undefined> {
    if (!id) return undefined;
    let customer = this.details.get(id);
    if (!customer) {
      customer = await api.customers.getCustomer({ id }).catch(() => undefined);
      if (customer) this.details.set(id, customer);
    }
    return customer;
  }

  private slipForm(ticket: Ticket): HTMLFormElement {
    const customer = this.details.get(ticket.customerId);
    const site = h("select", {}, ...options((customer?.sites ?? []).map((s): [string, string] => [s.id, `${s.name} · ${s.address}`])));
    const instructions = h("textarea", { rows: 3 });
    const skills = h("input", { type: "text" });
    const kind = h("select", {}, ...options(Object.keys(visitKinds).map((k): [string, string] => [k, label(visitKinds, k)]), String(VisitKind.REPAIR)));
    const message = h("p", { class: "status-line", role: "status" });
    const form = h(
      "form",
      { class: "grid-form", novalidate: true, "aria-label": t("createSlip") },
      h("h3", {}, t("createSlip")),
      field(t("site"), site, "site_id"),
      field(`${t("instructions")} *`, instructions, "instructions"),
      field(t("requiredSkills"), skills, "required_skills"),
      field(t("kind"), kind, "kind"),
      message,
      h("button", { type: "submit", class: "primary" }, t("createSlip")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const slip = await api.slips.createSlip({
          requestId: requestId(),
          ticketId: ticket.id,
          siteId: site.value,
          instructions: instructions.value,
          requiredSkills: skills.value.split(",").map((s) => s.trim()).filter(Boolean),
          kind: Number(kind.value),
        });
        fill(form, h("p", { class: "status-line ok", role: "status" }, t("slipCreated", { number: ticket.number })), this.verifyButton(slip));
      } catch (error) {
        showRefusal(message, problem(error), form);
      }
    });
    return form;
  }

  private verifyButton(slip: Slip): HTMLElement {
    const message = h("p", { class: "status-line", role: "status" });
    const button = h("button", { type: "button", class: "primary" }, t("verify"));
    button.addEventListener("click", async () => {
      try {
        const verified = await api.slips.verifySlip({ requestId: requestId(), slipId: slip.id, etag: slip.etag });
        this.data.put(verified);
        button.disabled = true;
        message.className = "status-line ok";
        message.textContent = t("slipVerified");
      } catch (error) {
        showRefusal(message, problem(error));
      }
    });
    return h("div", {}, button, message);
  }
}
