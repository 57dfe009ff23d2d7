//! Storage: one schema on two backends, SQLite (embedded default) and PostgreSQL.

pub mod entities;
pub mod migrations;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Opens the database behind `url` (`sqlite://…` or `postgres://…`).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false).acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        // WAL lets readers run beside the one writer; writers queue on BEGIN IMMEDIATE.
        // Savepoints (one per pushed op) keep their statement journals in memory, not in
        // temporary files.
        options.max_connections(4).min_connections(1).map_sqlx_sqlite_opts(|o| o.pragma("temp_store", "memory"));
    } else {
        options.max_connections(16);
    }
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    Ok(db)
}

/// The URL of the embedded database in `data_dir`, created when missing.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("onsite.db").display())
}

/// Starts a transaction that will write.
///
/// On SQLite it takes the write lock at BEGIN (IMMEDIATE): a deferred transaction that reads
/// and then writes gets SQLITE_BUSY at once when another writer committed in between, without
/// waiting for the busy timeout.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let options = TransactionOptions {
        sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite)
            .then_some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.begin_with_options(options).await
}

/// Now, in storage form: microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    to_us(Utc::now())
}

/// An instant in storage form.
pub fn to_us(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// An instant from storage form.
pub fn from_us(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}
