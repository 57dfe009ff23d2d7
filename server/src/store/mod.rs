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
        // SQLite's busy handler is not fair: under a queue of writers a waiter can keep losing
        // the lock to newcomers. A long timeout lets it win in the end; past it the caller
        // gets UNAVAILABLE (DATABASE_BUSY) and retries, never a lost write.
        options
            .max_connections(4)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| o.pragma("temp_store", "memory").busy_timeout(Duration::from_secs(60)));
    } else {
        options.max_connections(16);
    }
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    Ok(db)
}

/// The pool's connections in use and idle.
pub fn pool_use(db: &DatabaseConnection) -> (u32, u32) {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
            (pool.size().saturating_sub(idle), idle)
        }
        _ => {
            let pool = db.get_postgres_connection_pool();
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
            (pool.size().saturating_sub(idle), idle)
        }
    }
}

/// The URL of the embedded database in `data_dir`, created when missing.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("onsite.db").display())
}

/// Makes `data_dir` and the database file in it private to the server's user (0700 and
/// 0600). SQLite gives its journal and WAL files the database file's permissions.
pub fn private_data_dir(data_dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::create_dir_all(data_dir)?;
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    let database = data_dir.join("onsite.db");
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&database)?;
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o600))
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn the_data_directory_and_its_files_are_private() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = root.path().join("onsite-data");
        private_data_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        let db = connect(&sqlite_url(&dir)).await.unwrap_or_else(|e| panic!("{e}"));
        migrations::migrate(&db).await.unwrap_or_else(|e| panic!("{e}"));
        let mode = |name: &str| {
            let path = if name.is_empty() { dir.clone() } else { dir.join(name) };
            std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        assert_eq!(mode(""), 0o700);
        assert_eq!(mode("onsite.db"), 0o600);
        // Written while the connection is open: the log has the database's permissions.
        assert_eq!(mode("onsite.db-wal"), 0o600);
        // Starting again keeps them so.
        private_data_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((mode(""), mode("onsite.db")), (0o700, 0o600));
    }
}
