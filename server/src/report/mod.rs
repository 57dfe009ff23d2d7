//! The after-sales service record as a PDF (`ReportService/GetServiceReport`): the visit's
//! facts, laid out with bilingual labels and the customer's signature, in a subset of a CJK
//! font so Chinese names and addresses print as written.

mod facts;
pub mod font;
pub mod labels;
mod layout;
mod record;

pub use facts::gather;
pub use font::{FontError, ReportFont};
pub use labels::Lang;
pub use record::{ServiceRecord, SignatureImage, render};

use std::path::PathBuf;

use tokio::sync::OnceCell;

/// The font, loaded on the first report and kept: 19 MB read once, not per request.
#[derive(Debug, Default)]
pub struct Fonts {
    path: PathBuf,
    loaded: OnceCell<Result<ReportFont, String>>,
}

impl Fonts {
    pub fn new(path: PathBuf) -> Self {
        Self { path, loaded: OnceCell::new() }
    }

    /// The font, or why it cannot be used.
    pub async fn get(&self) -> Result<&ReportFont, String> {
        let path = self.path.clone();
        let loaded = self
            .loaded
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || ReportFont::load(&path).map_err(|e| e.to_string()))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()))
            })
            .await;
        loaded.as_ref().map_err(Clone::clone)
    }
}
