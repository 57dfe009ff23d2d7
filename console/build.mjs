// Builds the console into ../server/console, the files onsite-server embeds: the bundle,
// the styles (Leaflet's, then ours), the page and the offline basemap.
//
// The output depends only on the sources and the pinned packages, so CI can rebuild it and
// compare it with what is committed.

import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { feature } from "topojson-client";

const out = new URL("../server/console/", import.meta.url);
mkdirSync(out, { recursive: true });

await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2022",
  legalComments: "none",
  charset: "utf8",
  outfile: new URL("app.js", out).pathname,
  logLevel: "warning",
});

const leafletCss = readFileSync("node_modules/leaflet/dist/leaflet.css", "utf8");
const ourCss = readFileSync("src/app.css", "utf8");
writeFileSync(new URL("app.css", out), `${leafletCss}\n${ourCss}`);
writeFileSync(new URL("index.html", out), readFileSync("index.html", "utf8"));

// East Asia is where the teams work; the rest of the world's land is left out of the map.
const AREA = { west: 60, east: 160, south: -12, north: 60 };

/** Rounds coordinates to about 1 km and drops rings outside the area: a small download. */
function compact(geometry) {
  const round = (ring) => ring.map(([x, y]) => [Math.round(x * 100) / 100, Math.round(y * 100) / 100]);
  const inside = (ring) => ring.some(([x, y]) => x >= AREA.west && x <= AREA.east && y >= AREA.south && y <= AREA.north);
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  const kept = polygons.filter((polygon) => inside(polygon[0])).map((polygon) => polygon.map(round));
  return kept.length ? { type: "MultiPolygon", coordinates: kept } : null;
}

function collection(features) {
  return {
    type: "FeatureCollection",
    features: features
      .map((f) => ({ type: "Feature", properties: { name: f.properties?.name ?? "" }, geometry: compact(f.geometry) }))
      .filter((f) => f.geometry),
  };
}

const land = JSON.parse(readFileSync("node_modules/world-atlas/land-50m.json", "utf8"));
const provinces = JSON.parse(readFileSync("node_modules/china-geojson/src/geojson/china.json", "utf8"));
const landFeatures = feature(land, land.objects.land);
const basemap = {
  land: collection(landFeatures.type === "FeatureCollection" ? landFeatures.features : [landFeatures]),
  provinces: collection(provinces.features),
};
writeFileSync(new URL("basemap.json", out), JSON.stringify(basemap));
