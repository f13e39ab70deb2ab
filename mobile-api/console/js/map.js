// Maps with Leaflet (vendor/leaflet, BSD-2-Clause): the city's own tiles when configured, else
// no base layer at all, so that the console works offline; wards drawn as outlines.

const L = window.L;

let settings = { tile_url: '', tile_attribution: '' };

export async function loadSettings() {
  const response = await fetch('/console/config.json');
  if (response.ok) settings = await response.json();
}

/** A map in `element`, with the base layer this deployment has. */
export function createMap(element) {
  const map = L.map(element, { preferCanvas: false, zoomControl: true });
  if (settings.tile_url) {
    L.tileLayer(settings.tile_url, { maxZoom: 19, attribution: settings.tile_attribution }).addTo(map);
  }
  map.setView([16.4637, 107.5909], 12);
  return map;
}

/**
 * A tooltip's content as text: Leaflet writes a string tooltip as HTML, so names (which admins
 * import) are always given to it as a text node.
 */
export function plain(text) {
  return document.createTextNode(text);
}

/** Outlines of the wards of a GeoJSON FeatureCollection, named on hover. */
export function wardLayer(collection, label) {
  return L.geoJSON(collection, {
    style: { color: '#5b6b7a', weight: 1, fillOpacity: 0.04 },
    onEachFeature: (feature, layer) => layer.bindTooltip(plain(label(feature.properties)), { sticky: true }),
  });
}

const COLOURS = { overdue: '#c0392b', urgent: '#d35400', open: '#1f6feb' };

/** A report's marker: red when overdue, orange when urgent, blue otherwise. */
export function reportMarker(report, onClick) {
  const colour = report.overdue ? COLOURS.overdue : report.urgent ? COLOURS.urgent : COLOURS.open;
  const marker = L.circleMarker([report.position.latitude, report.position.longitude], {
    radius: 8,
    color: '#ffffff',
    weight: 2,
    fillColor: colour,
    fillOpacity: 0.95,
    className: `report-marker report-${report.id}`,
  });
  marker.on('click', () => onClick(report));
  return marker;
}

/** Fits the map to `group`'s layers at once, keeping the view when there is nothing to show. */
export function fitTo(map, group) {
  const bounds = group.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds.pad(0.1), { maxZoom: 15, animate: false });
}

export { L };
