#!/usr/bin/env bash
# Regenerates playground/graphiql/build/{graphiql.js,graphiql.css}, the
# self-contained GraphiQL assets embedded in the authgraph binary with
# include_str!. Needs Node >= 18 and access to the npm registry.
#
#   bash playground/graphiql/build.sh
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund

rm -rf build
mkdir -p build

# One minified IIFE; the CSS imported by src/index.jsx is emitted next to it
# as build/graphiql.css. Fonts are already data: URIs in graphiql.css;
# --loader options keep any other asset inline, so no file is fetched at runtime.
npx --no-install esbuild src/index.jsx \
  --bundle \
  --minify \
  --format=iife \
  --platform=browser \
  --target=es2019,chrome90,firefox90,safari14 \
  --define:process.env.NODE_ENV='"production"' \
  --loader:.woff=dataurl --loader:.woff2=dataurl --loader:.ttf=dataurl \
  --loader:.svg=dataurl --loader:.png=dataurl \
  --legal-comments=none \
  --charset=utf8 \
  --log-level=warning \
  --outfile=build/graphiql.js

# include_str! needs exactly these two files.
ls build
test -f build/graphiql.js
test -f build/graphiql.css
if [ "$(ls build | wc -l)" -ne 2 ]; then
  echo "unexpected files in build/" >&2
  exit 1
fi

# Guard against anything that would be fetched from the internet at runtime.
if grep -Eo '(https?:)?//(unpkg\.com|cdn\.jsdelivr|cdnjs|fonts\.googleapis|fonts\.gstatic|esm\.sh)[^"'\'' )]*' build/graphiql.js build/graphiql.css; then
  echo "build output references a CDN" >&2
  exit 1
fi
if grep -Eo 'url\((["'\'']?)https?:' build/graphiql.css; then
  echo "graphiql.css loads a remote url()" >&2
  exit 1
fi
wc -c build/graphiql.js build/graphiql.css
