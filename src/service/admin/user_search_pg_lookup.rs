//! PostgreSQL: what the trigram sample ([`super::trigram_stats`]) says about a keyword
//! before a search runs: which substring to ask each index for, how many users match, and
//! where in the list the page's matches lie.
//!
//! The sample keeps each value with its user's creation time, so the matches it holds
//! stand for the real ones along the list: a keyword's first sampled matches from the
//! page's start tell how far a walk in list order would go to fill the page, and give a
//! creation time that most likely has several pages of matches before it. Step 2 of the
//! search then reads only the matches up to that time (the trigram index's bitmap `AND` a
//! BRIN range of creation times, migration `m20261210_000000_search_time_brin`) and reads
//! all of them only if that was short. The statistics steer the plan, never the result.

use crate::service::admin::trigram_stats::{Column, Snapshot, Span};
use crate::service::admin::user_keyword::{Keyword, contains_pattern};

/// Pages' worth of matches the sample should place before step 2's time bound: enough
/// that a sample of a fiftieth of the rows rarely promises a page that is not there.
const BOUND_PAGES: f64 = 4.0;
/// Sampled matches needed at least before a bound is set.
const MIN_HITS: usize = 3;
/// A column's step 2 is bounded only when the sample holds this many times as many of the
/// index's candidates (rows holding the piece it is asked for) in the range as up to the
/// bound. A bitmap `AND` with BRIN's page ranges makes each page it keeps lossy: all of
/// its rows are checked, where the trigram bitmap alone has PostgreSQL check the
/// candidates only (about 12 against 2.4 µs per candidate when they are scattered).
const BOUND_GAIN: usize = 8;
/// Candidates counted up to the bound at most.
const MAX_COUNTED: usize = 2_000;

/// How step 2 asks each trigram index, and what the statistics expect.
pub(super) struct Lookup {
    /// The substring of the keyword the login IDs' index is asked for (`None`: the keyword).
    pub login_piece: Option<String>,
    /// The same for names.
    pub name_piece: Option<String>,
    /// Matches expected at most (login IDs and names), when statistics exist.
    pub matches: Option<f64>,
    /// Where the matches lie within the page's range, when statistics exist.
    pub outlook: Option<Outlook>,
    /// The time bound of step 2 for login IDs and for names: the outlook's, where it
    /// leaves out most of the index's candidates.
    pub bounds: [Option<i64>; 2],
}

/// Where a keyword's matches lie from the page's start, by the sample.
#[derive(Debug, PartialEq)]
pub(super) struct Outlook {
    /// Rows (login IDs and names) a walk in list order reads before it has the page; all
    /// the range's rows when the range holds fewer matches than a page.
    pub walk_rows: f64,
    /// Matches step 2 reads: those up to `bound`, else all in the range.
    pub read: f64,
    /// A creation time with, most likely, several pages of matches between the page's start
    /// and it (inclusive).
    pub bound: Option<i64>,
}

impl Lookup {
    /// The plan for `kw` on a page of `n` rows within `span`.
    pub fn of(kw: &Keyword, stats: Option<&Snapshot>, span: Span, n: u64) -> Self {
        let Some(stats) = stats else {
            return Self { login_piece: None, name_piece: None, matches: None, outlook: None, bounds: [None, None] };
        };
        let (login_piece, logins) = stats.login_ids.plan(kw.lower());
        let (name_piece, names) = stats.names.plan(kw.lower());
        let outlook = outlook(&[&stats.login_ids, &stats.names], kw.lower(), span, n);
        let bound = |col: &Column, piece: &Option<String>| {
            let b = outlook.bound?;
            worth_bounding(col, piece.as_deref().unwrap_or(kw.lower()), span, b).then_some(b)
        };
        let bounds = [bound(&stats.login_ids, &login_piece), bound(&stats.names, &name_piece)];
        Self { login_piece, name_piece, matches: Some(logins + names), outlook: Some(outlook), bounds }
    }

    /// `col LIKE '%piece%'` for the index, and the whole keyword checked on the rows it
    /// returns (`strpos`, which no index serves, so the index gets the piece alone). The
    /// keyword's pattern goes to `bind`, which returns its placeholder.
    pub fn condition(
        kw: &Keyword,
        col: &str,
        like: &str,
        piece: Option<&str>,
        mut bind: impl FnMut(String) -> String,
    ) -> String {
        match piece {
            None => format!("{col} {like} {}", bind(kw.pg_pattern())),
            Some(piece) => {
                let folded = if like == "ILIKE" { format!("lower({col})") } else { col.to_owned() };
                let pattern = bind(contains_pattern(piece));
                let whole = bind(kw.lower().to_owned());
                format!("{col} {like} {pattern} AND strpos({folded}, {whole}) > 0")
            }
        }
    }
}

