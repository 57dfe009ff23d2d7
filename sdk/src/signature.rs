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
pub const MAX_SIDE: u32 = 2000;

/// Renders `strokes` black on white into a grayscale PNG of `width` x `height`. The pen
/// width follows the pressure. Refuses an empty signature.
pub fn render_png(strokes: &[Vec<StrokePoint>], width: u32, height: u32) -> Result<Vec<u8>> {
    if !(16..=MAX_SIDE).contains(&width) || !(16..=MAX_SIDE).contains(&height) {
        return Err(SdkError::invalid("canvas", format!("each side must be 16 to {MAX_SIDE} pixels")));
    }
    let points: usize = strokes.iter().map(Vec::len).sum();
    if points < 2 {
        return Err(SdkError::invalid("strokes", "the signature is empty"));
    }
    if strokes.iter().flatten().any(|p| !p.x.is_finite() || !p.y.is_finite() || !p.pressure.is_finite()) {
        return Err(SdkError::invalid("strokes", "points must be finite numbers"));
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
    fn refuses_empty_and_oversized_signatures() {
        assert!(matches!(render_png(&[], 320, 120), Err(SdkError::Invalid { field, .. }) if field == "strokes"));
        assert!(matches!(render_png(&line(), 5000, 120), Err(SdkError::Invalid { field, .. }) if field == "canvas"));
    }
}
