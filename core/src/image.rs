//! Photos and signature images as the phone records them: what counts as an image, how large
//! it may be, and a signature that has ink. Decided here so the phone and the server agree.

use crate::error::FieldViolation;

/// Largest photo, in bytes.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// Largest side of a signature image, in pixels.
pub const MAX_SIGNATURE_SIDE: u32 = 2000;
/// Largest signature image, in bytes.
pub const MAX_SIGNATURE_BYTES: usize = 1024 * 1024;

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// What a photo is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
}

impl ImageKind {
    /// The MIME type.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

/// A photo: a JPEG or PNG of at most [`MAX_PHOTO_BYTES`] whose header names its size.
pub fn photo(bytes: &[u8], field: &str) -> Result<ImageKind, FieldViolation> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(FieldViolation::new(field, "must be at most 10 MiB"));
    }
    let kind = if bytes.starts_with(PNG_MAGIC) {
        png_size(bytes).map(|_| ImageKind::Png)
    } else if bytes.starts_with(&[0xff, 0xd8]) {
        jpeg_size(bytes).map(|_| ImageKind::Jpeg)
    } else {
        None
    };
    kind.ok_or_else(|| FieldViolation::new(field, "must be a JPEG or PNG image"))
}

/// A signature image: a PNG of at most [`MAX_SIGNATURE_SIDE`] pixels a side that decodes
/// whole and has ink (a pixel darker than mid-grey). A blank signature proves nothing.
pub fn signature(png: &[u8], field: &str) -> Result<(), FieldViolation> {
    let bad = |why: &str| FieldViolation::new(field, why);
    if png.len() > MAX_SIGNATURE_BYTES || !png.starts_with(PNG_MAGIC) {
        return Err(bad("must be a PNG image of at most 1 MiB"));
    }
    let (width, height) = png_size(png).ok_or_else(|| bad("must be a PNG image of at most 1 MiB"))?;
    if width > MAX_SIGNATURE_SIDE || height > MAX_SIGNATURE_SIDE {
        return Err(bad("must be at most 2000 pixels a side"));
    }
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|_| bad("is not a readable PNG image"))?;
    let size = reader.output_buffer_size().ok_or_else(|| bad("is not a readable PNG image"))?;
    let mut pixels = vec![0; size];
    let frame = reader.next_frame(&mut pixels).map_err(|_| bad("is not a readable PNG image"))?;
    let channels = frame.color_type.samples();
    // Ink: a pixel whose first (grey or red) sample is dark and, with alpha, not transparent.
    let has_alpha = matches!(frame.color_type, png::ColorType::GrayscaleAlpha | png::ColorType::Rgba);
    let inked = pixels[..frame.buffer_size()]
        .chunks_exact(channels)
        .any(|p| p[0] < 128 && (!has_alpha || p[channels - 1] >= 128));
    if inked { Ok(()) } else { Err(bad("is blank: the customer has not signed")) }
}

/// Width and height from a PNG's IHDR chunk.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
    let height = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
    (width > 0 && height > 0).then_some((width, height))
}

/// Width and height from a JPEG's start-of-frame marker.
fn jpeg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        if *bytes.get(at)? != 0xff {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        let length = usize::from(u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]));
        let start_of_frame = (0xc0..=0xcf).contains(&marker) && !matches!(marker, 0xc4 | 0xc8 | 0xcc);
        if start_of_frame {
            let height = u16::from_be_bytes([*bytes.get(at + 5)?, *bytes.get(at + 6)?]);
            let width = u16::from_be_bytes([*bytes.get(at + 7)?, *bytes.get(at + 8)?]);
            return (width > 0 && height > 0).then_some((u32::from(width), u32::from(height)));
        }
        if length < 2 {
            return None;
        }
        at = at.checked_add(2 + length)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grayscale PNG of `w` x `h`, ink at one pixel when `ink`.
    fn png(w: u32, h: u32, ink: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut pixels = vec![255u8; (w * h) as usize];
        if ink {
            pixels[0] = 0;
        }
        if let Ok(mut writer) = encoder.write_header() {
            let _ = writer.write_image_data(&pixels);
        }
        out
    }

    /// The smallest JPEG header that names its size: SOI, an APP0 segment, SOF0.
    fn jpeg(w: u16, h: u16) -> Vec<u8> {
        let mut bytes = vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x0b, 0x08];
        bytes.extend(h.to_be_bytes());
        bytes.extend(w.to_be_bytes());
        bytes.extend([0x01, 0x01, 0x11, 0x00]);
        bytes
    }

    #[test]
    fn photos_are_images_of_bounded_size() {
        assert_eq!(photo(&jpeg(640, 480), "p"), Ok(ImageKind::Jpeg));
        assert_eq!(photo(&png(4, 4, false), "p"), Ok(ImageKind::Png));
        assert!(photo(PNG_MAGIC, "p").is_err(), "a bare PNG header is no photo");
        assert!(photo(&[0xff, 0xd8, 0xff, 0xe0], "p").is_err(), "a bare JPEG header is no photo");
        assert!(photo(&jpeg(0, 480), "p").is_err());
        let mut huge = jpeg(640, 480);
        huge.resize(MAX_PHOTO_BYTES + 1, 0);
        assert!(photo(&huge, "p").is_err());
    }

    #[test]
    fn a_signature_needs_ink() {
        assert_eq!(signature(&png(40, 20, true), "s"), Ok(()));
        assert!(signature(&png(40, 20, false), "s").is_err(), "blank");
        assert!(signature(&png(2001, 2, true), "s").is_err(), "too wide");
        assert!(signature(&png(40, 20, true)[..40], "s").is_err(), "truncated");
    }
}