/// Whether step 2 should read only the candidates of `piece` up to `bound` in `col`: the
/// sample holds more than [`BOUND_GAIN`] times as many in the whole span.
fn worth_bounding(col: &Column, piece: &str, span: Span, bound: i64) -> bool {
    let before = col.hits(piece, span.until(bound), MAX_COUNTED).len();
    before < MAX_COUNTED && col.hits(piece, span, before * BOUND_GAIN + 1).len() > before * BOUND_GAIN
}

/// The sampled matches of `keyword` (folded) in `cols` within `span`, merged in reading
/// order, each standing for [`Column::weight`] rows.
fn outlook(cols: &[&Column], keyword: &str, span: Span, n: u64) -> Outlook {
    let n = n as f64;
    let mut hits = Vec::new();
    for (c, col) in cols.iter().enumerate() {
        let w = col.weight();
        if w <= 0.0 {
            continue;
        }
        // Enough that this column alone reaches the bound with its last hit: the merge
        // below never passes a column's unknown rest.
        let k = (BOUND_PAGES * n / w).ceil() as usize + MIN_HITS;
        hits.extend(col.hits(keyword, span, k).into_iter().map(|h| (h.time, c)));
    }
    if span.newest_first {
        hits.sort_by_key(|h| std::cmp::Reverse(h.0));
    } else {
        hits.sort_by_key(|h| h.0);
    }
    let (mut seen, mut page_at, mut bound) = (0.0, None, None);
    for (i, (time, c)) in hits.iter().enumerate() {
        seen += cols[*c].weight();
        if page_at.is_none() && seen >= n {
            page_at = Some(*time);
        }
        if seen >= BOUND_PAGES * n && i + 1 >= MIN_HITS {
            bound = Some(*time);
            break;
        }
    }
    let rows = |count: &dyn Fn(&Column) -> usize| cols.iter().map(|c| count(c) as f64 * c.weight()).sum::<f64>();
    let walk_rows = match page_at {
        Some(t) => rows(&|c| c.rows_until(span, t)),
        None => rows(&|c| c.rows_in(span)),
    };
    Outlook { walk_rows, read: seen, bound }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::admin::trigram_stats::tests::column;

    #[test]
    fn the_bound_lies_several_pages_of_matches_from_the_start_and_the_walk_as_far_as_one() {
        // Users 1..=1000, one sampled in ten; "x" in every user from 301 to 500.
        let logins = column(1000, 10, |i| format!("user{i}{}", if (301..=500).contains(&i) { "x" } else { "" }));
        let names = Column::default();
        let all = Span { from: None, to: None, newest_first: true };
        // Newest first: 500 rows without a match, then 200 matches; a page of 20 needs
        // two sampled matches, the bound eight (and at least three).
        let o = outlook(&[&logins, &names], "x", all, 20);
        assert_eq!(o.walk_rows, 520.0);
        assert_eq!(o.bound, Some(430));
        assert_eq!(o.read, 80.0);
        // Oldest first, from 350 on.
        let o = outlook(&[&logins, &names], "x", Span { from: Some(350), to: None, newest_first: false }, 20);
        assert_eq!((o.walk_rows, o.bound), (20.0, Some(420)));
        // Fewer matches in the range than a page: the walk reads the whole range, and
        // step 2 everything in it.
        let o = outlook(&[&logins, &names], "x", Span { from: Some(480), to: None, newest_first: false }, 40);
        assert_eq!(o, Outlook { walk_rows: 530.0, read: 30.0, bound: None });
        let o = outlook(&[&logins, &names], "nothing", all, 20);
        assert_eq!(o, Outlook { walk_rows: 1000.0, read: 0.0, bound: None });
    }

    #[test]
    fn a_bound_is_used_only_where_it_leaves_out_most_candidates() {
        let logins = column(1000, 10, |i| format!("user{i}{}", if (301..=500).contains(&i) { "x" } else { "" }));
        let all = Span { from: None, to: None, newest_first: true };
        // Eight sampled candidates up to 430, twenty in all: not enough left out.
        assert!(!worth_bounding(&logins, "x", all, 430));
        // Two up to 490 against twenty.
        assert!(worth_bounding(&logins, "x", all, 490));
        // None up to the bound, some beyond it.
        assert!(worth_bounding(&logins, "x", all, 510));
        assert!(!worth_bounding(&logins, "nothing", all, 510));
    }

    #[test]
    fn login_ids_and_names_are_merged_in_list_order() {
        let logins = column(100, 1, |i| if i % 2 == 0 { format!("a{i}") } else { format!("b{i}") });
        let names = column(100, 1, |i| if i > 90 { "a".into() } else { "c".into() });
        let o = outlook(&[&logins, &names], "a", Span { from: None, to: None, newest_first: true }, 10);
        // From 100 down: logins 100, 98, ... and names 100..91: ten matches by 94, where
        // the walk has read seven rows of each.
        assert_eq!(o.walk_rows, 14.0);
        assert_eq!(o.bound, Some(42), "forty matches: names 100..91 and logins 100..42");
    }
}
