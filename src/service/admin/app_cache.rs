//! In-process caches of applications (for the token endpoint), their resource grants
//! (for the client-credentials grant) and allowed CORS origins. A change bumps a
//! generation that every process follows, which empties these caches.

use std::sync::Arc;

use crate::service::Applications;
use crate::service::Result;
use crate::service::admin::applications::Application;
use crate::service::store::time::strings;
use entity::application;

use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, EntityTrait};

/// What an application is granted on one resource: the scopes, or `None` when the resource
/// is unknown or not linked to the application.
type Grant = Option<Arc<[String]>>;

/// A cached value with the time it was read.
type Timed<T> = (std::time::Instant, T);

/// A cache by key, for the token endpoint's hot path (never held across an await).
type Map<K, T> = std::sync::RwLock<std::collections::HashMap<K, Timed<T>>>;

/// An application with the SHA-256 digests of its active secrets (the token endpoint's
/// client authentication).
#[derive(Debug)]
pub struct ClientEntry {
    /// The application.
    pub app: Application,
    /// Digests of its active secrets.
    pub digests: Vec<Vec<u8>>,
}

/// Applications by client ID for the login and token endpoints, cached for a few seconds
/// like the origins (a change made in this process is seen at once).
#[derive(Default)]
pub struct AppCache {
    inner: Map<String, Option<Application>>,
    /// Applications with their secrets' digests, by client ID.
    clients: Map<String, Option<Arc<ClientEntry>>>,
    /// Grants by client ID and resource URI.
    grants: Map<(String, String), Grant>,
    /// Moves every time the cache is dropped: a lookup that began before a drop must not
    /// put what it read (perhaps a deleted application) back afterwards.
    epoch: std::sync::atomic::AtomicU64,
}

/// The value kept under `key`, if read less than [`ORIGIN_CACHE_TTL`] ago.
fn fresh<K, T, Q>(map: &Map<K, T>, key: &Q) -> Option<T>
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
    T: Clone,
{
    let map = map.read().unwrap_or_else(|p| p.into_inner());
    map.get(key).filter(|(at, _)| at.elapsed() < ORIGIN_CACHE_TTL).map(|(_, v)| v.clone())
}

