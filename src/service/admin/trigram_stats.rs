//! PostgreSQL: how common each trigram is among login IDs and names, estimated from a
//! sample, so that a keyword search hands the `pg_trgm` index only the rare part of a
//! keyword.
//!
//! A GIN index answers a `LIKE` pattern by reading the posting list of every trigram of the
//! pattern, whole: `%user123456@%` reads the lists of `use` and `ser`, which name every
//! user of a database whose emails all start with `user`, and costs about 7 ms over a
//! million users, where `%123456@%` costs 0.3 ms and finds the same row. The search asks the
//! index for the substring of the keyword that is cheapest by these statistics and checks
//! the whole keyword on the rows it returns. The statistics only steer the plan: a wrong or
//! stale estimate costs time, never a match.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::service::store::connections::ReadConn;

/// How long a sample is used before the next search has a new one taken.
const MAX_AGE: Duration = Duration::from_secs(600);
/// The same for tables sampled whole.
const SMALL_MAX_AGE: Duration = Duration::from_secs(10);
/// Rows sampled per column.
const SAMPLE_ROWS: f64 = 20_000.0;
/// Trigrams seen fewer times than this in a sample are "rare" (not kept).
const MIN_COUNT: f64 = 5.0;
/// Sampled values holding a keyword counted at most (a twentieth of the sample).
const MAX_HITS: u32 = 1_000;
/// Keyword substrings longer than this are not considered for the index: a longer one
/// only adds trigrams.
const MAX_PIECE_CHARS: usize = 16;
/// Pieces ranked again by counting them in the sampled values.
const PIECES_COUNTED: usize = 4;
/// Sampled values holding a piece's rarest trigram that are checked for the others at
/// most (a tenth of the sample): beyond, the rarest one's share bounds the candidates.
const CANDIDATES_COUNTED: usize = 2_000;
/// Where pieces may start: within the keyword's first this many characters.
const MAX_PIECE_STARTS: usize = 64;
/// The cost of a row the index returns (read and checked in the table) against one entry
/// of a trigram's posting list: about 0.3 µs against 3.5 ns on PostgreSQL 15.
const ROW_COST: f64 = 85.0;

/// Trigram frequencies of one column.
#[derive(Debug, Default)]
pub(in crate::service) struct Column {
    /// Rows of the column that the sample was taken from (an estimate).
    pub rows: f64,
    /// Rows sampled.
    sampled: f64,
    /// The sample was the whole table.
    whole: bool,
    /// The sampled values holding each trigram (indexes into `times`, ascending): a small
    /// copy of the trigram index.
    postings: HashMap<String, Vec<u32>>,
    /// The sampled values, folded, each followed by a NUL (which text never holds), in
    /// the list's creation order (oldest first).
    text: String,
    /// Where each value starts in `text`.
    starts: Vec<usize>,
    /// Each value's creation time (of the user), ascending.
    times: Vec<i64>,
    /// Values sampled, with their creation times, before [`Column::seal`] orders them.
    pending: Vec<(i64, String)>,
    /// The sampled values holding a symbol ([`has_symbol`]), as indexes into `times`.
    symbols: Vec<u32>,
}

/// A span of creation times, both ends included (`None`: open), and the end the list is
/// read from.
#[derive(Clone, Copy, Debug)]
pub(in crate::service) struct Span {
    /// Oldest time in the span.
    pub from: Option<i64>,
    /// Newest time in the span.
    pub to: Option<i64>,
    /// The list is read from the newest end.
    pub newest_first: bool,
}

impl Span {
    /// The part of the span from its start (in reading order) to `time`, included.
    pub fn until(self, time: i64) -> Self {
        if self.newest_first { Span { from: Some(time), ..self } } else { Span { to: Some(time), ..self } }
    }
}

