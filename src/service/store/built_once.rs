//! Statement texts built once: sea-query writes a statement's text anew on every build,
//! which for a select of a few dozen columns costs more than SQLite's read of its row
//! (docs/benchmarks.md). For a statement whose text never changes, only its values, the
//! text of its first build is kept.

use std::sync::OnceLock;

use sea_orm::{ActiveModelTrait, DbBackend, EntityTrait, Iterable, QueryTrait, Statement, Value};

/// The kept text of one statement, per kind of database.
pub(in crate::service) struct BuiltOnce {
    texts: [OnceLock<Option<String>>; 2],
}

impl BuiltOnce {
    /// Nothing kept yet.
    pub(in crate::service) const fn new() -> Self {
        Self { texts: [OnceLock::new(), OnceLock::new()] }
    }

    /// The statement `build` makes, with `values`: from the kept text once a first build
    /// has shown that its text takes exactly `values`, in that order (else it is built each
    /// time). `build` must make a text that depends on nothing but `backend`.
    pub(in crate::service) fn statement(
        &self,
        backend: DbBackend,
        values: Vec<Value>,
        build: impl Fn() -> Statement,
    ) -> Statement {
        self.statement_of(backend, values, |_| build())
    }

    /// [`Self::statement`] with `build` given the values.
    fn statement_of(&self, backend: DbBackend, values: Vec<Value>, build: impl Fn(&[Value]) -> Statement) -> Statement {
        let slot = &self.texts[usize::from(backend == DbBackend::Postgres)];
        let kept = slot.get_or_init(|| {
            let built = build(&values);
            let same = built.values.as_ref().is_some_and(|v| v.0 == values);
            debug_assert!(same, "a statement kept once takes other values than its build: {}", built.sql);
            same.then_some(built.sql)
        });
        match kept {
            Some(sql) => Statement::from_sql_and_values(backend, sql.as_str(), values),
            None => build(&values),
        }
    }

    /// The insert of `row` (without `RETURNING`), its text kept as [`Self::statement`]
    /// keeps it when every column of `row` is set; else built each time.
    pub(in crate::service) fn insert<A: ActiveModelTrait>(&self, backend: DbBackend, mut row: A) -> Statement {
        let columns = <A::Entity as EntityTrait>::Column::iter();
        if columns.clone().any(|c| row.is_not_set(c)) {
            // sea-orm leaves an unset column out of the text.
            return sea_orm::Insert::one(row).build(backend);
        }
        let values = columns.clone().filter_map(|c| row.take(c).into_value()).collect();
        self.statement_of(backend, values, |values| {
            let mut row = A::default();
            for (c, v) in columns.clone().zip(values) {
                row.set(c, v.clone());
            }
            sea_orm::Insert::one(row).build(backend)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{Expr, ExprTrait, Query, SqliteQueryBuilder};

    fn select(a: i64, b: &str) -> Statement {
        let q = Query::select()
            .column("x")
            .from("t")
            .and_where(Expr::col("a").eq(a))
            .and_where(Expr::col("b").eq(b))
            .to_owned();
        let (sql, values) = q.build(SqliteQueryBuilder);
        Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
    }

    #[test]
    fn the_kept_text_takes_the_new_values() {
        let once = BuiltOnce::new();
        let first = once.statement(DbBackend::Sqlite, vec![1i64.into(), "p".into()], || select(1, "p"));
        let second = once.statement(DbBackend::Sqlite, vec![2i64.into(), "q".into()], || select(2, "q"));
        assert_eq!(first.sql, second.sql);
        assert_eq!(second.values.map(|v| v.0), Some(vec![Value::from(2i64), Value::from("q")]));
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "takes other values"))]
    fn values_in_another_order_are_never_kept() {
        let once = BuiltOnce::new();
        let wrong = once.statement(DbBackend::Sqlite, vec!["p".into(), 1i64.into()], || select(1, "p"));
        assert_eq!(wrong.values.map(|v| v.0), Some(vec![Value::from(1i64), Value::from("p")]));
        let next = once.statement(DbBackend::Sqlite, vec!["q".into(), 2i64.into()], || select(2, "q"));
        assert_eq!(next.values.map(|v| v.0), Some(vec![Value::from(2i64), Value::from("q")]), "built anew");
    }

    fn role(key: &str) -> entity::role::ActiveModel {
        entity::role::ActiveModel {
            id: sea_orm::Set(uuid::Uuid::now_v7()),
            key: sea_orm::Set(key.into()),
            name: sea_orm::Set(None),
            description: sea_orm::Set(None),
            created_at: sea_orm::Set(1),
            updated_at: sea_orm::Set(2),
        }
    }

    #[test]
    fn an_insert_of_every_column_keeps_its_text_and_takes_the_new_row() {
        let once = BuiltOnce::new();
        let first = once.insert(DbBackend::Sqlite, role("a"));
        let second_row = role("b");
        let id = second_row.id.clone().unwrap();
        let second = once.insert(DbBackend::Sqlite, second_row);
        assert_eq!(first.sql, second.sql);
        let values = second.values.map(|v| v.0).unwrap_or_default();
        assert!(values.contains(&Value::from(id)) && values.contains(&Value::from("b")), "{values:?}");
    }

    #[test]
    fn an_insert_with_a_column_not_set_is_built_without_it() {
        let once = BuiltOnce::new();
        let full = once.insert(DbBackend::Sqlite, role("a"));
        let mut partial = role("b");
        partial.name = sea_orm::NotSet;
        let built = once.insert(DbBackend::Sqlite, partial);
        assert_ne!(full.sql, built.sql);
        assert_eq!(built.values.map(|v| v.0.len()), Some(5));
    }
}
