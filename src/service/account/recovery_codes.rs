//! Recovery codes: sixteen one-time codes a user signs in with when their authenticator
//! app is not at hand. Each is ten Crockford base32 characters (50 random bits), shown
//! once as `XXXXX-XXXXX`; only an HMAC-SHA256 of it under a key derived from the master
//! key is stored (a fast keyed hash suits random codes). A code is used up by one
//! conditional UPDATE, so of two concurrent uses of the same code exactly one succeeds.

use crate::crypto::random_bytes;
use crate::domain::ids::{TypedId, UserId};
use crate::domain::reason;
use crate::service::Account;
use crate::service::admin::user_rows::{snapshot, user_row};
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Audit, Error, Result};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, FromQueryResult};
use serde_json::json;
use uuid::Uuid;

/// How many codes a set holds.
pub const CODE_COUNT: usize = 16;

/// How many characters a code has (without the dash).
pub const CODE_LEN: usize = 10;

/// The audit activity of a new set of recovery codes.
pub const GENERATED: &str = "recovery_codes.generated";

/// The audit activity of a wrong or used recovery code at sign-in.
pub const FAILED: &str = "authentication.secondary.recovery_code.failed";

/// The purpose of the key the codes are hashed with.
const PURPOSE: &str = "recovery-code";

/// Crockford's base32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A code as the user types it, in its canonical form: upper case, without dashes or
/// spaces, with Crockford's I and L read as 1 and O as 0. `None` if it cannot be a code.
pub fn normalize(input: &str) -> Option<String> {
    let mut out = String::with_capacity(CODE_LEN);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' => continue,
            c if c.is_whitespace() => continue,
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == CODE_LEN).then_some(out)
}

/// A new random code, canonical (no dash).
fn new_code() -> String {
    // 256 is a multiple of 32, so each character is uniform.
    random_bytes::<CODE_LEN>().iter().map(|b| char::from(ALPHABET[usize::from(b % 32)])).collect()
}

/// A canonical code as it is shown: `XXXXX-XXXXX`.
pub fn display(code: &str) -> String {
    let (a, b) = code.split_at(code.len() / 2);
    format!("{a}-{b}")
}

fn wrong_code() -> Error {
    Error::invalid(reason::INVALID_CREDENTIALS, "this recovery code is not correct or has already been used")
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

impl Account<'_> {
    fn recovery_code_hash(&self, canonical: &str) -> String {
        self.mac_b64(PURPOSE, canonical.as_bytes())
    }

    /// Makes a new set of recovery codes for the user, replacing any previous set, and
    /// returns them for display (`XXXXX-XXXXX`); they are never shown again.
    pub async fn generate_recovery_codes(&self, user_id: UserId, actor: &Actor) -> Result<Vec<String>> {
        let mut codes: Vec<String> = Vec::with_capacity(CODE_COUNT);
        while codes.len() < CODE_COUNT {
            let c = new_code();
            if !codes.contains(&c) {
                codes.push(c);
            }
        }
        let hashes: Vec<String> = codes.iter().map(|c| self.recovery_code_hash(c)).collect();
        let t = micros(now());
        let audit = Audit { actor: actor.clone(), activity: GENERATED.into() };
        self.write(async |tx| {
            let txn = tx.conn();
            let row = user_row(txn, user_id.uuid()).await?;
            let del = Query::delete()
                .from_table("recovery_codes")
                .and_where(Expr::col("user_id").eq(user_id.uuid()))
                .to_owned();
            txn.execute(&del).await?;
            let mut ins = Query::insert();
            ins.into_table("recovery_codes").columns(["id", "user_id", "code_hash", "created_at"]);
            for h in &hashes {
                ins.values([Uuid::now_v7().into(), user_id.uuid().into(), h.clone().into(), t.into()])
                    .map_err(Error::internal)?;
            }
            txn.execute(&ins).await?;
            tx.record(&audit, Some(row.id), json!({"user": snapshot(&row), "recovery_codes": CODE_COUNT})).await?;
            Ok::<(), Error>(())
        })
        .await?;
        Ok(codes.iter().map(|c| display(c)).collect())
    }

    /// Uses one of the user's recovery codes: accepted once, by one conditional UPDATE.
    pub async fn use_recovery_code(&self, user_id: UserId, code: &str) -> Result<()> {
        let canonical = normalize(code).ok_or_else(wrong_code)?;
        let stmt = Query::update()
            .table("recovery_codes")
            .value("consumed_at", micros(now()))
            .and_where(Expr::col("user_id").eq(user_id.uuid()))
            .and_where(Expr::col("code_hash").eq(self.recovery_code_hash(&canonical)))
            .and_where(Expr::col("consumed_at").is_null())
            .to_owned();
        // One statement: it autocommits on the writer connection.
        let done = self.db.writer().await?.execute(&stmt).await?;
        if done.rows_affected() == 1 { Ok(()) } else { Err(wrong_code()) }
    }

    /// How many of the user's recovery codes are still unused.
    pub async fn unused_recovery_codes(&self, user_id: UserId) -> Result<u64> {
        let q = Query::select()
            .expr_as(Expr::col("id").count(), "n")
            .from("recovery_codes")
            .and_where(Expr::col("user_id").eq(user_id.uuid()))
            .and_where(Expr::col("consumed_at").is_null())
            .to_owned();
        let n = match self.db.reader().query_one(&q).await? {
            Some(row) => Count::from_query_result(&row, "").map_err(Error::from)?.n,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_crockford_and_normalize() {
        let c = new_code();
        assert_eq!(c.len(), CODE_LEN);
        assert_eq!(normalize(&display(&c)).as_deref(), Some(c.as_str()));
        assert_eq!(normalize(" abcde-fghjk ").as_deref(), Some("ABCDEFGHJK"));
        assert_eq!(normalize("iLo00-11111").as_deref(), Some("1100011111"));
        assert_eq!(normalize("UUUUUUUUUU"), None);
        assert_eq!(normalize("ABC"), None);
    }
}
