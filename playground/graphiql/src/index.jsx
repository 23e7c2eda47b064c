// Entry point of the self-contained GraphiQL bundle embedded in the authgraph
// binary. Bundled by build.sh (esbuild) into build/graphiql.js (IIFE) and
// build/graphiql.css. Exposes:
//
//   window.AuthgraphGraphiQL.mount(element, { endpoint, defaultQuery?, defaultHeaders?, wrapFetcher? })
//
// No network access other than POSTs to `endpoint` (and the page's WebSocket for
// subscriptions) happens at runtime.
import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
// Full GraphiQL stylesheet (includes @graphiql/react styles and the Roboto /
// Fira Code fonts as data: URIs, so nothing is fetched from a CDN).
import 'graphiql/graphiql.css';

const DEFAULT_QUERY = `# authgraph Admin API
#
# Paste a token into the Authorization header below, then run:
query {
  users(first: 10) {
    totalCount
    edges {
      node {
        id
        standardAttributes
      }
    }
  }
}
`;

const DEFAULT_HEADERS = `{
  "Authorization": "Bearer <paste the output of: authgraph admin-token>"
}`;

// Plain JSON-over-POST fetcher. `opts.headers` are the headers the user typed
// into GraphiQL's Headers editor (already parsed from JSON by GraphiQL).
function createFetcher(endpoint) {
  return async function fetcher(graphQLParams, opts) {
    const headers = {
      'Content-Type': 'application/json',
      Accept: 'application/json',
    };
    const userHeaders = (opts && opts.headers) || {};
    for (const key of Object.keys(userHeaders)) {
      const value = userHeaders[key];
      if (value !== undefined && value !== null) {
        headers[key] = String(value);
      }
    }
    const response = await fetch(endpoint, {
      method: 'POST',
      headers,
      body: JSON.stringify(graphQLParams),
      credentials: 'same-origin',
    });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch (_e) {
      // Non-JSON answer (e.g. a plain-text 401): surface it as a GraphQL error
      // so GraphiQL shows it instead of failing silently.
      return {
        errors: [
          {
            message: `HTTP ${response.status} ${response.statusText}: ${text}`,
          },
        ],
      };
    }
  };
}

function mount(element, options) {
  if (!element) {
    throw new Error('AuthgraphGraphiQL.mount: no element given');
  }
  const opts = options || {};
  const endpoint = opts.endpoint || '/_api/admin/graphql';
  const root = createRoot(element);
  root.render(
    React.createElement(GraphiQL, {
      // `wrapFetcher(fetcher)` lets the page add transports (index.html adds
      // subscriptions over WebSocket).
      fetcher: opts.wrapFetcher ? opts.wrapFetcher(createFetcher(endpoint)) : createFetcher(endpoint),
      defaultQuery: opts.defaultQuery || DEFAULT_QUERY,
      defaultHeaders: opts.defaultHeaders || DEFAULT_HEADERS,
      defaultEditorToolsVisibility: 'headers',
      headerEditorEnabled: true,
      shouldPersistHeaders: true,
    }),
  );
  return {
    unmount() {
      root.unmount();
    },
  };
}

const api = { mount, version: '3.8.3' };
if (typeof window !== 'undefined') {
  window.AuthgraphGraphiQL = api;
}
export { mount };
