#!/usr/bin/env bash
# The statements of one `users(first: 50, searchKeyword:)` request, timed in the database
# alone (no server): the match-count probe (against admin_api.search_broad_threshold), the
# walk of the next 5,000 users in sort order (`walk`) and the candidate-set plan
# (`candidates`), each run twice and the second run reported. A request runs the probe,
# then the walk when the probe counts more than 2,000 matches (falling back to the
# candidates when the walk finds less than a page), else the candidates. SQLite: CPU time
# (user + sys) of the sqlite3 shell; PostgreSQL: EXPLAIN ANALYZE's execution time, JIT off.
#
#   bench/search_sql.sh sqlite://bench.db        # seeded by bench/seed.sh
#   bench/search_sql.sh postgres://postgres@127.0.0.1:5432/agbench
set -euo pipefail
url=${1:?database URL}
keywords=${KEYWORDS:-"u us xam example user123456@ 5821 user5"}
case "$url" in
sqlite:*)
  db=${url#sqlite://}
  db=${db%%\?*}
  E=$(sqlite3 "$db" "SELECT created_at || ', x''' || hex(id) || '''' FROM users ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET 5000")
  for kw in $keywords; do
    if [ ${#kw} -ge 3 ]; then
      probe="SELECT COUNT(*) FROM (SELECT 1 FROM user_search_fts WHERE user_search_fts MATCH '\"$kw\"' LIMIT 2001)"
      walk="SELECT count(*) FROM (SELECT users.* FROM users WHERE (EXISTS (SELECT 1 FROM user_search kw_s WHERE kw_s.user_id = users.id AND instr(lower(kw_s.text), '$kw') > 0) OR users.id IN (SELECT identities.user_id FROM identities WHERE identities.unique_key IN ('$kw'))) AND (users.created_at, users.id) > ($E) ORDER BY users.created_at DESC, users.id DESC LIMIT 51)"
      cand="SELECT count(*) FROM (SELECT users.* FROM users WHERE users.id IN (SELECT identities.user_id FROM identities WHERE identities.unique_key IN ('$kw') UNION SELECT user_search.user_id FROM user_search WHERE user_search.id IN (SELECT rowid FROM user_search_fts WHERE user_search_fts MATCH '\"$kw\"')) ORDER BY users.created_at DESC, users.id DESC LIMIT 51)"
    else
      range() { echo "$1 >= '$kw' AND $1 < '$kw' || char(1114111)"; }
      probe="SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM identities WHERE $(range unique_key) LIMIT 2001)) + (SELECT COUNT(*) FROM (SELECT 1 FROM users WHERE $(range name_key) LIMIT 2001))"
      walk="SELECT count(*) FROM (SELECT users.* FROM users WHERE (($(range name_key)) OR EXISTS (SELECT 1 FROM identities kw_i WHERE kw_i.user_id = users.id AND $(range kw_i.unique_key))) AND (users.created_at, users.id) > ($E) ORDER BY users.created_at DESC, users.id DESC LIMIT 51)"
      cand="SELECT 'prefix candidates: see bench/admin_api.sh'"
    fi
    out=$(printf "PRAGMA cache_size=-8000;\n.timer on\n%s;\n%s;\n%s;\n%s;\n%s;\n%s;\n" "$probe" "$walk" "$cand" "$probe" "$walk" "$cand" \
      | sqlite3 "$db" 2>&1 | grep "Run Time" | tail -3 | awk '{printf "%.1f ", ($6 + $8) * 1000}')
    read -r p w c <<<"$out"
    echo "$kw probe_ms=$p walk_ms=$w candidates_ms=$c"
  done
  ;;
postgres*)
  P="psql -q -At $url"
  t() { $P -c "SET jit = off" -c "EXPLAIN (ANALYZE, TIMING OFF) $1" | grep "Execution Time" | sed 's/Execution Time: //; s/ ms//'; }
  E=$($P -c "SELECT created_at || ',''' || id || '''' FROM users ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET 5000")
  for kw in $keywords; do
    [ ${#kw} -ge 3 ] || continue
    # The trigram indexes read copies of the keys with separators written as `q`
    # (migration m20261213_000000_search_joined_trigrams); the real keyword is checked too.
    j=$(printf '%s' "$kw" | tr ' @.-' 'qqqq')
    login="identities.kind = 'login_id' AND identities.unique_key_joined ILIKE '%$j%' AND identities.unique_key ILIKE '%$kw%'"
    name="users.name_key_joined ILIKE '%$j%' AND users.name_key ILIKE '%$kw%'"
    probe1="SELECT COUNT(*) FROM (SELECT 1 FROM identities WHERE $login LIMIT 2001) c"
    probe2="SELECT COUNT(*) FROM (SELECT 1 FROM users WHERE $name LIMIT 2001) c"
    walk="SELECT users.* FROM users WHERE (users.name_key ILIKE '%$kw%' OR EXISTS (SELECT 1 FROM identities kw_i WHERE kw_i.user_id = users.id AND kw_i.kind = 'login_id' AND kw_i.unique_key ILIKE '%$kw%') OR users.id IN (SELECT identities.user_id FROM identities WHERE identities.unique_key IN ('$kw'))) AND (users.created_at, users.id) > ($E) ORDER BY users.created_at DESC, users.id DESC LIMIT 51"
    cand="SELECT users.* FROM users WHERE users.id IN (SELECT identities.user_id FROM identities WHERE identities.unique_key IN ('$kw') UNION (SELECT identities.user_id FROM identities WHERE $login) UNION (SELECT users.id FROM users WHERE $name)) ORDER BY users.created_at DESC, users.id DESC LIMIT 51"
    t "$probe1" >/dev/null; t "$walk" >/dev/null; t "$cand" >/dev/null
    echo "$kw probe_ms=$(t "$probe1")+$(t "$probe2") walk_ms=$(t "$walk") candidates_ms=$(t "$cand")"
  done
  ;;
esac
