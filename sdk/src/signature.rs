//! The customer's signature: strokes from the app's drawing surface, rendered to a PNG.

use crate::error::{Result, SdkError};

/// One sampled point of a stroke, in canvas pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StrokePoint {
    pub x: f32,
    pub y: f32,
    /// Milliseconds since the signature started.
    pub t_ms: u32,
    /// 0.0-1.0; devices without pressure send 0.5.
    pub pressure: f32,
}

/// Largest canvas side, in pixels.
pub const MAX_SIDE: u32 = onsite_core::image::MAX_SIGNATURE_SIDE;
/// Most strokes one signature may have.
pub const MAX_STROKES: usize = 1000;
/// Most points one signature may have, all strokes together.
pub const MAX_POINTS: usize = 100_000;
/// Longest pen path, in canvas perimeters: rendering time follows the path's length.
pub const MAX_PATH_PERIMETERS: f32 = 500.0;

/// Renders `strokes` black on white into a grayscale PNG of `width` x `height`. The pen
/// width follows the pressure. Refuses an empty or blank signature, points off the canvas,
/// and more strokes, points or pen path than a signature has, so the work is bounded.
pub fn render_png(strokes: &[Vec<StrokePoint>], width: u32, height: u32) -> Result<Vec<u8>> {
    if !(16..=MAX_SIDE).contains(&width) || !(16..=MAX_SIDE).contains(&height) {
        return Err(SdkError::invalid("canvas", format!("each side must be 16 to {MAX_SIDE} pixels")));
    }
    let points: usize = strokes.iter().map(Vec::len).sum();
    if points < 2 {
        return Err(SdkError::invalid("strokes", "the signature is empty"));
    }
    if strokes.len() > MAX_STROKES || points > MAX_POINTS {
        return Err(SdkError::invalid("strokes", format!("at most {MAX_STROKES} strokes and {MAX_POINTS} points")));
    }
    let (w, h) = (width as f32, height as f32);
    let on_canvas =
        |p: &StrokePoint| p.x.is_finite() && p.y.is_finite() && (0.0..=w).contains(&p.x) && (0.0..=h).contains(&p.y);
    if !strokes.iter().flatten().all(|p| on_canvas(p) && p.pressure.is_finite()) {
        return Err(SdkError::invalid("strokes", "every point must lie on the canvas"));
    }
    let path: f32 = strokes.iter().flat_map(|s| s.windows(2)).map(|p| (p[1].x - p[0].x).hypot(p[1].y - p[0].y)).sum();
    if path > MAX_PATH_PERIMETERS * 2.0 * (w + h) {
        return Err(SdkError::invalid("strokes", "the pen path is longer than a signature's"));
    }
    let mut pixels = vec![255u8; (width * height) as usize];
    let mut dot = |x: f32, y: f32, radius: f32| {
        let r = radius.ceil() as i64;
        let (cx, cy) = (x.round() as i64, y.round() as i64);
        for dy in -r..=r {
            for dx in -r..=r {
                let (px, py) = (cx + dx, cy + dy);
                if (dx * dx + dy * dy) as f32 <= radius * radius
                    && (0..i64::from(width)).contains(&px)
                    && (0..i64::from(height)).contains(&py)
                {
                    pixels[(py * i64::from(width) + px) as usize] = 0;
                }
            }
        }
    };
    for stroke in strokes {
        for pair in stroke.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let steps = ((b.x - a.x).hypot(b.y - a.y).ceil() as usize).clamp(1, 4 * MAX_SIDE as usize);
            for i in 0..=steps {
                let t = i as f32 / steps as f32;
                let pressure = (a.pressure + (b.pressure - a.pressure) * t).clamp(0.0, 1.0);
                dot(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, 1.0 + 2.5 * pressure);
            }
        }
        if let [only] = stroke.as_slice() {
            dot(only.x, only.y, 1.0 + 2.5 * only.pressure.clamp(0.0, 1.0));
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| SdkError::Storage(format!("png: {e}")))?;
    writer.write_image_data(&pixels).map_err(|e| SdkError::Storage(format!("png: {e}")))?;
    writer.finish().map_err(|e| SdkError::Storage(format!("png: {e}")))?;
    // The server refuses a blank image as unverifiable; so does the phone.
    onsite_core::image::signature(&out, "strokes")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> Vec<Vec<StrokePoint>> {
        vec![vec![
            StrokePoint { x: 10.0, y: 10.0, t_ms: 0, pressure: 0.5 },
            StrokePoint { x: 200.0, y: 80.0, t_ms: 300, pressure: 0.9 },
        ]]
    }

    #[test]
    fn renders_a_deterministic_png_with_ink() {
        let png = render_png(&line(), 320, 120).unwrap_or_default();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(render_png(&line(), 320, 120).unwrap_or_default(), png, "same strokes, same bytes");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap_or_else(|e| panic!("{e}"));
        let mut buf = vec![0; reader.output_buffer_size().unwrap_or(0)];
        reader.next_frame(&mut buf).unwrap_or_else(|e| panic!("{e}"));
        let ink = buf.iter().filter(|&&p| p == 0).count();
        assert!(ink > 190, "the line is drawn ({ink} dark pixels)");
    }

    #[test]
    fn refuses_empty_oversized_and_off_canvas_signatures() {
        let field = |r: Result<Vec<u8>>| match r {
            Err(SdkError::Invalid { field, message }) => format!("{field}: {message}"),
            other => panic!("expected a refusal, got {:?}", other.map(|png| png.len())),
        };
        assert!(field(render_png(&[], 320, 120)).starts_with("strokes"));
        assert!(field(render_png(&line(), 5000, 120)).starts_with("canvas"));
        let off = vec![vec![
            StrokePoint { x: 400.0, y: 10.0, t_ms: 0, pressure: 0.5 },
            StrokePoint { x: 500.0, y: 80.0, t_ms: 300, pressure: 0.5 },
        ]];
        assert!(field(render_png(&off, 320, 120)).contains("canvas"), "strokes all outside the canvas");
        let zigzag: Vec<StrokePoint> = (0..100_000)
            .map(|i| StrokePoint { x: if i % 2 == 0 { 0.0 } else { 319.0 }, y: 60.0, t_ms: i, pressure: 0.5 })
            .collect();
        assert!(field(render_png(&[zigzag], 320, 120)).contains("pen path"), "zig-zag work is bounded");
        let too_many: Vec<StrokePoint> =
            (0..100_001).map(|i| StrokePoint { x: 10.0, y: 10.0, t_ms: i, pressure: 0.5 }).collect();
        assert!(field(render_png(&[too_many], 320, 120)).contains("points"));
    }
}