impl Column {
    /// The share of rows that hold `trigram`.
    fn share(&self, trigram: &str) -> f64 {
        if self.sampled <= 0.0 {
            return 0.0;
        }
        let seen = self.postings.get(trigram).map_or(0.0, |p| p.len() as f64);
        let seen = if seen < MIN_COUNT { MIN_COUNT / 2.0 } else { seen };
        (seen / self.sampled).min(1.0)
    }

    /// Adds a sampled value (folded) and its user's creation time.
    fn push(&mut self, value: &str, time: i64) {
        self.pending.push((time, value.to_owned()));
    }

    /// Ends the sample: puts the values in creation order, counts them and indexes their
    /// trigrams.
    fn seal(&mut self) {
        let mut values = std::mem::take(&mut self.pending);
        values.sort_unstable();
        self.sampled = values.len() as f64;
        self.starts.reserve_exact(values.len());
        self.times.reserve_exact(values.len());
        for (i, (time, value)) in values.into_iter().enumerate() {
            for t in value_trigrams(&value) {
                self.postings.entry(t).or_default().push(i as u32);
            }
            if has_symbol(&value) {
                self.symbols.push(i as u32);
            }
            self.starts.push(self.text.len());
            self.times.push(time);
            self.text.push_str(&value);
            self.text.push('\0');
        }
    }

    /// Sampled values holding every one of `trigrams` (which the caller makes non-empty),
    /// as the trigram index would return them; `None` when the rarest is too common to
    /// count quickly.
    fn sampled_candidates(&self, trigrams: &[String]) -> Option<usize> {
        let mut lists = Vec::with_capacity(trigrams.len());
        for t in trigrams {
            match self.postings.get(t) {
                Some(list) => lists.push(list),
                None => return Some(0),
            }
        }
        lists.sort_by_key(|l| l.len());
        let (rarest, rest) = lists.split_first()?;
        if rarest.len() > CANDIDATES_COUNTED {
            return None;
        }
        Some(rarest.iter().filter(|i| rest.iter().all(|l| l.binary_search(i).is_ok())).count())
    }

    /// How many rows one sampled value stands for.
    pub fn weight(&self) -> f64 {
        if self.sampled > 0.0 { self.rows / self.sampled } else { 0.0 }
    }

    /// The sampled values within `span`, as indexes into `times`.
    fn indexes(&self, span: Span) -> std::ops::Range<usize> {
        let a = span.from.map_or(0, |t| self.times.partition_point(|&x| x < t));
        let b = span.to.map_or(self.times.len(), |t| self.times.partition_point(|&x| x <= t));
        a..b.max(a)
    }

    /// Sampled values within `span`.
    pub fn rows_in(&self, span: Span) -> usize {
        self.indexes(span).len()
    }

    /// Sampled values within `span` that hold a symbol: those in the partial index of
    /// migration `m20261212_000000_search_symbol_rows`.
    pub fn symbol_rows_in(&self, span: Span) -> usize {
        let r = self.indexes(span);
        let at = |i: usize| self.symbols.partition_point(|&x| (x as usize) < i);
        at(r.end) - at(r.start)
    }

    /// Sampled values between the start of `span` (in reading order) and `time`, included.
    pub fn rows_until(&self, span: Span, time: i64) -> usize {
        self.rows_in(span.until(time))
    }

    /// The creation times of the first `k` sampled values within `span` that hold
    /// `keyword` (folded), in the order the list reads them.
    pub fn hits(&self, keyword: &str, span: Span, k: usize) -> Vec<i64> {
        let mut out = Vec::new();
        let range = self.indexes(span);
        if keyword.is_empty() || range.is_empty() || k == 0 {
            return out;
        }
        let first = range.start;
        let text = self.text.as_bytes();
        let value_at = |offset: usize| self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        if span.newest_first {
            let finder = memchr::memmem::FinderRev::new(keyword.as_bytes());
            let mut end = self.starts.get(range.end).copied().unwrap_or(text.len());
            while out.len() < k {
                let Some(at) = finder.rfind(&text[self.starts[first]..end]) else { break };
                let i = value_at(self.starts[first] + at);
                out.push(self.times[i]);
                end = self.starts[i];
            }
        } else {
            let finder = memchr::memmem::Finder::new(keyword.as_bytes());
            let end = self.starts.get(range.end).copied().unwrap_or(text.len());
            let mut from = self.starts[first];
            while out.len() < k {
                let Some(at) = finder.find(&text[from..end]) else { break };
                let i = value_at(from + at);
                out.push(self.times[i]);
                from = self.starts.get(i + 1).copied().unwrap_or(end);
            }
        }
        out
    }

