//! The PostgreSQL destination's tables: created on first use, upgraded in place, a newer
//! version refused. The version lives in `<schema>.runner_schema`.

use tokio_postgres::{Client, GenericClient};

use super::target::Target;

/// The schema version this runner creates and reads.
pub const SCHEMA_VERSION: i32 = 1;

/// The whole schema for a new database, `{schema}` standing for the quoted schema name;
/// it already includes every migration.
pub const SCHEMA: &str = include_str!("schema.sql");

/// What turns version N into N + 1, from version 1 on (none yet: version 1 is the first).
pub const MIGRATIONS: &[&str] = &[];

/// Why the schema could not be made ready.
#[derive(Debug)]
pub enum EnsureError {
    /// The server refused (permissions, a lost connection...).
    Postgres(tokio_postgres::Error),
    /// The database was made by a newer runner (its version).
    Newer(i32),
}

impl From<tokio_postgres::Error> for EnsureError {
    fn from(error: tokio_postgres::Error) -> Self {
        EnsureError::Postgres(error)
    }
}

/// `name` as a quoted SQL identifier.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the target's schema and tables, or upgrades them, in one transaction under an
/// advisory lock (runners starting together take turns; the second finds the work done).
///
/// # Errors
/// [`EnsureError`].
pub async fn ensure(client: &mut Client, target: &Target) -> Result<(), EnsureError> {
    ensure_with(client, target.schema(), SCHEMA, MIGRATIONS).await
}

/// [`ensure`] with an explicit schema text and migrations (for the migration tests).
///
/// # Errors
/// [`EnsureError`].
pub async fn ensure_with(
    client: &mut Client,
    schema: &str,
    full: &str,
    migrations: &[&str],
) -> Result<(), EnsureError> {
    let latest = 1 + i32::try_from(migrations.len()).unwrap_or(i32::MAX - 1);
    // Cheap check first: most opens find the schema ready and take no lock.
    if version(client, schema).await? == Some(latest) {
        return Ok(());
    }
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("connector toolkit runner: {schema}")]).await?;
    let quoted = quote(schema);
    let found = version(&tx, schema).await?;
    match found {
        None => {
            let exists = tx.query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema]).await?.is_some();
            if !exists {
                tx.batch_execute(&format!("CREATE SCHEMA {quoted}")).await?;
            }
            tx.batch_execute(&full.replace("{schema}", &quoted)).await?;
            tx.execute(&format!("INSERT INTO {quoted}.runner_schema (version) VALUES ($1)"), &[&latest]).await?;
        }
        Some(found) if found > latest => return Err(EnsureError::Newer(found)),
        Some(found) if found < latest => {
            for migration in &migrations[usize::try_from(found - 1).unwrap_or(0)..] {
                tx.batch_execute(&migration.replace("{schema}", &quoted)).await?;
            }
            tx.execute(&format!("UPDATE {quoted}.runner_schema SET version = $1"), &[&latest]).await?;
        }
        Some(_) => {}
    }
    tx.commit().await?;
    Ok(())
}

/// The stored version, `None` when the tables do not exist yet.
async fn version(client: &impl GenericClient, schema: &str) -> Result<Option<i32>, tokio_postgres::Error> {
    let table = format!("{}.runner_schema", quote(schema));
    let exists = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&table]).await?.get::<_, bool>(0);
    if !exists {
        return Ok(None);
    }
    let row = client.query_opt(&format!("SELECT version FROM {table}"), &[]).await?;
    Ok(row.map(|row| row.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote("public"), "\"public\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn the_schema_names_every_table_with_the_placeholder() {
        for table in ["records", "rejected_records", "stream_state", "sync_runs", "run_logs", "runner_schema"] {
            assert!(SCHEMA.contains(&format!("CREATE TABLE {{schema}}.{table} (")), "{table}");
        }
        assert_eq!(MIGRATIONS.len() + 1, usize::try_from(SCHEMA_VERSION).unwrap());
    }
}
