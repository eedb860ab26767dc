//! The PostgreSQL destination's tables: created on first use, upgraded in place, a newer
//! version refused. The version lives in `<schema>.runner_schema`.

use tokio_postgres::{Client, GenericClient};

use super::target::Target;

/// The schema version this runner creates and reads.
pub const SCHEMA_VERSION: i32 = 2;

/// The whole schema for a new database, `{schema}` standing for the quoted schema name:
/// version 1's tables and every migration's.
pub const SCHEMA: &str = concat!(include_str!("schema.sql"), include_str!("schema_v2.sql"));

/// What turns version N into N + 1, from version 1 on.
pub const MIGRATIONS: &[&str] = &[
    // 2: the connections and leases of the workers.
    include_str!("schema_v2.sql"),
];

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
///
/// Existence is read from `pg_class` with the statement's snapshot, not with `to_regclass`:
/// that one looks in the session's catalog cache, which a session that just waited for
/// the advisory lock has not refreshed yet, and would miss the tables another runner has
/// just created.
async fn version(client: &impl GenericClient, schema: &str) -> Result<Option<i32>, tokio_postgres::Error> {
    let exists = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace              WHERE n.nspname = $1 AND c.relname = 'runner_schema')",
            &[&schema],
        )
        .await?
        .get::<_, bool>(0);
    if !exists {
        return Ok(None);
    }
    let table = format!("{}.runner_schema", quote(schema));
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

    /// Against a real server: a database of version 1 is upgraded in place by the
    /// migrations, keeping its rows; one newer than the runner is refused.
    #[test]
    fn an_older_schema_is_upgraded_in_place_and_a_newer_one_refused() {
        let Some(cluster) = throwaway_postgres::require("an_older_schema_is_upgraded_in_place") else { return };
        cluster.create_database("schema_migrations").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let url = cluster.url("schema_migrations");
            let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let v1 =
                "CREATE TABLE {schema}.items (a int); CREATE TABLE {schema}.runner_schema (version integer NOT NULL);";
            ensure_with(&mut client, "mig", v1, &[]).await.unwrap();
            client.batch_execute("INSERT INTO mig.items VALUES (1)").await.unwrap();
            let v2 = ["ALTER TABLE {schema}.items ADD COLUMN b int NOT NULL DEFAULT 7"];
            ensure_with(&mut client, "mig", "unused for an existing database", &v2).await.unwrap();
            let row = client.query_one("SELECT a, b FROM mig.items", &[]).await.unwrap();
            assert_eq!((row.get::<_, i32>(0), row.get::<_, i32>(1)), (1, 7));
            let version = client.query_one("SELECT version FROM mig.runner_schema", &[]).await.unwrap();
            assert_eq!(version.get::<_, i32>(0), 2);
            let newer = ensure_with(&mut client, "mig", v1, &[]).await;
            assert!(matches!(newer, Err(EnsureError::Newer(2))), "{newer:?}");
        });
    }

    /// The real version 1 upgraded by the real migrations keeps its rows and ends up with
    /// exactly the tables, columns and indexes of a database created new.
    #[test]
    fn the_real_version_1_upgrades_to_the_schema_of_a_new_database() {
        let Some(cluster) = throwaway_postgres::require("the_real_version_1_upgrades") else { return };
        cluster.create_database("schema_real_upgrade").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let url = cluster.url("schema_real_upgrade");
            let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            ensure_with(&mut client, "old", include_str!("schema.sql"), &[]).await.unwrap();
            client
                .batch_execute(
                    "INSERT INTO old.stream_state (connection, stream_id, state, updated_at) \
                     VALUES ('pd', 's1', '{\"cursor\": 3}', now())",
                )
                .await
                .unwrap();
            ensure_with(&mut client, "old", SCHEMA, MIGRATIONS).await.unwrap();
            ensure_with(&mut client, "new", SCHEMA, MIGRATIONS).await.unwrap();
            let state = client.query_one("SELECT state::text FROM old.stream_state", &[]).await.unwrap();
            assert_eq!(state.get::<_, String>(0), r#"{"cursor": 3}"#);
            let catalog = |schema: &'static str| {
                let client = &client;
                async move {
                    let columns = "SELECT string_agg(table_name || '.' || column_name || ' ' || data_type || ' ' || \
                                   is_nullable || ' ' || coalesce(column_default, ''), E'\\n' \
                                   ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema = $1";
                    let indexes = "SELECT string_agg(replace(indexdef, $1 || '.', ''), E'\\n' ORDER BY indexname) \
                                   FROM pg_indexes WHERE schemaname = $1";
                    let columns: String = client.query_one(columns, &[&schema]).await.unwrap().get(0);
                    let indexes: String = client.query_one(indexes, &[&schema]).await.unwrap().get(0);
                    format!("{columns}\n{indexes}").replace(&format!("{schema}."), "")
                }
            };
            let (old, new) = (catalog("old").await, catalog("new").await);
            assert!(new.contains("connections.epoch bigint") && new.contains("sync_runs_running"), "{new}");
            assert_eq!(old, new, "an upgraded database is shaped like a new one");
        });
    }

    #[test]
    fn the_schema_names_every_table_with_the_placeholder() {
        for table in
            ["records", "rejected_records", "stream_state", "sync_runs", "run_logs", "runner_schema", "connections"]
        {
            assert!(SCHEMA.contains(&format!("CREATE TABLE {{schema}}.{table} (")), "{table}");
        }
        assert_eq!(MIGRATIONS.len() + 1, usize::try_from(SCHEMA_VERSION).unwrap());
        assert!(MIGRATIONS[0].contains("CREATE TABLE {schema}.checkpoint_log"));
        assert!(!MIGRATIONS[0].contains("CREATE TABLE {schema}.records"), "a migration holds only its own tables");
    }
}
