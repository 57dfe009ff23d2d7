//! Storage operations of each resource: what a request does to the database, in one
//! transaction handed in by the caller. Handlers in `api` stay thin on top of these.

pub mod appointments;
pub mod audit;
pub mod board;
pub mod customer_updates;
pub mod customers;
pub mod devices;
pub mod engineers;
pub mod flags;
pub mod follow_ups;
pub mod parts;
pub mod quote_facts;
pub mod quotes;
pub mod records;
pub mod slips;
pub mod statistics;
pub mod tickets;

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::error::{Error, Result};

/// Bound parameters one multi-row statement may carry: under SQLite's limit (32,766) and
/// PostgreSQL's (65,535), with room to spare.
pub const PARAMETERS_PER_STATEMENT: usize = 16_000;

/// The etag of a row version (AIP-154).
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// An empty etag always passes; otherwise it must be the current one.
pub fn check_etag(given: &str, version: i64, resource: &'static str) -> Result<()> {
    if given.is_empty() || given == etag(version) { Ok(()) } else { Err(Error::StaleEtag { resource }) }
}

/// Runs SQL written with `$1, $2…` placeholders on either backend.
pub async fn query_one(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<sea_orm::QueryResult>> {
    let backend = db.get_database_backend();
    Ok(db.query_one_raw(Statement::from_sql_and_values(backend, placeholders(backend, sql), values)).await?)
}

/// All rows of SQL written with `$1, $2…` placeholders, on either backend.
pub async fn query_all(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Result<Vec<sea_orm::QueryResult>> {
    let backend = db.get_database_backend();
    Ok(db.query_all_raw(Statement::from_sql_and_values(backend, placeholders(backend, sql), values)).await?)
}

/// `$first, $first+1, …` for `count` values, for an `IN (…)` list.
pub fn parameter_list(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Executes SQL written with `$1, $2…` placeholders on either backend.
pub async fn execute(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Result<()> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(backend, placeholders(backend, sql), values)).await?;
    Ok(())
}

fn placeholders(backend: DbBackend, sql: &str) -> String {
    if backend == DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            // Numbered, so a parameter may appear twice (`?3 … ?3`).
            out.push('?');
            while let Some(digit) = chars.next_if(char::is_ascii_digit) {
                out.push(digit);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Joins a list for a text column, one entry per line.
pub fn join_lines(items: &[String]) -> String {
    items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join("\n")
}

/// Splits a text column written by [`join_lines`].
pub fn split_lines(text: &str) -> Vec<String> {
    text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let sql = "UPDATE t SET a = $1 WHERE b = $2 AND c = $10 AND d = $2";
        assert_eq!(placeholders(DbBackend::Sqlite, sql), "UPDATE t SET a = ?1 WHERE b = ?2 AND c = ?10 AND d = ?2");
        assert_eq!(placeholders(DbBackend::Postgres, sql), sql);
    }

    #[test]
    fn etags_compare() {
        assert!(check_etag("", 3, "ticket").is_ok());
        assert!(check_etag(&etag(3), 3, "ticket").is_ok());
        assert!(matches!(check_etag(&etag(2), 3, "ticket"), Err(Error::StaleEtag { .. })));
    }
}
