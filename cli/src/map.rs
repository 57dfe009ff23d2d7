//! The board as a picture: engineers, open slips and who is assigned to what, drawn as SVG on
//! an equirectangular projection of the area they cover.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use onsite_proto::v1 as pb;

use crate::desk::{all_engineers, all_slips};
use crate::table::Report;
use crate::text::{is_open, slip_state};
use crate::{Ctx, Result};

/// Fetches the board and writes it to `out`.
pub async fn draw(ctx: &Ctx, out: &Path, width: u32) -> Result<Report> {
    let engineers = all_engineers(ctx).await?;
    let slips: Vec<pb::Slip> = all_slips(ctx, "").await?.into_iter().filter(|s| is_open(s.state)).collect();
    let svg = render(
        &engineers,
        &slips,
        width.clamp(200, 10_000),
        &chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
    );
    std::fs::write(out, svg).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut report = Report::default();
    report.field("written", out.display()).field("engineers", engineers.len()).field("open slips", slips.len());
    Ok(report)
}

fn position(e: &pb::Engineer) -> Option<(f64, f64)> {
    e.last_position.as_ref().or(e.home_base.as_ref()).map(|p| (p.latitude, p.longitude))
}

/// Projects positions into a `width`-wide picture with a margin.
struct Frame {
    max_lat: f64,
    min_lon: f64,
    /// Pixels per degree of longitude; latitude is scaled by 1/cos(mid-latitude).
    scale: f64,
    x_scale: f64,
    margin: f64,
    height: f64,
}

impl Frame {
    fn new(points: &[(f64, f64)], width: f64) -> Self {
        let margin = 40.0;
        let (mut min_lat, mut max_lat, mut min_lon, mut max_lon) = (90.0f64, -90.0f64, 180.0f64, -180.0f64);
        for &(lat, lon) in points {
            (min_lat, max_lat, min_lon, max_lon) =
                (min_lat.min(lat), max_lat.max(lat), min_lon.min(lon), max_lon.max(lon));
        }
        if points.is_empty() {
            (min_lat, max_lat, min_lon, max_lon) = (0.0, 1.0, 0.0, 1.0);
        }
        // Never narrower than about a kilometre, so one point still gets a frame.
        let pad = 0.01;
        (min_lat, max_lat, min_lon, max_lon) = (min_lat - pad, max_lat + pad, min_lon - pad, max_lon + pad);
        let x_scale = ((min_lat + max_lat) / 2.0).to_radians().cos().max(0.05);
        let scale = (width - 2.0 * margin) / ((max_lon - min_lon) * x_scale);
        let height = (max_lat - min_lat) * scale + 2.0 * margin + 40.0;
        Self { max_lat, min_lon, scale, x_scale, margin, height }
    }

    fn xy(&self, (lat, lon): (f64, f64)) -> (f64, f64) {
        let x = self.margin + (lon - self.min_lon) * self.x_scale * self.scale;
        let y = self.margin + 30.0 + (self.max_lat - lat) * self.scale;
        (x, y)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn slip_colour(state: i32) -> &'static str {
    use pb::SlipState as S;
    match S::try_from(state) {
        Ok(S::Draft | S::Verified) => "#d62728",
        Ok(S::Dispatched | S::Confirmed) => "#ff7f0e",
        Ok(S::Scheduled | S::EnRoute) => "#1f77b4",
        _ => "#2ca02c",
    }
}

fn engineer_colour(status: i32) -> &'static str {
    match pb::EngineerStatus::try_from(status) {
        Ok(pb::EngineerStatus::Off) => "#9e9e9e",
        Ok(pb::EngineerStatus::Busy) => "#f2b701",
        _ => "#2ca02c",
    }
}

