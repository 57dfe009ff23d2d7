//! The report's font: Noto Sans CJK SC (Debian's `fonts-noto-cjk`), which covers Chinese and
//! Latin text alike. Only the glyphs a report uses are embedded: krilla subsets the font.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use skrifa::raw::FileRef;
use skrifa::string::StringId;
use skrifa::{FontRef, MetadataProvider};

/// Where Debian puts the font; `--report-font` names another.
pub const DEFAULT_PATH: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
/// The face of a collection the report uses.
const FAMILY: &str = "Noto Sans CJK SC";

/// A loaded font: its bytes and the face to use.
#[derive(Clone)]
pub struct ReportFont {
    data: Arc<Vec<u8>>,
    index: u32,
    pdf: krilla::text::Font,
}

impl std::fmt::Debug for ReportFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportFont").field("bytes", &self.data.len()).field("index", &self.index).finish()
    }
}

/// Why the font could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("the report font {0} cannot be read ({1}); install Debian's fonts-noto-cjk or pass --report-font")]
    Unreadable(PathBuf, std::io::Error),
    #[error("the report font {0} is not an OpenType font or collection")]
    NotAFont(PathBuf),
}

impl ReportFont {
    /// Loads the font at `path`; in a collection, the Simplified Chinese face (else the first).
    pub fn load(path: &Path) -> Result<Self, FontError> {
        let data = std::fs::read(path).map_err(|e| FontError::Unreadable(path.to_owned(), e))?;
        let index = simplified_chinese_face(&data).ok_or_else(|| FontError::NotAFont(path.to_owned()))?;
        let data = Arc::new(data);
        let pdf =
            krilla::text::Font::new(data.clone().into(), index).ok_or_else(|| FontError::NotAFont(path.to_owned()))?;
        Ok(Self { data, index, pdf })
    }

    /// The font as krilla draws it.
    pub fn pdf(&self) -> krilla::text::Font {
        self.pdf.clone()
    }

    /// The width of `text` at `size` points, from the font's advances.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let Ok(font) = FontRef::from_index(&self.data, self.index) else { return 0.0 };
        let charmap = font.charmap();
        let metrics = font.glyph_metrics(skrifa::instance::Size::new(size), skrifa::instance::LocationRef::default());
        text.chars().map(|c| charmap.map(c).and_then(|g| metrics.advance_width(g)).unwrap_or(size * 0.5)).sum()
    }
}

/// The index of the face named [`FAMILY`], 0 for a single font, `None` for no font at all.
fn simplified_chinese_face(data: &[u8]) -> Option<u32> {
    match FileRef::new(data).ok()? {
        FileRef::Font(_) => Some(0),
        FileRef::Collection(collection) => {
            let named = (0..collection.len()).find(|&i| {
                FontRef::from_index(data, i).is_ok_and(|font| {
                    font.localized_strings(StringId::FAMILY_NAME)
                        .english_or_first()
                        .is_some_and(|name| name.chars().eq(FAMILY.chars()))
                })
            });
            Some(named.unwrap_or(0))
        }
    }
}
