// Small helpers to build the page: one element at a time, with labelled controls.

type Child = Node | string | null | undefined | false;
type Attr = string | number | boolean | undefined | ((event: Event) => void);

/** Builds an element: attributes starting with "on" are listeners, `true` sets a bare attribute. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = String(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  return element;
}

/** Replaces an element's children. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
}

let fieldIds = 0;

/** A labelled form field whose error line shows under it; `field` names it as the server does. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, field: string): HTMLElement {
  const id = `f${++fieldIds}`;
  control.id = id;
  control.dataset.field = field;
  const error = h("span", { class: "field-error", id: `${id}-error`, role: "alert" });
  control.setAttribute("aria-describedby", error.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, error);
}

/** Shows each violation next to the control whose field it names; returns those shown nowhere. */
export function showFieldErrors(form: HTMLElement, violations: Map<string, string>): Map<string, string> {
  for (const error of form.querySelectorAll<HTMLElement>(".field-error")) error.textContent = "";
  for (const control of form.querySelectorAll<HTMLElement>("[data-field]")) control.removeAttribute("aria-invalid");
  const rest = new Map<string, string>();
  for (const [name, description] of violations) {
    const controls = [...form.querySelectorAll<HTMLElement>("[data-field]")];
    // "window" names the whole window: shown at its first part ("window.start").
    const control =
      controls.find((c) => c.dataset.field === name) ?? controls.find((c) => c.dataset.field?.startsWith(`${name}.`));
    const error = control && document.getElementById(`${control.id}-error`);
    if (control && error) {
      error.textContent = description;
      control.setAttribute("aria-invalid", "true");
    } else {
      rest.set(name, description);
    }
  }
  return rest;
}

/** Options for a select, the current value chosen. */
export function options(values: [string, string][], selected = ""): HTMLOptionElement[] {
  return values.map(([value, label]) => h("option", { value, selected: value === selected }, label));
}