impl AppCache {
    /// Keeps `value` under `key`, unless the cache was dropped since `epoch` (the read
    /// began before a change: what it read may be stale).
    fn keep<K: std::hash::Hash + Eq, T>(&self, map: &Map<K, T>, epoch: u64, key: K, value: T) {
        let mut map = map.write().unwrap_or_else(|p| p.into_inner());
        if self.epoch.load(std::sync::atomic::Ordering::Acquire) != epoch {
            return;
        }
        if map.len() >= APP_CACHE_MAX {
            map.clear();
        }
        map.insert(key, (std::time::Instant::now(), value));
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Most applications the cache holds before it starts over.
const APP_CACHE_MAX: usize = 10_000;

impl Applications<'_> {
    /// Whether a token naming `client_id` outlived its application (deleted since): every
    /// verifier refuses such tokens. A token without a client ID has none to lose.
    pub async fn client_deleted(&self, client_id: Option<&str>) -> Result<bool> {
        match client_id {
            Some(id) => Ok(self.cached(id).await?.is_none()),
            None => Ok(false),
        }
    }

    /// [`Services::application`] through a cache of [`ORIGIN_CACHE_TTL`]: the end-user
    /// flows look an application up several times per login.
    pub async fn cached(&self, client_id: &str) -> Result<Option<Application>> {
        let hit = fresh(&self.app_cache.inner, client_id);
        self.telemetry.cache_lookup(crate::telemetry::Cache::Applications, hit.is_some());
        if let Some(app) = hit {
            return Ok(app);
        }
        let epoch = self.app_cache.epoch();
        let app = self.get(client_id).await?;
        self.app_cache.keep(&self.app_cache.inner, epoch, client_id.to_owned(), app.clone());
        Ok(app)
    }

    /// [`Applications::load_client`] through the cache.
    pub(in crate::service) async fn cached_client(&self, client_id: &str) -> Result<Option<Arc<ClientEntry>>> {
        if let Some(entry) = fresh(&self.app_cache.clients, client_id) {
            return Ok(entry);
        }
        let epoch = self.app_cache.epoch();
        let entry = self.load_client(client_id).await?.map(Arc::new);
        self.app_cache.keep(&self.app_cache.clients, epoch, client_id.to_owned(), entry.clone());
        Ok(entry)
    }

    /// The scopes `app` is granted on the resource `uri`, or `None` when that resource is
    /// unknown or not linked to it; cached like the applications, so a client-credentials
    /// grant reads nothing from the database.
    pub async fn granted_scopes(&self, app: &Application, uri: &str) -> Result<Grant> {
        let key = (app.client_id.clone(), uri.to_owned());
        if let Some(grant) = fresh(&self.app_cache.grants, &key) {
            return Ok(grant);
        }
        let epoch = self.app_cache.epoch();
        // One round trip: the resource if it is linked to the client, with the scopes
        // granted on it (a NULL scope row when none is granted).
        let granted_ids = Query::select()
            .column("scope_id")
            .from("client_scopes")
            .and_where(Expr::col("application_id").eq(app.id))
            .to_owned();
        let q = Query::select()
            .column(("resources", "id"))
            .column(("resource_scopes", "scope"))
            .from("resources")
            .inner_join(
                "client_resources",
                Condition::all()
                    .add(Expr::col(("client_resources", "resource_id")).equals(("resources", "id")))
                    .add(Expr::col(("client_resources", "application_id")).eq(app.id)),
            )
            .left_join(
                "resource_scopes",
                Condition::all()
                    .add(Expr::col(("resource_scopes", "resource_id")).equals(("resources", "id")))
                    .add(Expr::col(("resource_scopes", "id")).in_subquery(granted_ids)),
            )
            .and_where(Expr::col(("resources", "uri")).eq(uri))
            .to_owned();
        let rows = self.db.reader().query_all(&q).await?;
        let grant: Grant = if rows.is_empty() {
            None
        } else {
            let mut scopes = Vec::with_capacity(rows.len());
            for row in &rows {
                if let Some(s) = row.try_get::<Option<String>>("", "scope")? {
                    scopes.push(s);
                }
            }
            Some(scopes.into())
        };
        self.app_cache.keep(&self.app_cache.grants, epoch, key, grant.clone());
        Ok(grant)
    }

    /// Whether any application allows `origin` for CORS.
    pub async fn origin_allowed(&self, origin: &str) -> Result<bool> {
        if let Some((at, set)) = self.origins.inner.read().await.as_ref()
            && at.elapsed() < ORIGIN_CACHE_TTL
        {
            self.telemetry.cache_lookup(crate::telemetry::Cache::Origins, true);
            return Ok(set.contains(origin));
        }
        self.telemetry.cache_lookup(crate::telemetry::Cache::Origins, false);
        let epoch = self.app_cache.epoch.load(std::sync::atomic::Ordering::Acquire);
        let rows = application::Entity::find().all(&self.db.reader()).await?;
        let set: std::collections::HashSet<String> = rows.iter().flat_map(|r| strings(&r.allowed_origins)).collect();
        let allowed = set.contains(origin);
        let mut cached = self.origins.inner.write().await;
        // Dropped while this read ran (see `AppCache::epoch`): do not keep what it read.
        if self.app_cache.epoch.load(std::sync::atomic::Ordering::Acquire) == epoch {
            *cached = Some((std::time::Instant::now(), std::sync::Arc::new(set)));
        }
        Ok(allowed)
    }

    /// Drops the cached origins and applications after an application changed (in this
    /// process, or in another one: see `changes`).
    pub(in crate::service) async fn forget(&self) {
        let mut origins = self.origins.inner.write().await;
        let mut map = self.app_cache.inner.write().unwrap_or_else(|p| p.into_inner());
        let mut clients = self.app_cache.clients.write().unwrap_or_else(|p| p.into_inner());
        let mut grants = self.app_cache.grants.write().unwrap_or_else(|p| p.into_inner());
        self.app_cache.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        map.clear();
        clients.clear();
        grants.clear();
        *origins = None;
    }
}

/// Allowed CORS origins of all applications, cached for a few seconds (every process
/// reloads them, so a change reaches all processes within that time).
#[derive(Default)]
pub struct OriginCache {
    inner: tokio::sync::RwLock<Option<(std::time::Instant, std::sync::Arc<std::collections::HashSet<String>>)>>,
}

/// How long the origin cache is trusted.
const ORIGIN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);
