// The map: an offline basemap (land and province boundaries shipped with the console),
// engineers by status, open slips by severity, and a line from each assigned engineer to the
// site. Engineers are dots on one canvas (there may be tens of thousands, see dots.ts); slips
// are SVG, so that each is an element one can click.

import * as L from "leaflet";
import { type Dot, DotLayer } from "./dots";
import { h } from "./dom";
import { type Engineer, EngineerStatus } from "./gen/onsite/v1/engineers_pb";
import { Severity } from "./gen/onsite/v1/common_pb";
import type { Slip } from "./gen/onsite/v1/slips_pb";
import { label, t } from "./i18n";
import { engineerStatuses, severities } from "./labels";
import type { BoardData, Change } from "./store";

const STATUS_COLOURS: Record<number, string> = {
  [EngineerStatus.AVAILABLE]: "#1b8a3a",
  [EngineerStatus.BUSY]: "#c77700",
  [EngineerStatus.OFF]: "#8a8f98",
};

const SEVERITY_COLOURS: Record<number, string> = {
  [Severity.URGENT]: "#d0021b",
  [Severity.IMPORTANT]: "#f08a00",
  [Severity.GENERAL]: "#2f6fd6",
};

export class MapView {
  readonly element: HTMLElement;
  private readonly legend = h("p", { class: "muted legend", "aria-live": "polite" });
  private map: L.Map | null = null;
  private readonly canvas = L.canvas({ padding: 0.2 });
  /** The basemap's own canvas, in a pane under everything else. */
  private readonly ground = L.canvas({ padding: 0.2, pane: "basemap" });
  private readonly svg = L.svg();
  private readonly engineers = new DotLayer("engineers");
  private readonly engineerTip = L.tooltip({ direction: "top", offset: [0, -6] });
  private readonly slips = new Map<string, L.CircleMarker>();
  private readonly lines = new Map<string, L.Polyline>();
  private readonly layers = { slips: L.layerGroup(), lines: L.layerGroup() };
  private fitted = false;
  selectedId = "";

  constructor(
    private readonly data: BoardData,
    private readonly onSelect: (slipId: string) => void,
  ) {
    const container = h("div", { class: "map" });
    const key = (colour: string, text: string) => h("span", { class: "key" }, h("span", { class: "dot", style: `background:${colour}` }), text);
    const keys = h(
      "p",
      { class: "keys" },
      h("span", {}, `${t("engineers")}:`),
      ...Object.entries(STATUS_COLOURS).map(([status, colour]) => key(colour, label(engineerStatuses, status))),
      h("span", {}, `${t("openSlips")}:`),
      ...Object.entries(SEVERITY_COLOURS).map(([severity, colour]) => key(colour, label(severities, severity))),
    );
    this.element = h("section", { class: "panel map-panel", "aria-label": t("map") }, h("h2", {}, t("map")), container, keys, this.legend);
    // Leaflet measures its container: it starts once the element is in the page.
    requestAnimationFrame(() => this.start(container));
    data.subscribe((change) => this.apply(change));
  }

  private start(container: HTMLElement): void {
    const map = L.map(container, { center: [32, 112], zoom: 5, minZoom: 3, maxZoom: 14, zoomControl: true });
    map.attributionControl.setPrefix(false).addAttribution("Natural Earth · china-geojson");
    this.map = map;
    // The basemap at the bottom, then engineers, then lines and slips (the overlay pane, 400),
    // so that a slip is always the one clicked.
    map.createPane("basemap").style.zIndex = "200";
    map.createPane("engineers").style.zIndex = "390";
    this.engineers.addTo(map);
    for (const layer of [this.layers.lines, this.layers.slips]) layer.addTo(map);
    map.on("mousemove", (event: L.LeafletMouseEvent) => this.pointAt(event));
    map.on("mouseout", () => this.engineerTip.close());
    void fetch("/basemap.json")
      .then((r) => r.json())
      .then((basemap: { land: GeoJSON.FeatureCollection; provinces: GeoJSON.FeatureCollection }) => {
        // Leaflet passes these options on to each shape; its types leave `renderer` out.
        const onCanvas = { renderer: this.ground, interactive: false } as L.GeoJSONOptions;
        const land = L.geoJSON(basemap.land, {
          ...onCanvas,
          style: { color: "#9aa7b4", weight: 1, fillColor: "#f3efe6", fillOpacity: 1 },
        });
        const provinces = L.geoJSON(basemap.provinces, {
          ...onCanvas,
          style: { color: "#b9b2a3", weight: 0.8, fill: false, dashArray: "3 3" },
        });
        land.addTo(map);
        provinces.addTo(map);
      });
    this.apply({ kind: "all" });
  }