    /// Rows holding `keyword` (folded), estimated from the sampled values that hold it
    /// (half a sampled row's worth when none does).
    pub fn matches(&self, keyword: &str) -> f64 {
        if self.sampled <= 0.0 || keyword.is_empty() {
            return 0.0;
        }
        f64::from(self.count(keyword)).max(0.5) / self.sampled * self.rows
    }

    /// Rows the trigram index returns for `piece` (folded): those holding its rarest
    /// trigram at most; every row when it has none (the index cannot help).
    #[cfg(test)]
    pub fn candidates(&self, piece: &str) -> f64 {
        let chars = joined_chars(piece);
        self.trigram_candidates(&like_trigrams(&chars))
    }

    /// Rows holding every one of `trigrams`, estimated from the sample: counted where the
    /// rarest is rare enough, else bounded by its share; every row when there is none.
    fn trigram_candidates(&self, trigrams: &[String]) -> f64 {
        if trigrams.is_empty() || self.sampled <= 0.0 {
            return self.rows;
        }
        match self.sampled_candidates(trigrams) {
            Some(n) => (n as f64).max(0.5) / self.sampled * self.rows,
            None => trigrams.iter().map(|t| self.share(t)).fold(1.0_f64, f64::min) * self.rows,
        }
    }

    /// Sampled values holding `keyword` (folded), counted up to [`MAX_HITS`].
    fn count(&self, keyword: &str) -> u32 {
        let text = self.text.as_bytes();
        let finder = memchr::memmem::Finder::new(keyword.as_bytes());
        let (mut hits, mut from) = (0u32, 0);
        // Past `MAX_HITS` the estimate is only used to say "many".
        while hits < MAX_HITS {
            let Some(at) = finder.find(&text[from..]) else { break };
            hits += 1;
            // On to the next value.
            match memchr::memchr(0, &text[from + at..]) {
                Some(end) => from += at + end + 1,
                None => break,
            }
        }
        hits
    }

