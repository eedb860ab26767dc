//! How a typed table follows its schema without losing a value: the change from the
//! columns it has to the columns the schema gives, decided here, applied by
//! [`super::apply`].
//!
//! - A new property: its column is added, then filled for the rows there are from
//!   their stored JSON.
//! - A widening (an integer column now a number, any column now JSON): the column is
//!   altered in place where the store can (PostgreSQL), then refilled from the stored
//!   JSON; a store that cannot alter a column's type (SQLite) rebuilds the table.
//! - Anything else (a property gone, a type narrowed or changed, a name now given to
//!   another property): the table is dropped, created again and filled from the stored
//!   JSON, in the same transaction, so readers see the old table or the new one.

use super::layout::Column;

/// What a typed table needs so that it has `new`'s columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It has them.
    Unchanged,
    /// It does not exist (or is known to be behind `records`): created and filled.
    Create,
    /// Columns to add and columns whose type widens; every other column stays.
    Alter {
        /// Columns the table does not have.
        added: Vec<Column>,
        /// Columns whose type widens to the one given.
        widened: Vec<Column>,
    },
    /// Dropped, created again and filled from the stored JSON.
    Rebuild,
}

/// The change from the columns a table has (`None`: no table yet, or one to fill again)
/// to the columns its schema gives.
pub fn plan(old: Option<&[Column]>, new: &[Column]) -> Change {
    let Some(old) = old else { return Change::Create };
    let mut widened = Vec::new();
    for before in old {
        let Some(after) = new.iter().find(|c| c.name == before.name) else { return Change::Rebuild };
        if after.property != before.property || after.link_id != before.link_id || !before.ty.widens_to(after.ty) {
            return Change::Rebuild;
        }
        if after.ty != before.ty {
            widened.push(after.clone());
        }
    }
    let added: Vec<Column> = new.iter().filter(|c| !old.iter().any(|o| o.name == c.name)).cloned().collect();
    if added.is_empty() && widened.is_empty() {
        Change::Unchanged
    } else {
        Change::Alter { added, widened }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typed::layout::ColumnType::{self, *};

    fn column(name: &str, ty: ColumnType) -> Column {
        Column { name: name.into(), property: name.into(), ty, link_id: false }
    }

    #[test]
    fn no_table_is_created_and_the_same_columns_change_nothing() {
        let columns = [column("a", Text)];
        assert_eq!(plan(None, &columns), Change::Create);
        assert_eq!(plan(Some(&columns), &columns), Change::Unchanged);
    }

    #[test]
    fn a_new_property_adds_a_column() {
        let (old, new) = ([column("a", Text)], [column("a", Text), column("b", Integer)]);
        assert_eq!(plan(Some(&old), &new), Change::Alter { added: vec![column("b", Integer)], widened: vec![] });
    }

    #[test]
    fn widenings_alter_the_column() {
        for (from, to) in [(Integer, Number), (Text, Json), (Timestamp, Json), (Boolean, Json), (Number, Json)] {
            let (old, new) = ([column("a", from)], [column("a", to)]);
            assert_eq!(plan(Some(&old), &new), Change::Alter { added: vec![], widened: vec![column("a", to)] });
        }
    }

    #[test]
    fn any_other_change_rebuilds() {
        for (from, to) in [(Number, Integer), (Json, Text), (Text, Integer), (Timestamp, Text), (Integer, Boolean)] {
            assert_eq!(plan(Some(&[column("a", from)]), &[column("a", to)]), Change::Rebuild, "{from:?} → {to:?}");
        }
        assert_eq!(plan(Some(&[column("a", Text), column("b", Text)]), &[column("a", Text)]), Change::Rebuild);
        let moved = Column { property: "A".into(), ..column("a", Text) };
        assert_eq!(plan(Some(&[column("a", Text)]), &[moved]), Change::Rebuild, "the name went to another property");
    }
}
