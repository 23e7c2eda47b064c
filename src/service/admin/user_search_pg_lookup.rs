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

use crate::service::admin::trigram_stats::{Column, Snapshot, Span, has_symbol, holds_symbol_sql, symbols_only};
use crate::service::admin::user_keyword::{Keyword, contains_pattern};

/// Pages' worth of matches the sample should place before step 2's time bound: enough
/// that a sample of a fiftieth of the rows rarely promises a page that is not there.
const BOUND_PAGES: f64 = 4.0;
/// Sampled matches needed at least before a bound is set.
const MIN_HITS: usize = 3;
/// Step 2's cost (µs, PostgreSQL 15) per candidate the trigram index returns (a row
/// holding the index's trigrams of the piece), read and checked: about 0.3 when they lie
/// together, 2.4 to 8 when scattered one per page.
const CANDIDATE_COST: f64 = 2.4;
/// Step 2's cost (µs) per candidate the trigram index puts in its bitmap, bound or not
/// (PostgreSQL 15: 5.3 ms for a bitmap of 111,111 rows).
const BITMAP_COST: f64 = 0.05;
/// The same per row of the table up to a time bound: a bitmap `AND` with BRIN's page
/// ranges makes every page it keeps lossy, so each row of those pages is checked (at
/// worst every page up to the bound).
const LOSSY_ROW_COST: f64 = 0.3;

/// How step 2 asks each trigram index, and what the statistics expect.
pub(super) struct Lookup {
    /// The substring of the keyword the login IDs' index is asked for, as the index's text
    /// holds it ([`migration::trigram_text`]; `None`: the keyword).
    pub login_piece: Option<String>,
    /// The same for names.
    pub name_piece: Option<String>,
    /// Matches expected at most (login IDs and names), when statistics exist.
    pub matches: Option<f64>,
    /// Where the matches lie within the page's range, when statistics exist.
    pub outlook: Option<Outlook>,
    /// The time bound of step 2 for login IDs and for names: the outlook's, where checking
    /// the rows up to it costs less than checking every candidate.
    pub bounds: [Option<i64>; 2],
    /// Step 2 reads the rows that hold a symbol ([`has_symbol`]: the keyword holds one)
    /// in list order from their partial indexes, instead of asking the trigram indexes.
    pub symbols: bool,
    /// Step 2's expected cost (µs).
    pub step2_cost: f64,
}

/// Where a keyword's matches lie from the page's start, by the sample.
#[derive(Debug, PartialEq)]
pub(super) struct Outlook {
    /// Rows (login IDs and names) a walk in list order reads before it has the page; all
    /// the range's rows when the range holds fewer matches than a page.
    pub walk_rows: f64,
    /// A creation time with, most likely, several pages of matches between the page's start
    /// and it (inclusive).
    pub bound: Option<i64>,
}

impl Lookup {
    /// The plan for `kw` on a page of `n` rows within `span`.
    pub fn of(kw: &Keyword, stats: Option<&Snapshot>, span: Span, n: u64) -> Self {
        let Some(stats) = stats else {
            let (login_piece, name_piece, bounds) = (None, None, [None, None]);
            let (outlook, symbols, step2_cost) = (None, symbols_only(kw.lower()), 0.0);
            return Self { login_piece, name_piece, matches: None, outlook, bounds, symbols, step2_cost };
        };
        let (logins, names) = (stats.login_ids.plan(kw.lower()), stats.names.plan(kw.lower()));
        let outlook = outlook(&[&stats.login_ids, &stats.names], kw.lower(), span, n);
        let (mut bounds, mut step2_cost) = ([None, None], 0.0);
        for (i, (col, plan)) in [(&stats.login_ids, &logins), (&stats.names, &names)].into_iter().enumerate() {
            let (bound, cost) = step2(col, plan.candidates, span, outlook.bound);
            bounds[i] = bound;
            step2_cost += cost;
        }
        // A keyword with a symbol: every row holding it is among the rows with a symbol,
        // read in list order to the page (at most all of them) when that costs less than
        // the trigram indexes' candidates (`%%%` and emoji give them nothing to look up).
        let symbol_cost = has_symbol(kw.lower()).then(|| {
            let rows: f64 =
                [&stats.login_ids, &stats.names].iter().map(|c| c.symbol_rows_in(span) as f64 * c.weight()).sum();
            rows * CANDIDATE_COST
        });
        let symbols = symbol_cost.is_some_and(|c| c < step2_cost);
        if let Some(c) = symbol_cost.filter(|_| symbols) {
            (bounds, step2_cost) = ([None, None], c);
        }
        let matches = Some(logins.matches + names.matches);
        let (login_piece, name_piece) = (logins.piece, names.piece);
        Self { login_piece, name_piece, matches, outlook: Some(outlook), bounds, symbols, step2_cost }
    }

    /// The copy of `col` that the trigram index reads (migration
    /// `m20261213_000000_search_joined_trigrams`) `LIKE '%piece%'` (the keyword when
    /// `piece` is `None`), and the whole keyword checked on the rows it returns (`strpos`,
    /// which no index serves). The patterns go to `bind`, which returns their placeholders.
    pub fn condition(
        &self,
        kw: &Keyword,
        col: &str,
        like: &str,
        piece: Option<&str>,
        mut bind: impl FnMut(String) -> String,
    ) -> String {
        if self.symbols {
            // `strpos`, which no index serves: the planner takes the partial index of rows
            // with a symbol (its condition repeated word for word), in list order.
            let folded = if like == "ILIKE" { format!("lower({col})") } else { col.to_owned() };
            let whole = bind(kw.lower().to_owned());
            return format!("{} AND strpos({folded}, {whole}) > 0", holds_symbol_sql(col));
        }
        let indexed = migration::joined_column(col);
        let folded = if like == "ILIKE" { format!("lower({col})") } else { col.to_owned() };
        let pattern = bind(piece.map_or_else(|| kw.pg_joined_pattern(), contains_pattern));
        let whole = bind(kw.lower().to_owned());
        format!("{indexed} {like} {pattern} AND strpos({folded}, {whole}) > 0")
    }
}

