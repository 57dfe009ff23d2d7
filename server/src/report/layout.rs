//! A small flowing layout for the report: text wrapped to measured widths, fields, tables and
//! images on A4 pages. krilla draws and subsets but does not lay out, so this does.

use std::sync::Arc;

use krilla::Document;
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::TextDirection;

use super::font::ReportFont;

/// A4 in points.
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 48.0;
/// Room kept at the foot of each page for its number.
const FOOTER: f32 = 24.0;
const BODY: f32 = 9.5;
const LEADING: f32 = 1.45;
/// Width of a field's label column.
const LABEL_WIDTH: f32 = 130.0;

/// One thing drawn on a page; `y` is the text baseline or the top of a box.
enum Mark {
    Text { x: f32, y: f32, size: f32, text: String, gray: bool },
    Rule { y: f32 },
    Image { x: f32, y: f32, width: f32, height: f32, png: Arc<Vec<u8>> },
}

/// Lays the report out page by page.
pub(super) struct Layout<'f> {
    font: &'f ReportFont,
    pages: Vec<Vec<Mark>>,
    /// Where the next line starts on the current page.
    y: f32,
}

impl<'f> Layout<'f> {
    pub fn new(font: &'f ReportFont) -> Self {
        Self { font, pages: vec![Vec::new()], y: MARGIN }
    }

    fn content_width() -> f32 {
        PAGE_WIDTH - 2.0 * MARGIN
    }

    fn line_height(size: f32) -> f32 {
        size * LEADING
    }

    /// Starts a new page when `height` more does not fit on this one.
    fn room(&mut self, height: f32) {
        if self.y + height > PAGE_HEIGHT - MARGIN - FOOTER && self.y > MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn mark(&mut self, mark: Mark) {
        if let Some(page) = self.pages.last_mut() {
            page.push(mark);
        }
    }

    fn text_at(&mut self, x: f32, size: f32, text: &str, gray: bool) {
        let y = self.y + size;
        self.mark(Mark::Text { x, y, size, text: text.to_owned(), gray });
    }

    /// The document's title and the line under it.
    pub fn title(&mut self, title: &str, subtitle: &str) {
        self.text_at(MARGIN, 18.0, title, false);
        self.y += Self::line_height(18.0);
        self.text_at(MARGIN, BODY, subtitle, true);
        self.y += Self::line_height(BODY) + 4.0;
        let y = self.y;
        self.mark(Mark::Rule { y });
        self.y += 8.0;
    }

    /// A section heading, kept with at least two lines after it.
    pub fn heading(&mut self, text: &str) {
        self.room(Self::line_height(12.0) + 3.0 * Self::line_height(BODY));
        self.y += 6.0;
        self.text_at(MARGIN, 12.0, text, false);
        self.y += Self::line_height(12.0) + 2.0;
    }

    /// `label: value`, the value wrapped in its column; nothing for an empty value.
    pub fn field(&mut self, label: &str, value: &str) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let lines = self.wrap(value, BODY, Self::content_width() - LABEL_WIDTH);
        for (i, line) in lines.iter().enumerate() {
            self.room(Self::line_height(BODY));
            if i == 0 {
                self.text_at(MARGIN, BODY, label, true);
            }
            self.text_at(MARGIN + LABEL_WIDTH, BODY, line, false);
            self.y += Self::line_height(BODY);
        }
    }

    /// A paragraph across the full width.
    pub fn paragraph(&mut self, text: &str, gray: bool) {
        for line in self.wrap(text, BODY, Self::content_width()) {
            self.room(Self::line_height(BODY));
            self.text_at(MARGIN, BODY, &line, gray);
            self.y += Self::line_height(BODY);
        }
    }

    /// A table: column shares of the width (summing to 1), a gray header row, then rows whose
    /// cells wrap within their columns.
    pub fn table(&mut self, shares: &[f32], header: &[&str], rows: &[Vec<String>]) {
        let widths: Vec<f32> = shares.iter().map(|s| s * Self::content_width()).collect();
        let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
        self.row(&widths, &header, true);
        let y = self.y;
        self.mark(Mark::Rule { y });
        self.y += 2.0;
        for row in rows {
            self.row(&widths, row, false);
        }
    }

    fn row(&mut self, widths: &[f32], cells: &[String], gray: bool) {
        let wrapped: Vec<Vec<String>> =
            cells.iter().zip(widths).map(|(cell, width)| self.wrap(cell, BODY, width - 6.0)).collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
        self.room(lines as f32 * Self::line_height(BODY));
        let top = self.y;
        let mut x = MARGIN;
        for (cell, width) in wrapped.iter().zip(widths) {
            self.y = top;
            for line in cell {
                self.text_at(x, BODY, line, gray);
                self.y += Self::line_height(BODY);
            }
            x += width;
        }
        self.y = top + lines as f32 * Self::line_height(BODY);
    }

    /// An image of `width` points, keeping its aspect ratio.
    pub fn image(&mut self, png: Arc<Vec<u8>>, pixel_size: (u32, u32), width: f32) {
        let (w, h) = pixel_size;
        if w == 0 || h == 0 {
            return;
        }
        let height = width * h as f32 / w as f32;
        self.room(height + 4.0);
        let y = self.y + 2.0;
        self.mark(Mark::Image { x: MARGIN + LABEL_WIDTH, y, width, height, png });
        self.y += height + 6.0;
    }

