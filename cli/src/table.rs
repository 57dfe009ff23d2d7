//! What a command prints: a few labelled fields and tables, as aligned text for people or as
//! one JSON object for scripts.

use serde_json::{Map, Value};

/// A table being built.
#[derive(Debug)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headers.
    pub fn new<const N: usize>(headers: [&str; N]) -> Self {
        Self { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    /// Adds a row.
    pub fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows.push(cells.into_iter().map(|c| c.replace('\n', " ")).collect());
    }

    /// The table as text, columns padded to their widest cell.
    pub fn render(&self) -> String {
        let all: Vec<&Vec<String>> = std::iter::once(&self.headers).chain(&self.rows).collect();
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| all.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in all {
            let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        if self.rows.is_empty() {
            out.push_str("(none)\n");
        }
        out
    }

    /// The table as CSV (RFC 4180): a header line, then one line per row.
    pub fn csv(&self) -> String {
        let line = |cells: &[String]| {
            let quoted: Vec<String> = cells
                .iter()
                .map(|c| {
                    if c.contains([',', '"', '\n', '\r']) {
                        format!("\"{}\"", c.replace('"', "\"\""))
                    } else {
                        c.clone()
                    }
                })
                .collect();
            quoted.join(",") + "\r\n"
        };
        std::iter::once(&self.headers).chain(&self.rows).map(|r| line(r)).collect()
    }

    /// The rows as JSON objects keyed by the lower-case headers.
    pub fn to_json(&self) -> Value {
        let keys: Vec<String> = self.headers.iter().map(|h| json_key(h)).collect();
        Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    let object: Map<String, Value> =
                        keys.iter().cloned().zip(row.iter().map(|c| Value::String(c.clone()))).collect();
                    Value::Object(object)
                })
                .collect(),
        )
    }
}

/// `NO.` -> `no`, `TRAVEL (STRAIGHT LINE)` -> `travel_straight_line`.
fn json_key(header: &str) -> String {
    let words: Vec<String> =
        header.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    words.join("_")
}

/// Writes to standard output; false when the reader went away (`onsitectl ... | head`), which
/// is no error to report.
pub fn out(text: &str) -> bool {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).is_ok()
}

/// Everything one command prints.
#[derive(Debug, Default)]
pub struct Report {
    fields: Vec<(String, String)>,
    tables: Vec<(String, Table)>,
}

impl Report {
    /// Adds a labelled value.
    pub fn field(&mut self, name: &str, value: impl ToString) -> &mut Self {
        self.fields.push((name.to_owned(), value.to_string()));
        self
    }

    /// Adds a table under `name`.
    pub fn table(&mut self, name: &str, table: Table) -> &mut Self {
        self.tables.push((name.to_owned(), table));
        self
    }

    /// Prints as text, or as one JSON object when `json`.
    pub fn print(&self, json: bool) {
        if json {
            out(&format!("{}\n", self.to_json()));
        } else {
            out(&self.render());
        };
    }

    /// The report as text: fields, then tables (titled when there are several).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, value) in &self.fields {
            out.push_str(&format!("{name}: {value}\n"));
        }
        for (i, (name, table)) in self.tables.iter().enumerate() {
            if self.tables.len() > 1 || !self.fields.is_empty() {
                out.push_str(&format!("{}{name}\n", if i > 0 || !self.fields.is_empty() { "\n" } else { "" }));
            }
            out.push_str(&table.render());
        }
        out
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        for (name, value) in &self.fields {
            object.insert(json_key(name), Value::String(value.clone()));
        }
        for (name, table) in &self.tables {
            object.insert(json_key(name), table.to_json());
        }
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(["A", "LONG HEADER"]);
        t.row(["wide cell".into(), "x".into()]);
        assert_eq!(t.render(), "A          LONG HEADER\nwide cell  x\n");
        assert!(Table::new(["A"]).render().ends_with("(none)\n"));
    }

    #[test]
    fn json_uses_header_keys() {
        let mut t = Table::new(["NO.", "TRAVEL (STRAIGHT LINE)"]);
        t.row(["17".into(), "12 min".into()]);
        let mut report = Report::default();
        report.field("Search radius", "100 km").table("suggestions", t);
        assert_eq!(
            report.to_json().to_string(),
            r#"{"search_radius":"100 km","suggestions":[{"no":"17","travel_straight_line":"12 min"}]}"#
        );
    }

    #[test]
    fn csv_quotes_what_would_break_a_field() {
        let mut table = Table::new(["NAME", "NOTE"]);
        table.row(["江南纺织有限公司".into(), "said \"fine\", then left".into()]);
        assert_eq!(table.csv(), "NAME,NOTE\r\n江南纺织有限公司,\"said \"\"fine\"\", then left\"\r\n");
    }
}