/// Step 2 on one column: the time bound if checking every row up to it costs less than
/// checking every one of the index's `candidates`, and the expected cost (µs).
fn step2(col: &Column, candidates: f64, span: Span, bound: Option<i64>) -> (Option<i64>, f64) {
    let (bitmap, exact) = (candidates * BITMAP_COST, candidates * CANDIDATE_COST);
    match bound {
        Some(b) => {
            let lossy = col.rows_until(span, b) as f64 * col.weight() * LOSSY_ROW_COST;
            if lossy < exact { (Some(b), bitmap + lossy) } else { (None, bitmap + exact) }
        }
        None => (None, bitmap + exact),
    }
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
        hits.extend(col.hits(keyword, span, k).into_iter().map(|t| (t, c)));
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
    Outlook { walk_rows, bound }
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
        // Oldest first, from 350 on.
        let o = outlook(&[&logins, &names], "x", Span { from: Some(350), to: None, newest_first: false }, 20);
        assert_eq!((o.walk_rows, o.bound), (20.0, Some(420)));
        // Fewer matches in the range than a page: the walk reads the whole range, and
        // step 2 everything in it.
        let o = outlook(&[&logins, &names], "x", Span { from: Some(480), to: None, newest_first: false }, 40);
        assert_eq!(o, Outlook { walk_rows: 530.0, bound: None });
        let o = outlook(&[&logins, &names], "nothing", all, 20);
        assert_eq!(o, Outlook { walk_rows: 1000.0, bound: None });
    }

    #[test]
    fn a_bound_is_used_only_where_checking_the_rows_up_to_it_costs_less_than_every_candidate() {
        // 200 of 1,000 rows hold "xyz" (301..=500): 200 candidates, 480 µs.
        let logins = column(1000, 10, |i| format!("user{i}{}", if (301..=500).contains(&i) { "xyz" } else { "" }));
        let all = Span { from: None, to: None, newest_first: true };
        // Up to 430: 580 rows, 174 µs, and the bitmap of 200 candidates, 10 µs.
        let (bound, cost) = step2(&logins, logins.candidates("xyz"), all, Some(430));
        assert_eq!(bound, Some(430));
        assert!((cost - 184.0).abs() < 1e-9, "{cost}");
        // Up to 100: 910 rows, 273 µs.
        assert_eq!(step2(&logins, logins.candidates("xyz"), all, Some(100)).0, Some(100));
        // Oldest first, up to 430: 430 rows against 200 candidates.
        assert_eq!(
            step2(&logins, logins.candidates("xyz"), Span { newest_first: false, ..all }, Some(430)).0,
            Some(430)
        );
        // A rare piece: every candidate is cheaper than the rows.
        let (bound, cost) = step2(&logins, logins.candidates("user500xyz"), all, Some(100));
        assert_eq!(bound, None);
        assert!(cost < 100.0, "{cost}");
        // No trigram: the index cannot help, every row is a candidate.
        assert_eq!(step2(&logins, logins.candidates("x"), all, Some(430)).0, Some(430));
        assert_eq!(step2(&logins, logins.candidates("xyz"), all, None).0, None);
    }

    #[test]
    fn a_keyword_with_a_symbol_reads_the_rows_with_a_symbol_when_they_cost_less() {
        // Every name starts with `fir` (`  f`, as `pg_trgm` pads it, ` fi`, `fir`); ten in a
        // thousand have a `_`. (`4_las` no longer qualifies: in the trigram indexes' joined
        // text no word starts with `las`, so its `  l` is in no name.)
        let names =
            column(1000, 1, |i| if i % 100 == 0 { format!("first_{i} last") } else { format!("first{i} last") });
        let stats = Snapshot { login_ids: column(1000, 1, |i| format!("user{i}@example.com")), names };
        let all = Span { from: None, to: None, newest_first: true };
        let lookup = |k: &str| Lookup::of(&Keyword::parse(Some(k)).unwrap(), Some(&stats), all, 20);
        for k in ["_fir", "%%%", "😀😀😀"] {
            let l = lookup(k);
            assert!(l.symbols, "{k}");
            assert_eq!(l.bounds, [None, None], "{k}");
            assert!((l.step2_cost - 10.0 * CANDIDATE_COST).abs() < 1e-9, "{k}: {}", l.step2_cost);
        }
        // Without a sample, only a keyword that gives the trigram indexes nothing.
        let unsampled = |k: &str| Lookup::of(&Keyword::parse(Some(k)).unwrap(), None, all, 20).symbols;
        assert!(unsampled("%%%") && unsampled("😀😀😀"));
        assert!(!unsampled("4_las") && !unsampled("t4 las"));
        // No symbol, or a piece rarer than the rows with a symbol: the trigram indexes.
        assert!(!lookup("t4 las").symbols);
        assert!(!lookup("4_las").symbols, "its `  l` is in no joined name");
        assert!(!lookup("user500_").symbols);
        let mut cond = Vec::new();
        let sql = lookup("%%%").condition(&Keyword::parse(Some("%%%")).unwrap(), "name_key", "LIKE", None, |v| {
            cond.push(v);
            "$1".into()
        });
        assert_eq!(sql, format!("name_key ~ '{}' AND strpos(name_key, $1) > 0", migration::SYMBOL_ROWS));
        assert_eq!(cond, ["%%%"]);
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