    /// `text` broken into lines no wider than `width`: between words, and anywhere between
    /// Chinese characters, which take no spaces.
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.lines() {
            let mut line = String::new();
            for token in tokens(paragraph) {
                let candidate = format!("{line}{token}");
                if line.is_empty() || self.font.width(candidate.trim_end(), size) <= width {
                    line = candidate;
                    // A single token wider than the column is cut by characters.
                    while self.font.width(line.trim_end(), size) > width && line.chars().count() > 1 {
                        let cut = self.fitting(&line, size, width);
                        lines.push(line[..cut].to_owned());
                        line = line[cut..].to_owned();
                    }
                } else {
                    lines.push(line.trim_end().to_owned());
                    line = token.trim_start().to_owned();
                }
            }
            lines.push(line.trim_end().to_owned());
        }
        lines
    }

    /// The byte length of the longest prefix of `text` (at least one character) that fits.
    fn fitting(&self, text: &str, size: f32, width: f32) -> usize {
        let mut end = text.chars().next().map_or(0, char::len_utf8);
        for (i, c) in text.char_indices().skip(1) {
            if self.font.width(&text[..i + c.len_utf8()], size) > width {
                break;
            }
            end = i + c.len_utf8();
        }
        end
    }

    /// Draws the pages, each with its number, and returns the PDF.
    pub fn finish(self, title: &str, lang: &str, page_label: &str) -> Result<Vec<u8>, String> {
        let mut document = Document::new();
        document.set_metadata(
            Metadata::new().title(title.to_owned()).language(lang.to_owned()).creator("Onsite".to_owned()),
        );
        let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).ok_or("page size")?;
        let count = self.pages.len();
        for (number, marks) in self.pages.into_iter().enumerate() {
            let mut page = document.start_page_with(settings.clone());
            let mut surface = page.surface();
            let footer = format!("{page_label} {} / {count}", number + 1);
            let footer_x = PAGE_WIDTH - MARGIN - self.font.width(&footer, 8.0);
            let marks = marks.into_iter().chain(std::iter::once(Mark::Text {
                x: footer_x,
                y: PAGE_HEIGHT - MARGIN,
                size: 8.0,
                text: footer,
                gray: true,
            }));
            for mark in marks {
                match mark {
                    Mark::Text { x, y, size, text, gray } => {
                        let shade = if gray { 0x55 } else { 0x00 };
                        surface.set_fill(Some(Fill { paint: luma::Color::new(shade).into(), ..Fill::default() }));
                        surface.draw_text(
                            Point::from_xy(x, y),
                            self.font.pdf(),
                            size,
                            &text,
                            false,
                            TextDirection::Auto,
                        );
                    }
                    Mark::Rule { y } => {
                        let mut path = PathBuilder::new();
                        path.move_to(MARGIN, y);
                        path.line_to(PAGE_WIDTH - MARGIN, y);
                        if let Some(path) = path.finish() {
                            surface.set_fill(None);
                            surface.set_stroke(Some(Stroke {
                                paint: luma::Color::new(0x99).into(),
                                width: 0.5,
                                ..Stroke::default()
                            }));
                            surface.draw_path(&path);
                            surface.set_stroke(None);
                        }
                    }
                    Mark::Image { x, y, width, height, png } => {
                        let image = Image::from_png(png.into(), true)?;
                        let size = Size::from_wh(width, height).ok_or("image size")?;
                        surface.push_transform(&Transform::from_translate(x, y));
                        surface.draw_image(image, size);
                        surface.pop();
                    }
                }
            }
            surface.finish();
            page.finish();
        }
        document.finish().map_err(|e| format!("{e:?}"))
    }
}

/// Break opportunities: a word with its trailing spaces, or one Chinese (wide) character.
fn tokens(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut after_space = false;
    for (i, c) in text.char_indices() {
        let wide = is_wide(c);
        if i > start && (wide || (after_space && !c.is_whitespace()) || is_wide_before(text, i)) {
            tokens.push(&text[start..i]);
            start = i;
        }
        after_space = c.is_whitespace();
    }
    if start < text.len() {
        tokens.push(&text[start..]);
    }
    tokens
}

/// Whether the character before byte `i` is wide, so a break may follow it.
fn is_wide_before(text: &str, i: usize) -> bool {
    text[..i].chars().next_back().is_some_and(is_wide)
}

/// CJK ideographs, kana, hangul and full-width forms: a line may break on either side.
fn is_wide(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x2FFFF)
}

#[cfg(test)]
mod tests {
    use super::tokens;

    #[test]
    fn lines_break_between_words_and_between_chinese_characters() {
        assert_eq!(tokens("Replaced the head"), ["Replaced ", "the ", "head"]);
        assert_eq!(tokens("更换打印头 PH-3"), ["更", "换", "打", "印", "头", " ", "PH-3"]);
        assert_eq!(tokens(""), Vec::<&str>::new());
    }
}