  private apply(change: Change): void {
    if (!this.map) return;
    if (change.kind === "all") {
      this.engineers.clear();
      this.layers.slips.clearLayers();
      this.layers.lines.clearLayers();
      this.slips.clear();
      this.lines.clear();
      for (const engineer of this.data.engineers.values()) this.drawEngineer(engineer);
      for (const slip of this.data.slips.values()) this.drawSlip(slip);
      this.fit();
    } else if (change.kind === "engineer") {
      const engineer = this.data.engineers.get(change.id);
      if (engineer) this.drawEngineer(engineer);
      for (const slip of this.data.slips.values()) if (slip.engineerId === change.id) this.drawLine(slip);
    } else if (change.kind === "slip") {
      const slip = this.data.slips.get(change.id);
      if (slip) this.drawSlip(slip);
      else this.forgetSlip(change.id);
    }
    this.legend.textContent = `${t("engineers")}: ${this.engineers.size} · ${t("openSlips")}: ${this.slips.size}`;
    if (change.kind === "all") performance.mark("onsite:map-drawn");
    this.element.dataset.engineers = String(this.engineers.size);
    this.element.dataset.slips = String(this.slips.size);
  }

  /** Shows where the engineers and slips are, once, when the board first loads. */
  private fit(): void {
    if (this.fitted || !this.map) return;
    const points: L.LatLngExpression[] = [...this.slips.values()].map((m) => m.getLatLng());
    if (points.length === 0) points.push(...this.engineers.positions());
    if (points.length === 0) return;
    this.map.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 11 });
    this.fitted = true;
  }

  private drawEngineer(engineer: Engineer): void {
    const at = engineerPosition(engineer);
    const dot: Dot | null = at && { at: L.latLng(at), colour: STATUS_COLOURS[engineer.status] ?? "#555" };
    this.engineers.set(engineer.id, dot);
  }

  /** The tooltip of the engineer under the pointer, if any. */
  private pointAt(event: L.LeafletMouseEvent): void {
    const id = this.engineers.nearest(event.containerPoint);
    const engineer = id ? this.data.engineers.get(id) : undefined;
    const at = engineer && engineerPosition(engineer);
    if (!engineer || !at || !this.map) {
      this.engineerTip.close();
      return;
    }
    this.engineerTip
      .setLatLng(at)
      .setContent(`${engineer.name} (${engineer.employeeNumber}) · ${label(engineerStatuses, engineer.status)}`)
      .openOn(this.map);
  }

  private drawSlip(slip: Slip): void {
    const at = slip.sitePosition;
    if (!at) return this.forgetSlip(slip.id);
    const severity = this.data.tickets.get(slip.ticketId)?.severity ?? Severity.GENERAL;
    const selected = slip.id === this.selectedId;
    const style = {
      color: selected ? "#111" : "#fff",
      weight: selected ? 4 : 2,
      fillColor: SEVERITY_COLOURS[severity] ?? "#2f6fd6",
      fillOpacity: 0.9,
      radius: selected ? 11 : 8,
    };
    let marker = this.slips.get(slip.id);
    if (marker) {
      marker.setLatLng([at.latitude, at.longitude]).setStyle(style).setRadius(style.radius);
    } else {
      marker = L.circleMarker([at.latitude, at.longitude], { renderer: this.svg, className: `slip-marker slip-${slip.id}`, ...style });
      marker.bindTooltip(() => {
        const ticket = this.data.tickets.get(slip.ticketId);
        return `${slip.ticketNumber} · ${ticket?.organisation ?? ""} · ${ticket ? label(severities, ticket.severity) : ""}`;
      });
      marker.on("click", () => this.onSelect(slip.id));
      this.slips.set(slip.id, marker);
      this.layers.slips.addLayer(marker);
    }
    if (selected) marker.bringToFront();
    this.drawLine(slip);
  }

  private drawLine(slip: Slip): void {
    const engineer = this.data.engineers.get(slip.engineerId);
    const from = engineer && engineerPosition(engineer);
    const to = slip.sitePosition;
    const line = this.lines.get(slip.id);
    if (!from || !to) {
      if (line) this.layers.lines.removeLayer(line);
      this.lines.delete(slip.id);
      return;
    }
    const path: L.LatLngExpression[] = [from, [to.latitude, to.longitude]];
    if (line) line.setLatLngs(path);
    else {
      const drawn = L.polyline(path, { renderer: this.canvas, color: "#34495e", weight: 1.5, dashArray: "6 4", interactive: false });
      this.lines.set(slip.id, drawn);
      this.layers.lines.addLayer(drawn);
    }
  }

  private forgetSlip(id: string): void {
    for (const [map, group] of [
      [this.slips, this.layers.slips],
      [this.lines, this.layers.lines],
    ] as const) {
      const layer = map.get(id);
      if (layer) group.removeLayer(layer);
      map.delete(id);
    }
  }

  /** Marks the selected slip and brings it into view. */
  select(slipId: string): void {
    const previous = this.selectedId;
    this.selectedId = slipId;
    for (const id of [previous, slipId]) {
      const slip = this.data.slips.get(id);
      if (slip) this.drawSlip(slip);
    }
    const marker = this.slips.get(slipId);
    if (marker && this.map && !this.map.getBounds().contains(marker.getLatLng())) this.map.panTo(marker.getLatLng());
  }

  /** Leaflet must measure again after its container was hidden. */
  resize(): void {
    this.map?.invalidateSize();
  }
}

function engineerPosition(engineer: Engineer): L.LatLngTuple | null {
  const p = engineer.lastPosition ?? engineer.homeBase;
  return p ? [p.latitude, p.longitude] : null;
}