/// The SVG document.
pub fn render(engineers: &[pb::Engineer], slips: &[pb::Slip], width: u32, generated: &str) -> String {
    let sites: Vec<(f64, f64)> =
        slips.iter().filter_map(|s| s.site_position.as_ref()).map(|p| (p.latitude, p.longitude)).collect();
    let people: Vec<(f64, f64)> = engineers.iter().filter_map(position).collect();
    let all: Vec<(f64, f64)> = sites.iter().chain(&people).copied().collect();
    let frame = Frame::new(&all, f64::from(width));
    let by_id: HashMap<&str, &pb::Engineer> = engineers.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h:.0}" viewBox="0 0 {width} {h:.0}" font-family="sans-serif" font-size="11">"##,
        h = frame.height
    );
    let _ = writeln!(svg, r##"<rect width="100%" height="100%" fill="#fbfbf8"/>"##);
    let _ = writeln!(
        svg,
        r##"<text x="{m}" y="24" font-size="15" font-weight="bold">Onsite board: {} engineers, {} open slips ({})</text>"##,
        engineers.len(),
        slips.len(),
        escape(generated),
        m = frame.margin
    );
    let _ = writeln!(svg, r##"<g id="assignments" stroke-width="1.5" stroke-dasharray="4 3">"##);
    for s in slips {
        let (Some(site), Some(engineer)) = (s.site_position.as_ref(), by_id.get(s.engineer_id.as_str())) else {
            continue;
        };
        let Some(at) = position(engineer) else { continue };
        let ((x1, y1), (x2, y2)) = (frame.xy((site.latitude, site.longitude)), frame.xy(at));
        let _ = writeln!(
            svg,
            r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}"><title>{} visit {} to engineer {}</title></line>"##,
            slip_colour(s.state),
            escape(&s.ticket_number),
            s.visit_number,
            escape(&engineer.employee_number)
        );
    }
    let _ = writeln!(svg, "</g>\n<g id=\"slips\">");
    for s in slips {
        let Some(site) = s.site_position.as_ref() else { continue };
        let (x, y) = frame.xy((site.latitude, site.longitude));
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{}"><title>{} visit {}: {}</title></rect>"##,
            x - 5.0,
            y - 5.0,
            slip_colour(s.state),
            escape(&s.ticket_number),
            s.visit_number,
            slip_state(s.state)
        );
    }
    let _ = writeln!(svg, "</g>\n<g id=\"engineers\">");
    for e in engineers {
        let Some(at) = position(e) else { continue };
        let (x, y) = frame.xy(at);
        let _ = writeln!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="6" fill="{}" stroke="#333"><title>{} {}</title></circle><text x="{:.1}" y="{:.1}">{}</text>"##,
            engineer_colour(e.status),
            escape(&e.employee_number),
            escape(&e.name),
            x + 8.0,
            y + 4.0,
            escape(&e.employee_number)
        );
    }
    let legend_y = frame.height - 14.0;
    let _ = writeln!(
        svg,
        r##"</g>
<g id="legend"><circle cx="{m}" cy="{ly}" r="5" fill="#2ca02c" stroke="#333"/><text x="{a}" y="{t}">engineer (grey: off, amber: busy)</text><rect x="{b}" y="{r}" width="10" height="10" fill="#d62728"/><text x="{c}" y="{t}">slip: red unassigned, orange dispatched, blue scheduled, green on site; dashed line: assignment</text></g>
</svg>"##,
        m = frame.margin,
        ly = legend_y,
        a = frame.margin + 10.0,
        t = legend_y + 4.0,
        b = frame.margin + 220.0,
        r = legend_y - 5.0,
        c = frame.margin + 235.0,
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_engineers_slips_and_assignment_lines() {
        let engineer = pb::Engineer {
            id: "e1".into(),
            employee_number: "17".into(),
            name: "Wang <Lei>".into(),
            home_base: Some(pb::GeoPoint { latitude: 31.23, longitude: 121.47 }),
            ..Default::default()
        };
        let assigned = pb::Slip {
            engineer_id: "e1".into(),
            ticket_number: "TS20261123-0001".into(),
            state: pb::SlipState::Scheduled as i32,
            site_position: Some(pb::GeoPoint { latitude: 31.20, longitude: 121.60 }),
            ..Default::default()
        };
        let open = pb::Slip { engineer_id: String::new(), state: pb::SlipState::Verified as i32, ..assigned.clone() };
        let svg = render(&[engineer], &[assigned, open], 800, "now");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle cx").count(), 2, "one engineer plus the legend");
        assert_eq!(svg.matches("<line ").count(), 1, "only the assigned slip has a line");
        assert_eq!(svg.matches("<rect x").count(), 3, "two slips plus the legend");
        assert!(svg.contains("Wang &lt;Lei&gt;"), "names are escaped");
        // The site lies east of the engineer, so its square is further right.
        let x_of = |needle: &str| -> f64 {
            let at = svg.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
            svg[at + needle.len()..].split('"').next().and_then(|v| v.parse().ok()).unwrap_or_default()
        };
        assert!(x_of("<rect x=\"") > x_of("<circle cx=\""));
    }
}