    /// Of the substrings of `keyword` (folded), the one cheapest to ask the trigram index
    /// for, the rows the index returns for it, and the rows expected to hold `keyword`.
    pub fn plan(&self, keyword: &str) -> Plan {
        let chars = joined_chars(keyword);
        let whole = like_trigrams(&chars);
        if self.sampled <= 0.0 {
            return Plan { piece: None, candidates: self.trigram_candidates(&whole), matches: 0.0 };
        }
        let bound = self.matches(keyword);
        let cost = |trigrams: &[String]| {
            let entries: f64 = trigrams.iter().map(|t| self.share(t)).sum();
            let rows = trigrams.iter().map(|t| self.share(t)).fold(1.0_f64, f64::min);
            (entries + rows * ROW_COST) * self.rows
        };
        let mut pieces: Vec<(f64, usize, usize)> = Vec::new();
        // A long keyword is rare anywhere: its first pieces are enough (and bound the work).
        for start in 0..std::cmp::min(chars.len(), MAX_PIECE_STARTS) {
            for end in start + 1..=std::cmp::min(chars.len(), start + MAX_PIECE_CHARS) {
                let trigrams = like_trigrams(&chars[start..end]);
                if !trigrams.is_empty() {
                    pieces.push((cost(&trigrams), start, end));
                }
            }
        }
        // The rarest trigram bounds a piece's rows from above; the best few pieces (and the
        // keyword) are ranked again by the sampled values holding all their trigrams, which
        // counts rows whose trigrams are each common but rarely meet (`r12@`).
        pieces.sort_by(|a, b| a.0.total_cmp(&b.0));
        pieces.truncate(PIECES_COUNTED);
        if !whole.is_empty() && !pieces.iter().any(|p| (p.1, p.2) == (0, chars.len())) {
            pieces.push((cost(&whole), 0, chars.len()));
        }
        let counted = |(_, start, end): (f64, usize, usize)| {
            let trigrams = like_trigrams(&chars[start..end]);
            let entries: f64 = trigrams.iter().map(|t| self.share(t)).sum();
            let candidates = self.trigram_candidates(&trigrams);
            ((entries * self.rows + candidates * ROW_COST), candidates, start, end)
        };
        let best = pieces.into_iter().map(counted).min_by(|a, b| a.0.total_cmp(&b.0));
        match best {
            Some((_, candidates, start, end)) if (start, end) != (0, chars.len()) => {
                Plan { piece: Some(chars[start..end].iter().collect()), candidates, matches: bound }
            }
            Some((_, candidates, ..)) => Plan { piece: None, candidates, matches: bound },
            None => Plan { piece: None, candidates: self.trigram_candidates(&whole), matches: bound },
        }
    }
}

/// How to ask the trigram index for a keyword, from [`Column::plan`].
#[derive(Debug, PartialEq)]
pub(in crate::service) struct Plan {
    /// The substring (folded) to ask the index for, as the index's text holds it
    /// ([`migration::trigram_text`]); `None`: the keyword itself.
    pub piece: Option<String>,
    /// Rows the index is expected to return for it.
    pub candidates: f64,
    /// Rows expected to hold the keyword.
    pub matches: f64,
}

/// Both columns' frequencies.
#[derive(Debug, Default)]
pub(in crate::service) struct Snapshot {
    /// `identities.unique_key` of login IDs.
    pub login_ids: Column,
    /// `users.name_key`.
    pub names: Column,
}

/// The process's latest sample.
#[derive(Default)]
pub struct TrigramStats {
    latest: Mutex<Option<(Instant, Arc<Snapshot>)>>,
    /// A new sample is being taken: searches use the old one meanwhile.
    refreshing: std::sync::atomic::AtomicBool,
}

