//! Page tokens (AIP-158).
//!
//! A token carries the sort key of the last item and a hash of the filters it was made for, so
//! a token reused with other filters is refused instead of silently returning the wrong page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Default and largest page sizes.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 200;

/// A validated page request.
#[derive(Debug)]
pub struct Page {
    pub size: u64,
    /// Sort key of the last item of the previous page.
    pub after: Option<String>,
    filter: String,
}

impl Page {
    /// Validates `page_size` and decodes `page_token` for the given filter description.
    pub fn new(page_size: i32, page_token: &str, filter: &str) -> Result<Self> {
        Self::with_limits(page_size, page_token, filter, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    }

    /// Like [`Page::new`] with other default and largest sizes.
    pub fn with_limits(page_size: i32, page_token: &str, filter: &str, default: u64, max: u64) -> Result<Self> {
        let size = match page_size {
            0 => default,
            n if n < 0 => return Err(Error::invalid("page_size", "must not be negative")),
            n => (n as u64).min(max),
        };
        let filter = hex::encode(&Sha256::digest(filter.as_bytes())[..8]);
        let after = if page_token.is_empty() {
            None
        } else {
            let bad = || Error::invalid("page_token", "is not a token from the previous page of this query");
            let raw = URL_SAFE_NO_PAD.decode(page_token).map_err(|_| bad())?;
            let text = String::from_utf8(raw).map_err(|_| bad())?;
            let (token_filter, key) = text.split_once('|').ok_or_else(bad)?;
            if token_filter != filter {
                return Err(bad());
            }
            Some(key.to_owned())
        };
        Ok(Self { size, after, filter })
    }

    /// How many rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> u64 {
        self.size + 1
    }

    /// Trims the extra row and returns the next token (empty on the last page).
    pub fn finish<T>(&self, rows: &mut Vec<T>, key: impl Fn(&T) -> String) -> String {
        if rows.len() as u64 <= self.size {
            return String::new();
        }
        rows.truncate(self.size as usize);
        rows.last().map(|last| URL_SAFE_NO_PAD.encode(format!("{}|{}", self.filter, key(last)))).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_bound_to_the_filter() {
        let page = Page::new(2, "", "status=open").unwrap_or_else(|e| panic!("{e}"));
        let mut rows = vec!["a", "b", "c"];
        let token = page.finish(&mut rows, |r| r.to_string());
        assert_eq!(rows, ["a", "b"]);
        let next = Page::new(2, &token, "status=open").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next.after.as_deref(), Some("b"));
        assert!(Page::new(2, &token, "status=closed").is_err());
        assert!(Page::new(2, "garbage!", "status=open").is_err());
        assert!(Page::new(-1, "", "").is_err());
    }
}
