// Many points on one canvas: a Leaflet layer for tens of thousands of engineers, drawn in one
// pass per colour instead of one map layer per point. It finds the point under the pointer
// for the tooltip, and lets clicks through to the slips drawn above it.

import * as L from "leaflet";

export interface Dot {
  at: L.LatLng;
  colour: string;
}

const RADIUS = 4.5;

export class DotLayer extends L.Layer {
  private readonly dots = new Map<string, Dot>();
  private canvas: HTMLCanvasElement | null = null;
  private pending = false;

  constructor(private readonly paneName: string) {
    super();
  }

  get size(): number {
    return this.dots.size;
  }

  set(id: string, dot: Dot | null): void {
    if (dot) this.dots.set(id, dot);
    else this.dots.delete(id);
    this.schedule();
  }

  clear(): void {
    this.dots.clear();
    this.schedule();
  }

  positions(): L.LatLng[] {
    return [...this.dots.values()].map((d) => d.at);
  }

  /** The dot within a few pixels of a point of the map's container, nearest first. */
  nearest(point: L.Point): string | null {
    const map = this._map;
    if (!map) return null;
    let best: string | null = null;
    let bestDistance = (RADIUS + 3) ** 2;
    for (const [id, dot] of this.dots) {
      const p = map.latLngToContainerPoint(dot.at);
      const d = (p.x - point.x) ** 2 + (p.y - point.y) ** 2;
      if (d <= bestDistance) {
        best = id;
        bestDistance = d;
      }
    }
    return best;
  }

  override onAdd(map: L.Map): this {
    const canvas = L.DomUtil.create("canvas", "leaflet-zoom-hide dots");
    canvas.style.pointerEvents = "none";
    map.getPane(this.paneName)?.appendChild(canvas);
    this.canvas = canvas;
    map.on("moveend zoomend resize viewreset", this.schedule, this);
    this.draw();
    return this;
  }

  override onRemove(map: L.Map): this {
    map.off("moveend zoomend resize viewreset", this.schedule, this);
    this.canvas?.remove();
    this.canvas = null;
    return this;
  }

  /** Draws at the next frame, once however many dots changed. */
  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  private draw(): void {
    const map = this._map;
    const canvas = this.canvas;
    if (!map || !canvas) return;
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    canvas.width = size.x * ratio;
    canvas.height = size.y * ratio;
    canvas.style.width = `${size.x}px`;
    canvas.style.height = `${size.y}px`;
    L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([0, 0]));
    const context = canvas.getContext("2d");
    if (!context) return;
    context.scale(ratio, ratio);
    const byColour = new Map<string, L.Point[]>();
    for (const dot of this.dots.values()) {
      const p = map.latLngToContainerPoint(dot.at);
      if (p.x < -RADIUS || p.y < -RADIUS || p.x > size.x + RADIUS || p.y > size.y + RADIUS) continue;
      let points = byColour.get(dot.colour);
      if (!points) byColour.set(dot.colour, (points = []));
      points.push(p);
    }
    context.strokeStyle = "#ffffff";
    context.lineWidth = 1;
    for (const [colour, points] of byColour) {
      context.fillStyle = colour;
      context.beginPath();
      for (const p of points) {
        context.moveTo(p.x + RADIUS, p.y);
        context.arc(p.x, p.y, RADIUS, 0, 2 * Math.PI);
      }
      context.fill();
      context.stroke();
    }
  }
}
