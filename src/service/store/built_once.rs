//! Statement texts built once: sea-query writes a statement's text anew on every build,
//! which for a select of a few dozen columns costs more than SQLite's read of its row
//! (docs/benchmarks.md). For a statement whose text never changes, only its values, the
//! text of its first build is kept.

use std::sync::OnceLock;

use sea_orm::{DbBackend, Statement, Value};

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
        let slot = &self.texts[usize::from(backend == DbBackend::Postgres)];
        let kept = slot.get_or_init(|| {
            let built = build();
            let same = built.values.as_ref().is_some_and(|v| v.0 == values);
            same.then_some(built.sql)
        });
        match kept {
            Some(sql) => Statement::from_sql_and_values(backend, sql.as_str(), values),
            None => build(),
        }
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
    fn values_in_another_order_are_never_kept() {
        let once = BuiltOnce::new();
        let wrong = once.statement(DbBackend::Sqlite, vec!["p".into(), 1i64.into()], || select(1, "p"));
        assert_eq!(wrong.values.map(|v| v.0), Some(vec![Value::from(1i64), Value::from("p")]));
        let next = once.statement(DbBackend::Sqlite, vec!["q".into(), 2i64.into()], || select(2, "q"));
        assert_eq!(next.values.map(|v| v.0), Some(vec![Value::from(2i64), Value::from("q")]), "built anew");
    }
}