impl TrigramStats {
    /// The latest sample (`None` before the first one is taken). When there is none, or it
    /// is older than [`MAX_AGE`] (ten seconds for a table small enough to be read whole),
    /// a new one is taken in the background: no search waits for it.
    pub(in crate::service) fn get(self: &Arc<Self>, db: &ReadConn) -> Option<Arc<Snapshot>> {
        use std::sync::atomic::Ordering;
        let latest = self.latest.lock().ok().and_then(|g| g.clone());
        let max_age = match &latest {
            Some((_, s)) if s.login_ids.whole && s.names.whole => SMALL_MAX_AGE,
            _ => MAX_AGE,
        };
        let stale = latest.as_ref().is_none_or(|(at, _)| at.elapsed() >= max_age);
        if stale && !self.refreshing.swap(true, Ordering::AcqRel) {
            let (me, db) = (self.clone(), db.clone());
            tokio::spawn(async move {
                match sample(&db).await {
                    Ok(s) => {
                        if let Ok(mut g) = me.latest.lock() {
                            *g = Some((Instant::now(), Arc::new(s)));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "sampling trigram frequencies failed"),
                }
                me.refreshing.store(false, Ordering::Release);
            });
        }
        latest.map(|(_, s)| s)
    }
}

async fn sample(db: &ReadConn) -> Result<Snapshot, sea_orm::DbErr> {
    Ok(Snapshot {
        login_ids: column(db, "identities", "unique_key", "user_created_at", "kind = 'login_id'").await?,
        names: column(db, "users", "name_key", "created_at", "name_key IS NOT NULL").await?,
    })
}

/// Samples `col` of `table`'s rows matching `filter`, with the creation time `time` of
/// each row's user.
async fn column(db: &ReadConn, table: &str, col: &str, time: &str, filter: &str) -> Result<Column, sea_orm::DbErr> {
    let size = format!("SELECT reltuples::float8 FROM pg_class WHERE oid = '{table}'::regclass");
    let rows: f64 = match db.query_one_raw(Statement::from_string(DbBackend::Postgres, size)).await? {
        Some(r) => r.try_get_by_index(0)?,
        None => -1.0,
    };
    // A table never analyzed reports -1 rows: sample all of it.
    let percent = if rows > SAMPLE_ROWS { (SAMPLE_ROWS / rows * 100.0).max(0.001) } else { 100.0 };
    // BERNOULLI picks rows, where SYSTEM picks whole pages: a sampled value then stands
    // for the rows around it in the list, which the search's walk estimate relies on.
    let sql = format!("SELECT lower({col}), {time} FROM {table} TABLESAMPLE BERNOULLI ({percent}) WHERE {filter}");
    let mut out = Column::default();
    for row in db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql)).await? {
        out.push(&row.try_get_by_index::<String>(0)?, row.try_get_by_index(1)?);
    }
    out.seal();
    out.rows = out.sampled * 100.0 / percent;
    out.whole = percent >= 100.0;
    Ok(out)
}

/// Whether `text` holds a character that [`migration::SYMBOL_ROWS`] matches: any but an
/// ASCII letter or digit, a space, `@`, `.` or `-`. `pg_trgm` indexes none of them but the
/// non-ASCII letters and digits; a key holding one is in the partial indexes of
/// migration `m20261212_000000_search_symbol_rows`.
pub(in crate::service) fn has_symbol(text: &str) -> bool {
    text.chars().any(|c| !(c.is_ascii_alphanumeric() || matches!(c, ' ' | '@' | '.' | '-')))
}

/// `col` (SQL) holds a symbol: the condition of the partial indexes of migration
/// `m20261212_000000_search_symbol_rows`, which a statement must repeat word for word for
/// the planner to see that they apply.
pub(in crate::service) fn holds_symbol_sql(col: &str) -> String {
    format!("{col} ~ '{}'", migration::SYMBOL_ROWS)
}

/// Whether `keyword` (folded, a substring keyword) holds a symbol and gives `pg_trgm`
/// no trigram at all (`%%%`, emoji): the trigram index would read every row, so the rows
/// with a symbol, a subset, are never the worse choice, with or without a sample.
pub(in crate::service) fn symbols_only(keyword: &str) -> bool {
    has_symbol(keyword) && like_trigrams(&joined_chars(keyword)).is_empty()
}

/// The characters of `text` as the trigram indexes' joined copies hold them
/// ([`migration::trigram_text`]).
fn joined_chars(text: &str) -> Vec<char> {
    migration::trigram_text(text).chars().collect()
}

/// The trigrams the index holds for a value: `pg_trgm`'s of its text
/// ([`migration::trigram_text`]), each word padded, two spaces before and one after.
fn value_trigrams(value: &str) -> Vec<String> {
    let chars = joined_chars(value);
    let mut out = Vec::new();
    for word in chars.split(|c| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let padded: Vec<char> = [' ', ' '].iter().chain(word).chain(&[' ']).copied().collect();
        out.extend(padded.windows(3).map(|w| w.iter().collect::<String>()));
    }
    out.sort();
    out.dedup();
    out
}

/// The trigrams `pg_trgm` takes from the pattern `%piece%` (`piece` folded, as the
/// index's text holds it, no wildcards): each run of alphanumeric characters is a word;
/// a word next to another character (not next to the pattern's `%`) is padded as in the
/// index, two spaces before and one after.
fn like_trigrams(piece: &[char]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < piece.len() {
        if !piece[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < piece.len() && piece[i].is_alphanumeric() {
            i += 1;
        }
        let mut word: Vec<char> = Vec::with_capacity(i - start + 3);
        if start > 0 {
            word.extend([' ', ' ']);
        }
        word.extend(&piece[start..i]);
        if i < piece.len() {
            word.push(' ');
        }
        out.extend(word.windows(3).map(|w| w.iter().collect::<String>()));
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
pub(in crate::service::admin) mod tests {
    use super::*;

    /// A sample of one row in `every` of users `1..=rows`, each created at its number.
    pub(in crate::service::admin) fn column(rows: i64, every: i64, value: impl Fn(i64) -> String) -> Column {
        let mut c = Column::default();
        for i in (1..=rows).filter(|i| i % every == 0) {
            c.push(&value(i), i);
        }
        c.seal();
        c.rows = rows as f64;
        c
    }

    fn trigrams(s: &str) -> Vec<String> {
        like_trigrams(&joined_chars(s))
    }

    #[test]
    fn symbols_are_what_the_partial_indexes_hold_and_are_counted_in_a_span() {
        for plain in ["user5@example.com", "first5 last", "anne-marie", "ABC xyz 09"] {
            assert!(!has_symbol(plain), "{plain}");
        }
        for symbol in ["a_b", "100%", "o'neil", "zoë", "😀", "first+tag@example.com", "tab\there"] {
            assert!(has_symbol(symbol), "{symbol}");
        }
        for k in ["%%%", "😀😀😀", "(😀)", "_%_"] {
            assert!(symbols_only(k), "{k}: no trigram");
        }
        // `a_b` gives `  b` (a word starting with `b`).
        for k in ["4_las", "o'neil", "...", "zoë", "a_b"] {
            assert!(!symbols_only(k), "{k}");
        }
        // Every third user of 1..=300 has a symbol, one sampled in ten: 300, 270, ..., 30.
        let c = column(300, 10, |i| if i % 3 == 0 { format!("u_{i}") } else { format!("u{i}") });
        let all = Span { from: None, to: None, newest_first: true };
        assert_eq!(c.symbol_rows_in(all), 10);
        assert_eq!(c.symbol_rows_in(Span { from: Some(100), to: Some(200), newest_first: false }), 3);
        assert_eq!(c.symbol_rows_in(all.until(250)), 2, "300 and 270");
    }

    #[test]
    fn trigrams_follow_pg_trgm_padding_for_like_patterns_on_the_joined_text() {
        assert_eq!(trigrams("user5"), ["er5", "ser", "use"]);
        // A separator is a letter in the index's text: the words meet.
        assert_eq!(trigrams("56@ex"), ["56q", "6qe", "qex"]);
        assert_eq!(trigrams("x last"), ["ast", "las", "qla", "xql"]);
        // A word ending at a symbol is padded after it; the next word starts padded.
        assert_eq!(trigrams("56_ex"), ["  e", " ex", "56 "]);
        assert!(trigrams("ab").is_empty(), "no trigram: the index would read everything");
        assert!(trigrams("@a").is_empty());
        assert_eq!(trigrams("_a"), ["  a"]);
        assert_eq!(migration::trigram_text("ann-marie o.x@a b"), "annqmarieqoqxqaqb");
        assert_eq!(migration::trigram_text("%_'😀"), "%_'😀", "symbols stay");
        assert_eq!(migration::joined_column("name_key"), "name_key_joined");
    }

    #[test]
    fn the_index_gets_the_rare_piece_of_a_keyword_and_matches_are_estimated_from_the_sample() {
        let mut c = Column::default();
        for i in 0..20_000 {
            c.push(&format!("user{i}@example.com"), i);
        }
        c.seal();
        c.rows = 1_000_000.0;
        let plan = c.plan("user12345@example");
        let piece = plan.piece.expect("a piece");
        assert!(!piece.contains("use") && !piece.contains("exa"), "{piece}");
        assert_eq!(plan.candidates, c.candidates(&piece), "the chosen piece's");
        assert_eq!(plan.matches, 50.0, "one sampled row of 20,000");
        assert_eq!(c.matches("nobody"), 25.0, "none sampled: half a row's worth");
        assert_eq!(c.matches("user1"), 50_000.0, "counted up to a thousand");
        assert_eq!(c.matches("user199"), 111.0 / 20_000.0 * 1_000_000.0, "each row once");
        assert_eq!(c.matches("@example"), 50_000.0, "a thousand at most");
        // Every trigram common: one of them is as selective as all, and reads one list.
        let plan = c.plan("example");
        assert_eq!(plan.piece.map(|p| p.chars().count()), Some(3));
        assert_eq!(plan.matches, 50_000.0, "counted up to a thousand sampled rows");
        let plan = c.plan("e@");
        assert_eq!((plan.piece, plan.candidates), (None, c.candidates("e@")), "no trigram: every row");
        // Nothing sampled: the keyword as it is.
        let none = Column::default();
        assert_eq!(none.plan("user5"), Plan { piece: None, candidates: none.candidates("user5"), matches: 0.0 });
    }

    #[test]
    fn hits_are_found_in_reading_order_within_a_span() {
        let mut c = Column::default();
        // Pushed out of order: the sample comes in the table's order, not the list's.
        for t in [5, 1, 4, 2, 3, 6] {
            c.push(&format!("user{t}{}", if t % 2 == 0 { "x" } else { "" }), t * 10);
        }
        c.seal();
        c.rows = 600.0;
        assert_eq!(c.weight(), 100.0);
        let all = |newest_first| Span { from: None, to: None, newest_first };
        assert_eq!(c.hits("x", all(true), 10), [60, 40, 20]);
        assert_eq!(c.hits("x", all(false), 2), [20, 40]);
        // Both ends of a span are included.
        let span = Span { from: Some(20), to: Some(50), newest_first: true };
        assert_eq!(c.hits("user", span, 10), [50, 40, 30, 20]);
        assert_eq!(c.rows_in(span), 4);
        assert_eq!(c.rows_until(span, 40), 2);
        assert_eq!(c.rows_until(Span { newest_first: false, ..span }, 40), 3);
        // A hit never spans two values.
        assert!(c.hits("1user", all(true), 10).is_empty());
        assert!(c.hits("x", Span { from: Some(61), to: None, newest_first: true }, 10).is_empty());
        assert!(Column::default().hits("x", all(true), 10).is_empty());
    }

    #[test]
    fn candidates_are_the_sampled_values_holding_every_trigram_of_a_piece() {
        // Names "first<i> last": every one holds the trigrams of "last", one in ten ends in 4.
        let names = column(10_000, 1, |i| format!("first{i} last"));
        // "4 l" is `4ql` in the index's text, which only the names ending in 4 hold (as
        // `pg_trgm` splits words, its only trigram would be `  l`, in every name).
        assert_eq!(names.candidates("4 l"), 1_000.0);
        assert_eq!(names.candidates("x last"), 0.5, "none: half a sampled row");
        assert_eq!(names.candidates("x"), 10_000.0, "no trigram");
        // "t12 l": `t12` (first12, first120 to 129, first1200 to 1299) and `12 ` (every name
        // ending in 12) meet in two names, counted in the sample.
        let both = (1..=10_000).filter(|i| format!("first{i} last").contains("t12") && i % 100 == 12).count();
        assert_eq!(names.candidates("t12 l"), both as f64);
        assert_eq!(names.candidates("zzz"), 0.5, "none: half a sampled row");
        // A piece whose rarest trigram is in every value is not counted: its share bounds it.
        assert_eq!(names.candidates("last"), 10_000.0);
    }
}
