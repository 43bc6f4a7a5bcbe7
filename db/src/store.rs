//! Remote stores for the file-like plugins: S3-compatible object storage
//! (`s3://bucket/prefix`, also spelled `s3a://`/`s3n://`) and HDFS (`hdfs://namenode:port/path`),
//! the `s3` connection options of a plugin's parameter, and the few blocking calls the plugins
//! make (list, head, get ranges, delete, put, multipart upload), run on one runtime of this
//! module's own so the plugins' blocking threads can call them.
//!
//! Both go through the `object_store` crate (the Apache Arrow project's store abstraction, also
//! what the `parquet` crate reads through): its S3 implementation over reqwest with rustls and
//! ring, and `hdfs-native-object-store` (a native HDFS client, no JVM) for HDFS.

use bytes::Bytes;
use datasync_engine::Secret;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::MultipartStore;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::future::Future;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// `s3` in a plugin's parameter: how to reach an S3-compatible store. Every key may be left
/// out; what is missing comes from the standard AWS variables (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Options {
    /// Endpoint of an S3-compatible service (MinIO, OSS, COS, Ceph, ...), e.g.
    /// `https://minio.internal:9000`; default AWS S3 of `region`.
    pub endpoint: Option<String>,
    /// Region; default `AWS_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`), as MinIO and most on-premise stores need;
    /// default true with `endpoint`, false without.
    pub path_style: Option<bool>,
    /// Access key id; default `AWS_ACCESS_KEY_ID`.
    #[schemars(with = "Option<String>")]
    pub access_key: Option<Secret>,
    /// Secret access key; default `AWS_SECRET_ACCESS_KEY`. Never printed; `${env:NAME}` or
    /// `${file:PATH}` keep it out of the job file.
    #[schemars(with = "Option<String>")]
    pub secret_key: Option<Secret>,
    /// Session token of temporary credentials; default `AWS_SESSION_TOKEN`.
    #[schemars(with = "Option<String>")]
    pub session_token: Option<Secret>,
    /// Hadoop client settings, as DataX's `hadoopConfig` of hdfsreader/hdfswriter (which is
    /// where those plugins take it from): for `hdfs://`, any HDFS client key (HA nameservices,
    /// `dfs.ha.namenodes.*`, `dfs.namenode.rpc-address.*`, ...) over what `HADOOP_CONF_DIR`
    /// says; for S3, the `fs.s3a.*` keys in [`S3A_KEYS`] when the keys above are absent.
    #[serde(default, deserialize_with = "datasync_codec::hive::hadoop_config")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub hadoop_config: BTreeMap<String, String>,
}

/// Deserializes a plugin's optional `s3` object: a value of another type is refused without
/// being quoted (it may be a secret written in the wrong place), and a list is not taken field
/// by field.
pub fn opt_s3<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<S3Options>, D::Error> {
    use serde::de::{Error, MapAccess, SeqAccess, Visitor};
    const NOT_AN_OBJECT: &str = "expected an object ({\"endpoint\": ..., \"accessKey\": ..., \
                                 \"secretKey\": ...}); the value given is not shown, it may hold a secret";
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<S3Options>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            // Through the map itself, so an error inside names its key.
            S3Options::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(A::Error::custom(NOT_AN_OBJECT))
        }
        fn visit_str<E: Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom(NOT_AN_OBJECT))
        }
        fn visit_bool<E: Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom(NOT_AN_OBJECT))
        }
        fn visit_i64<E: Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom(NOT_AN_OBJECT))
        }
        fn visit_u64<E: Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom(NOT_AN_OBJECT))
        }
        fn visit_f64<E: Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom(NOT_AN_OBJECT))
        }
    }
    d.deserialize_any(V)
}

/// Hadoop's s3a settings read from `hadoopConfig`, and the [`S3Options`] key each stands for.
pub const S3A_KEYS: [(&str, &str); 6] = [
    ("fs.s3a.endpoint", "endpoint"),
    ("fs.s3a.endpoint.region", "region"),
    ("fs.s3a.path.style.access", "pathStyle"),
    ("fs.s3a.access.key", "accessKey"),
    ("fs.s3a.secret.key", "secretKey"),
    ("fs.s3a.session.token", "sessionToken"),
];

impl S3Options {
    /// Whether the job gave `s3` options of its own (not only a `hadoopConfig` the hdfs front
    /// passed on, which a local path simply does not use).
    pub fn given(o: &Option<S3Options>) -> bool {
        o.as_ref().is_some_and(|o| {
            o != &S3Options {
                hadoop_config: o.hadoop_config.clone(),
                ..Default::default()
            }
        })
    }

    /// Adds `hadoop` (the hdfs front's `hadoopConfig`) to the store options `s3` of the plugin
    /// the front picked, over what `s3.hadoopConfig` says.
    pub fn add_hadoop_config(s3: &mut Option<S3Options>, hadoop: BTreeMap<String, String>) {
        if !hadoop.is_empty() {
            s3.get_or_insert_with(Default::default)
                .hadoop_config
                .extend(hadoop);
        }
    }

    /// These options with what `hadoopConfig`'s `fs.s3a.*` keys say filled in where a key of
    /// its own is absent; errors name the `hadoopConfig` key.
    pub fn with_s3a(&self) -> Result<S3Options, String> {
        let mut o = self.clone();
        for (hadoop, ours) in S3A_KEYS {
            let Some(v) = self.hadoop_config.get(hadoop).map(|v| v.trim()) else {
                continue;
            };
            if v.is_empty() {
                continue;
            }
            let secret = || Some(Secret::new(v.to_string()));
            match ours {
                "endpoint" => {
                    // Hadoop's endpoint may leave out the scheme: https, unless
                    // fs.s3a.connection.ssl.enabled says false.
                    let ssl = self
                        .hadoop_config
                        .get("fs.s3a.connection.ssl.enabled")
                        .is_none_or(|s| !s.trim().eq_ignore_ascii_case("false"));
                    let e = if v.contains("://") {
                        v.to_string()
                    } else if ssl {
                        format!("https://{v}")
                    } else {
                        format!("http://{v}")
                    };
                    o.endpoint = o.endpoint.or(Some(e));
                }
                "region" => o.region = o.region.or(Some(v.to_string())),
                "pathStyle" => {
                    let b = match v.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(format!(
                                "hadoopConfig.{hadoop}: \"{v}\" is not true or false"
                            ))
                        }
                    };
                    o.path_style = o.path_style.or(Some(b));
                }
                "accessKey" => o.access_key = o.access_key.or_else(secret),
                "secretKey" => o.secret_key = o.secret_key.or_else(secret),
                _ => o.session_token = o.session_token.or_else(secret),
            }
        }
        Ok(o)
    }

    /// The options as a plugin parameter's `s3` object (secrets in clear: for building another
    /// plugin in this process, never for printing).
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<serde_json::Value>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put("endpoint", self.endpoint.clone().map(Into::into));
        put("region", self.region.clone().map(Into::into));
        put("pathStyle", self.path_style.map(Into::into));
        put(
            "accessKey",
            self.access_key.as_ref().map(|s| s.expose().into()),
        );
        put(
            "secretKey",
            self.secret_key.as_ref().map(|s| s.expose().into()),
        );
        put(
            "sessionToken",
            self.session_token.as_ref().map(|s| s.expose().into()),
        );
        if !self.hadoop_config.is_empty() {
            put(
                "hadoopConfig",
                serde_json::to_value(&self.hadoop_config).ok(),
            );
        }
        serde_json::Value::Object(m)
    }
}

/// The kind of store a location is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// S3 or an S3-compatible service.
    S3,
    /// HDFS (the namenode's RPC port).
    Hdfs,
}

/// A bucket (for HDFS: the namenode, `host:port`) and a key prefix (no leading or trailing
/// `/`; empty for the whole bucket, or HDFS's root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    /// S3 or HDFS.
    pub scheme: Scheme,
    /// Bucket name, or the namenode's `host:port`.
    pub bucket: String,
    /// Key prefix (an HDFS path without its leading `/`), `/`-separated, without leading or
    /// trailing `/`.
    pub prefix: String,
}

impl StoreLocation {
    /// `s3://bucket/prefix` or `hdfs://namenode/path`.
    pub fn url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::S3 => "s3",
            Scheme::Hdfs => "hdfs",
        };
        if self.prefix.is_empty() {
            format!("{scheme}://{}", self.bucket)
        } else {
            format!("{scheme}://{}/{}", self.bucket, self.prefix)
        }
    }

    /// The location as Hive and Hadoop name it (Hive Metastore locations): `s3a://` for S3.
    pub fn hive_location(&self) -> String {
        match self.scheme {
            Scheme::S3 => format!("s3a{}", &self.url()[2..]),
            Scheme::Hdfs => self.url(),
        }
    }
}

/// The schemes an S3 location may be written with (Hadoop's `s3a://` and `s3n://` too).
const SCHEMES: [&str; 3] = ["s3://", "s3a://", "s3n://"];

pub use datasync_codec::hive::is_remote_url;

/// The endpoint URL the S3 client is given: `endpoint` checked (http or https, a host, a
/// valid port), and for virtual-hosted-style requests (`pathStyle: false`) the bucket put in
/// front of the host, as the client expects the endpoint of such requests to name it.
fn endpoint_url(endpoint: &str, bucket: &str, path_style: bool) -> Result<String, String> {
    // An endpoint with a user or password in it is not echoed.
    let shown = if endpoint.contains('@') {
        "(not shown: it holds a user or password)".to_string()
    } else {
        format!("\"{endpoint}\"")
    };
    let bad = |why: String| format!("endpoint {shown}: {why}");
    let mut url = reqwest::Url::parse(endpoint.trim()).map_err(|e| bad(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "a user or password in the URL is not used: give them as accessKey/secretKey".into(),
        ));
    }
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
        || url.path() != "/"
    {
        return Err(bad(
            "expected http://host[:port] or https://host[:port]".into()
        ));
    }
    let Some(host) = url.host_str().map(str::to_string) else {
        return Err(bad("no host".into()));
    };
    if !path_style {
        url.set_host(Some(&format!("{bucket}.{host}")))
            .map_err(|e| bad(e.to_string()))?;
    }
    Ok(url.to_string())
}

/// The HDFS client settings of a job: short failover retries and timeouts, so a namenode that
/// is down fails the job in seconds (Hadoop's defaults retry for minutes), under the job's
/// `hadoopConfig`, which may set any of them.
pub fn hdfs_config(hadoop: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut c: BTreeMap<String, String> = [
        ("dfs.client.failover.max.attempts", "3"),
        ("dfs.client.failover.sleep.base.millis", "200"),
        ("dfs.client.failover.sleep.max.millis", "2000"),
        ("dfs.client.socket-timeout", "30000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    c.extend(hadoop.iter().map(|(k, v)| (k.clone(), v.clone())));
    c
}

/// Parses `hdfs://namenode:port/path`.
fn parse_hdfs(url: &str) -> Result<StoreLocation, String> {
    let rest = &url["hdfs://".len()..];
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let authority_ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:_[]".contains(&b));
    if !authority_ok {
        return Err(format!(
            "\"{url}\": \"{authority}\" is not a namenode (host:port, or an HA nameservice); \
             expected hdfs://namenode:8020/path"
        ));
    }
    let path = path.trim_end_matches('/');
    if path
        .split('/')
        .any(|seg| seg == "." || seg == ".." || (seg.is_empty() && !path.is_empty()))
    {
        return Err(format!(
            "\"{url}\": the path may not hold empty, \".\" or \"..\" segments"
        ));
    }
    Ok(StoreLocation {
        scheme: Scheme::Hdfs,
        bucket: authority.to_string(),
        prefix: path.to_string(),
    })
}

/// Parses `s3://bucket/prefix/` or `hdfs://namenode:port/path`. `None`: not a remote URL; an
/// error says what is wrong with one.
pub fn parse_location(url: &str) -> Option<Result<StoreLocation, String>> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("hdfs://") {
        return Some(parse_hdfs(url));
    }
    let scheme = SCHEMES.iter().find(|s| lower.starts_with(**s))?;
    let rest = &url[scheme.len()..];
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.']);
    if !bucket_ok {
        return Some(Err(format!(
            "\"{url}\": \"{bucket}\" is not a bucket name (3 to 63 lower-case letters, digits, \
             '-' or '.'); expected s3://bucket/prefix"
        )));
    }
    if prefix.starts_with('/') {
        return Some(Err(format!(
            "\"{url}\": the key prefix may not start with an empty segment"
        )));
    }
    let prefix = prefix.trim_end_matches('/');
    if prefix
        .split('/')
        .any(|seg| seg == "." || seg == ".." || (seg.is_empty() && !prefix.is_empty()))
    {
        return Some(Err(format!(
            "\"{url}\": the key prefix may not hold empty, \".\" or \"..\" segments"
        )));
    }
    Some(Ok(StoreLocation {
        scheme: Scheme::S3,
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
    }))
}

/// An S3 call that failed: what was being done, where, and the store's answer (which never
/// holds credentials).
#[derive(Debug, thiserror::Error)]
#[error("{action} {url}: {message}")]
pub struct StoreError {
    action: &'static str,
    url: String,
    message: String,
}

impl StoreError {
    fn new(action: &'static str, url: impl Into<String>, e: impl std::fmt::Display) -> Self {
        StoreError {
            action,
            url: url.into(),
            message: e.to_string(),
        }
    }
}

/// The runtime every S3 call runs on (its own, so a plugin's blocking thread can wait on it).
fn runtime() -> Result<&'static tokio::runtime::Runtime, StoreError> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("datasync-s3")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| StoreError::new("cannot start the S3 client runtime", "", e))
}

/// Runs `f` on the S3 runtime and waits for it. Call from a blocking thread, never from async
/// code.
fn block_on<T>(f: impl Future<Output = T> + Send + 'static) -> Result<T, StoreError>
where
    T: Send + 'static,
{
    let rt = runtime()?;
    let handle = rt.spawn(f);
    rt.block_on(handle)
        .map_err(|e| StoreError::new("S3 call failed to complete", "", e))
}

/// Size of each part of a multipart upload (S3 wants at least 5 MiB but for the last).
const PART_BYTES: usize = 16 << 20;
/// Files up to this size are uploaded with one PUT.
const SINGLE_PUT_MAX: u64 = 32 << 20;
/// Parts in flight at once per file.
const PARTS_IN_FLIGHT: usize = 4;

/// Objects directly in a "directory" (name, size) and its "subdirectories" (names).
pub type Listing = (Vec<(String, u64)>, Vec<String>);

/// One S3 location, connected (the client is built; nothing is sent until a call).
#[derive(Debug, Clone)]
pub struct Store {
    store: Arc<dyn ObjectStore>,
    /// S3's multipart API (uploads whose ids can be recorded and aborted); `None` for HDFS,
    /// where an upload is a hidden temporary file renamed into place.
    multipart: Option<Arc<AmazonS3>>,
    loc: StoreLocation,
    /// The endpoint, or `AWS (region)`.
    endpoint: String,
}

impl Store {
    /// Builds the client for `loc` from `o`, falling back to the standard AWS variables.
    pub fn connect(loc: StoreLocation, o: &S3Options) -> Result<Self, StoreError> {
        if loc.scheme == Scheme::Hdfs {
            return Self::connect_hdfs(loc, &o.hadoop_config);
        }
        let o = &o
            .with_s3a()
            .map_err(|e| StoreError::new("cannot set up the S3 client for", loc.url(), e))?;
        // reqwest's rustls takes the process's provider; ring is the one the workspace builds.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&loc.bucket)
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_connect_timeout(std::time::Duration::from_secs(5))
                    .with_timeout(std::time::Duration::from_secs(30)),
            );
        if let Some(r) = o.region.as_deref().filter(|r| !r.is_empty()) {
            b = b.with_region(r);
        }
        let endpoint = o.endpoint.clone().filter(|e| !e.is_empty()).or_else(|| {
            std::env::var("AWS_ENDPOINT_URL")
                .ok()
                .filter(|e| !e.is_empty())
        });
        let path_style = o.path_style.unwrap_or(endpoint.is_some());
        if let Some(e) = &endpoint {
            let url = endpoint_url(e, &loc.bucket, path_style)
                .map_err(|m| StoreError::new("cannot set up the S3 client for", loc.url(), m))?;
            b = b
                .with_endpoint(url.trim_end_matches('/'))
                .with_allow_http(url.starts_with("http://"));
        }
        // A store that refuses connections fails the job in seconds and one that never
        // answers within about a minute, not after object_store's default 3 minutes; a
        // transient error is still retried.
        b = b.with_retry(object_store::RetryConfig {
            backoff: Default::default(),
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(60),
        });
        b = b.with_virtual_hosted_style_request(!path_style);
        if let Some(k) = &o.access_key {
            b = b.with_access_key_id(k.expose());
        }
        if let Some(k) = &o.secret_key {
            b = b.with_secret_access_key(k.expose());
        }
        if let Some(k) = &o.session_token {
            b = b.with_token(k.expose());
        }
        let store = b.build().map_err(|e| {
            StoreError::new(
                "cannot set up the S3 client for",
                loc.url(),
                format!(
                    "{e} (the client takes s3's endpoint, region, accessKey, secretKey, \
                     sessionToken, else hadoopConfig's fs.s3a.* keys, else the AWS_* variables)"
                ),
            )
        })?;
        // Credentials from the environment are masked like the job's own secrets.
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            if let Ok(v) = std::env::var(var) {
                if !v.trim().is_empty() {
                    datasync_engine::secrets::register(&v);
                }
            }
        }
        let endpoint = endpoint.unwrap_or_else(|| {
            format!(
                "AWS ({})",
                o.region
                    .clone()
                    .or_else(|| std::env::var("AWS_REGION").ok())
                    .unwrap_or_else(|| "us-east-1".into())
            )
        });
        let store = Arc::new(store);
        Ok(Store {
            store: Arc::clone(&store) as Arc<dyn ObjectStore>,
            multipart: Some(store),
            loc,
            endpoint,
        })
    }

    #[cfg(not(feature = "hdfs"))]
    fn connect_hdfs(
        loc: StoreLocation,
        _hadoop: &BTreeMap<String, String>,
    ) -> Result<Self, StoreError> {
        Err(StoreError::new(
            "cannot reach",
            loc.url(),
            "this build has no HDFS client (the hdfs feature)",
        ))
    }

    /// The client of an HDFS namenode or HA nameservice (simple authentication:
    /// `HADOOP_USER_NAME`, else the login name; no Kerberos), with `hadoop` (the job's
    /// `hadoopConfig`) over the files of `HADOOP_CONF_DIR`.
    #[cfg(feature = "hdfs")]
    fn connect_hdfs(
        loc: StoreLocation,
        hadoop: &BTreeMap<String, String>,
    ) -> Result<Self, StoreError> {
        let url = format!("hdfs://{}", loc.bucket);
        let store = hdfs_native_object_store::HdfsObjectStoreBuilder::new()
            .with_url(&url)
            .with_config(hdfs_config(hadoop))
            .with_io_runtime(runtime()?.handle().clone())
            .build()
            .map_err(|e| StoreError::new("cannot set up the HDFS client for", loc.url(), e))?;
        Ok(Store {
            store: Arc::new(store),
            multipart: None,
            loc,
            endpoint: url,
        })
    }

    /// The location this client was built for.
    pub fn location(&self) -> &StoreLocation {
        &self.loc
    }

    /// The full key of `rel` (a `/`-separated path below the prefix; empty: the prefix).
    fn full(&self, rel: &str) -> String {
        let rel = rel.trim_matches('/');
        match (self.loc.prefix.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (false, true) => self.loc.prefix.clone(),
            (false, false) => format!("{}/{rel}", self.loc.prefix),
        }
    }

    /// The key of `rel`, exactly as written (no second percent-encoding: a Hive partition
    /// directory `p=x%3Dy` stays that).
    fn key(&self, rel: &str) -> Result<Key, StoreError> {
        Key::parse(self.full(rel))
            .map_err(|e| StoreError::new("not a usable key:", self.url(rel), e))
    }

    /// `s3://bucket/prefix/rel`.
    pub fn url(&self, rel: &str) -> String {
        let scheme = match self.loc.scheme {
            Scheme::S3 => "s3",
            Scheme::Hdfs => "hdfs",
        };
        format!("{scheme}://{}/{}", self.loc.bucket, self.full(rel))
    }

    /// A name for the store and location, for telling two targets apart: the endpoint (or
    /// AWS and the region), the bucket and the prefix.
    pub fn identity(&self) -> String {
        format!("{} at {}", self.loc.url(), self.endpoint)
    }

    /// Objects directly below `rel` (name, size), and the names of the "directories" (common
    /// prefixes) there, each sorted.
    pub fn list_dir(&self, rel: &str) -> Result<Listing, StoreError> {
        let (store, key, url) = (Arc::clone(&self.store), self.key(rel)?, self.url(rel));
        let prefix = (!key.as_ref().is_empty()).then_some(key);
        let listed = block_on(async move { store.list_with_delimiter(prefix.as_ref()).await })?
            .map_err(|e| StoreError::new("cannot list", url, e))?;
        let mut files: Vec<(String, u64)> = listed
            .objects
            .into_iter()
            .filter_map(|o| o.location.filename().map(|n| (n.to_string(), o.size)))
            .collect();
        let mut dirs: Vec<String> = listed
            .common_prefixes
            .into_iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        files.sort();
        dirs.sort();
        Ok((files, dirs))
    }

    /// Every object below `rel`, as paths relative to `rel`, with sizes and versions (the
    /// ETag, else the modification time), sorted.
    pub fn list_all(&self, rel: &str) -> Result<Vec<(String, u64, String)>, StoreError> {
        use futures_util::TryStreamExt;
        let (store, key, url) = (Arc::clone(&self.store), self.key(rel)?, self.url(rel));
        let base = key.as_ref().to_string();
        let prefix = (!base.is_empty()).then_some(key);
        let metas = block_on(async move {
            store
                .list(prefix.as_ref())
                .try_collect::<Vec<object_store::ObjectMeta>>()
                .await
        })?
        .map_err(|e| StoreError::new("cannot list", url, e))?;
        let mut out: Vec<(String, u64, String)> = metas
            .into_iter()
            .map(|m| {
                let full = m.location.as_ref();
                let rel = full
                    .strip_prefix(base.as_str())
                    .unwrap_or(full)
                    .trim_start_matches('/');
                let version = match &m.e_tag {
                    Some(e) => format!("etag:{e}"),
                    None => format!("mtime:{}", m.last_modified.to_rfc3339()),
                };
                (rel.to_string(), m.size, version)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Whether the object `rel` exists.
    pub fn exists(&self, rel: &str) -> Result<bool, StoreError> {
        Ok(self.size(rel)?.is_some())
    }

    /// The size of the object `rel`, `None` when there is none.
    pub fn size(&self, rel: &str) -> Result<Option<u64>, StoreError> {
        let (store, key, url) = (Arc::clone(&self.store), self.key(rel)?, self.url(rel));
        match block_on(async move { store.head(&key).await })? {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(StoreError::new("cannot look up", url, e)),
        }
    }

    /// Removes the object `rel`; one that is not there is fine.
    pub fn delete(&self, rel: &str) -> Result<(), StoreError> {
        let (store, key, url) = (Arc::clone(&self.store), self.key(rel)?, self.url(rel));
        match block_on(async move { store.delete(&key).await })? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StoreError::new("cannot remove", url, e)),
        }
    }

    /// Writes the object `rel` with `data` (one PUT).
    pub fn put(&self, rel: &str, data: Vec<u8>) -> Result<(), StoreError> {
        let (store, key, url) = (Arc::clone(&self.store), self.key(rel)?, self.url(rel));
        block_on(async move { store.put(&key, PutPayload::from(data)).await })?
            .map_err(|e| StoreError::new("cannot write", url, e))?;
        Ok(())
    }

    /// Reads the object `rel` whole (small objects only: markers, journals).
    pub fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (store, key, url) = (Arc::clone(&self.store), self.key(rel)?, self.url(rel));
        let got = block_on(async move {
            match store.get(&key).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        got.map(|b| b.map(|b| b.to_vec()))
            .map_err(|e| StoreError::new("cannot read", url, e))
    }

    /// `len` bytes of the object `rel` from `start` (one ranged GET).
    /// With `if_match` (an ETag), only that version of the object is read.
    pub fn get_range(
        &self,
        rel: &str,
        start: u64,
        len: u64,
        if_match: Option<&str>,
    ) -> Result<Bytes, StoreError> {
        let (store, key, url) = (Arc::clone(&self.store), self.key(rel)?, self.url(rel));
        let opts = object_store::GetOptions {
            range: Some((start..start + len).into()),
            if_match: if_match.map(str::to_string),
            ..Default::default()
        };
        let got = block_on(async move {
            match store.get_opts(&key, opts).await {
                Ok(r) => r.bytes().await,
                Err(e) => Err(e),
            }
        })?
        .map_err(|e| match e {
            object_store::Error::Precondition { .. } => StoreError::new(
                "cannot read",
                url.clone(),
                "the object changed since it was listed (its ETag differs)",
            ),
            e => StoreError::new("cannot read", url.clone(), e),
        })?;
        if got.len() as u64 != len {
            return Err(StoreError::new(
                "cannot read",
                url,
                format!(
                    "asked for {len} bytes at {start}, got {}: the object changed since it was \
                     listed",
                    got.len()
                ),
            ));
        }
        Ok(got)
    }

    /// Uploads the local file `local` as the object `rel`: one PUT when it is small, else a
    /// multipart upload whose id is written to `record` (durably) before any part is sent and
    /// removed once the upload completed or was aborted. A `record` left by a killed upload is
    /// aborted first, so no multipart upload is left open on the store.
    pub fn upload(&self, local: &Path, rel: &str, record: &Path) -> Result<(), StoreError> {
        self.abort_recorded(record)?;
        let url = self.url(rel);
        let local_err = |action: &'static str| {
            let url = url.clone();
            move |e: std::io::Error| {
                StoreError::new(action, url, format!("{}: {e}", local.display()))
            }
        };
        let size = fs::metadata(local)
            .map_err(local_err("cannot upload to"))?
            .len();
        let key = self.key(rel)?;
        if size <= SINGLE_PUT_MAX {
            let data = fs::read(local).map_err(local_err("cannot upload to"))?;
            let store = Arc::clone(&self.store);
            block_on(async move { store.put(&key, PutPayload::from(data)).await })?
                .map_err(|e| StoreError::new("cannot write", url.clone(), e))?;
            return Ok(());
        }
        let Some(mp) = self.multipart.clone() else {
            return self.stream_up(local, key, &url);
        };
        let (store, k) = (Arc::clone(&mp), key.clone());
        let id = block_on(async move { store.create_multipart(&k).await })?
            .map_err(|e| StoreError::new("cannot start a multipart upload of", url.clone(), e))?;
        write_durably(record, format!("{}\n{id}\n", key.as_ref()).as_bytes())
            .map_err(local_err("cannot record the multipart upload of"))?;
        let sent = self.send_parts(&mp, local, &key, &id, &url);
        let (store, k, i) = (mp, key.clone(), id.clone());
        match sent {
            Ok(parts) => {
                block_on(async move { store.complete_multipart(&k, &i, parts).await })?.map_err(
                    |e| StoreError::new("cannot complete the upload of", url.clone(), e),
                )?;
            }
            Err(e) => {
                if let Ok(Err(a)) = block_on(async move { store.abort_multipart(&k, &i).await }) {
                    tracing::warn!(
                        "could not abort the multipart upload of {url} (id {id}): {a}; the \
                         next run or `datasync recover` tries again"
                    );
                    return Err(e);
                }
            }
        }
        let _ = fs::remove_file(record);
        Ok(())
    }

    /// Sends `local` in parts of [`PART_BYTES`], a few at a time; the part ids in order.
    fn send_parts(
        &self,
        mp: &Arc<AmazonS3>,
        local: &Path,
        key: &Key,
        id: &str,
        url: &str,
    ) -> Result<Vec<object_store::multipart::PartId>, StoreError> {
        let rt = runtime()?;
        let mut f = fs::File::open(local).map_err(|e| {
            StoreError::new("cannot upload to", url, format!("{}: {e}", local.display()))
        })?;
        let mut in_flight = VecDeque::new();
        let mut parts = Vec::new();
        let wait = |h: tokio::task::JoinHandle<object_store::Result<_>>| {
            rt.block_on(h)
                .map_err(|e| StoreError::new("cannot upload a part of", url, e))?
                .map_err(|e| StoreError::new("cannot upload a part of", url, e))
        };
        for idx in 0.. {
            let mut buf = Vec::with_capacity(PART_BYTES);
            (&mut f)
                .take(PART_BYTES as u64)
                .read_to_end(&mut buf)
                .map_err(|e| {
                    StoreError::new("cannot upload to", url, format!("{}: {e}", local.display()))
                })?;
            if buf.is_empty() && idx > 0 {
                break;
            }
            let last = buf.len() < PART_BYTES;
            let (store, key, id) = (Arc::clone(mp), key.clone(), id.to_string());
            let payload = PutPayload::from(Bytes::from(buf));
            in_flight
                .push_back(rt.spawn(async move { store.put_part(&key, &id, idx, payload).await }));
            if in_flight.len() >= PARTS_IN_FLIGHT {
                if let Some(h) = in_flight.pop_front() {
                    parts.push(wait(h)?);
                }
            }
            pause_between_parts();
            if last {
                break;
            }
        }
        while let Some(h) = in_flight.pop_front() {
            parts.push(wait(h)?);
        }
        Ok(parts)
    }

    /// Uploads `local` as `key` through the store's own multipart writer (HDFS: a hidden
    /// temporary file written in parts and renamed into place at the end, deleted on error).
    fn stream_up(&self, local: &Path, key: Key, url: &str) -> Result<(), StoreError> {
        let (store, path, u) = (
            Arc::clone(&self.store),
            local.to_path_buf(),
            url.to_string(),
        );
        block_on(async move {
            let upload = store
                .put_multipart(&key)
                .await
                .map_err(|e| StoreError::new("cannot start writing", u.clone(), e))?;
            let mut w = object_store::WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            let sent = async {
                let mut f = fs::File::open(&path).map_err(|e| {
                    StoreError::new(
                        "cannot upload to",
                        u.clone(),
                        format!("{}: {e}", path.display()),
                    )
                })?;
                let mut buf = vec![0u8; PART_BYTES];
                loop {
                    let n = f.read(&mut buf).map_err(|e| {
                        StoreError::new(
                            "cannot upload to",
                            u.clone(),
                            format!("{}: {e}", path.display()),
                        )
                    })?;
                    if n == 0 {
                        break;
                    }
                    w.wait_for_capacity(PARTS_IN_FLIGHT)
                        .await
                        .map_err(|e| StoreError::new("cannot write", u.clone(), e))?;
                    w.write(&buf[..n]);
                }
                Ok::<_, StoreError>(())
            }
            .await;
            match sent {
                Ok(()) => w
                    .finish()
                    .await
                    .map(|_| ())
                    .map_err(|e| StoreError::new("cannot finish writing", u, e)),
                Err(e) => {
                    let _ = w.abort().await;
                    Err(e)
                }
            }
        })?
    }

    /// Aborts the multipart upload a killed run recorded in `record`, if any, and removes the
    /// record. An upload the store no longer knows (completed or aborted already) is fine.
    pub fn abort_recorded(&self, record: &Path) -> Result<(), StoreError> {
        let text = match fs::read_to_string(record) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(StoreError::new(
                    "cannot read the multipart upload record",
                    record.display().to_string(),
                    e,
                ))
            }
        };
        let mut lines = text.lines();
        if let (Some(key), Some(id), Some(mp)) = (lines.next(), lines.next(), &self.multipart) {
            let k = Key::parse(key).map_err(|e| {
                StoreError::new(
                    "cannot read the multipart upload record",
                    record.display().to_string(),
                    e,
                )
            })?;
            let (store, i) = (Arc::clone(mp), id.trim().to_string());
            let url = format!("s3://{}/{key}", self.loc.bucket); // multipart ids are S3's only
            match block_on(async move { store.abort_multipart(&k, &i).await })? {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    tracing::info!("aborted the multipart upload a killed run left for {url}");
                }
                Err(e) => {
                    return Err(StoreError::new(
                        "cannot abort the multipart upload of",
                        url,
                        e,
                    ))
                }
            }
        }
        let _ = fs::remove_file(record);
        Ok(())
    }
}

/// Test hook: a pause after each part sent, so the fault tests can kill the process in the
/// middle of a multipart upload. Unset in production.
fn pause_between_parts() {
    if let Some(ms) = std::env::var("DATASYNC_TEST_S3_PART_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Writes `data` to `path` and syncs it (temp file, rename, directory sync).
fn write_durably(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        if let Ok(d) = fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_and_take_the_bucket_for_virtual_hosts() {
        assert_eq!(
            endpoint_url("http://127.0.0.1:9000", "b", true).unwrap(),
            "http://127.0.0.1:9000/"
        );
        assert_eq!(
            endpoint_url("https://oss-cn-hangzhou.aliyuncs.com", "lake", false).unwrap(),
            "https://lake.oss-cn-hangzhou.aliyuncs.com/"
        );
        for bad in [
            "http://127.0.0.1:abc",
            "ftp://h",
            "minio:9000",
            "http://",
            "http://h:9000/base",
            "http://h:9000?x=1",
            "http://h#f",
        ] {
            let e = endpoint_url(bad, "b", true).unwrap_err();
            assert!(e.contains("endpoint"), "{bad}: {e}");
        }
        let e = endpoint_url("http://user:pw-77x@h:9000", "b", true).unwrap_err();
        assert!(!e.contains("pw-77x") && e.contains("accessKey"), "{e}");
    }

    #[test]
    fn hadoop_config_fills_what_the_s3_options_leave_out() {
        let o: S3Options = serde_json::from_value(serde_json::json!({
            "region": "eu-1",
            "hadoopConfig": {"fs.s3a.endpoint": "minio.internal:9000", "fs.s3a.access.key": "AK1",
                "fs.s3a.secret.key": "hadoop-secret-7", "fs.s3a.path.style.access": true,
                "fs.s3a.endpoint.region": "ignored-region", "dfs.replication": 2}
        }))
        .unwrap();
        assert_eq!(o.hadoop_config["dfs.replication"], "2");
        #[derive(Deserialize)]
        struct P {
            #[serde(default, deserialize_with = "opt_s3")]
            s3: Option<S3Options>,
        }
        for v in [
            serde_json::json!({"s3": "secretKey=Zq9-hidden"}),
            serde_json::json!({"s3": ["Zq9-hidden"]}),
        ] {
            let e = serde_json::from_value::<P>(v).err().unwrap().to_string();
            assert!(
                !e.contains("Zq9-hidden") && e.contains("expected an object"),
                "{e}"
            );
        }
        assert!(serde_json::from_value::<P>(serde_json::json!({}))
            .unwrap()
            .s3
            .is_none());
        let w = o.with_s3a().unwrap();
        assert_eq!(w.endpoint.as_deref(), Some("https://minio.internal:9000"));
        assert_eq!(w.region.as_deref(), Some("eu-1"));
        assert_eq!(w.path_style, Some(true));
        assert_eq!(w.access_key.as_ref().map(Secret::expose), Some("AK1"));
        assert_eq!(
            w.secret_key.as_ref().map(Secret::expose),
            Some("hadoop-secret-7")
        );
        // Registered for masking when the job was read.
        let shown = format!("{o:?}");
        assert!(
            !datasync_engine::secrets::redact(&shown).contains("hadoop-secret-7"),
            "{shown}"
        );
        let mut bad = o.clone();
        bad.hadoop_config
            .insert("fs.s3a.path.style.access".into(), "yes".into());
        assert!(bad
            .with_s3a()
            .unwrap_err()
            .contains("fs.s3a.path.style.access"));
        let e =
            serde_json::from_value::<S3Options>(serde_json::json!({"hadoopConfig": {"a": [1]}}))
                .unwrap_err();
        assert!(e.to_string().contains("\"a\": expected a string"), "{e}");
        // The job's HDFS keys win over datasync's short failover defaults.
        let c = hdfs_config(&BTreeMap::from([(
            "dfs.client.failover.max.attempts".to_string(),
            "10".to_string(),
        )]));
        assert_eq!(c["dfs.client.failover.max.attempts"], "10");
        assert_eq!(c["dfs.client.socket-timeout"], "30000");
    }

    #[test]
    fn locations() {
        let l = parse_location("s3://my-bucket/warehouse/orders/")
            .unwrap()
            .unwrap();
        assert_eq!(l.bucket, "my-bucket");
        assert_eq!(l.prefix, "warehouse/orders");
        assert_eq!(l.url(), "s3://my-bucket/warehouse/orders");
        assert_eq!(l.hive_location(), "s3a://my-bucket/warehouse/orders");
        let l = parse_location("S3A://bkt").unwrap().unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("bkt", ""));
        assert!(parse_location("/tmp/x").is_none());
        let h = parse_location("hdfs://nn-1.example:8020/user/hive/warehouse/t/")
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.scheme, h.bucket.as_str(), h.prefix.as_str()),
            (Scheme::Hdfs, "nn-1.example:8020", "user/hive/warehouse/t")
        );
        assert_eq!(h.url(), "hdfs://nn-1.example:8020/user/hive/warehouse/t");
        assert_eq!(h.hive_location(), h.url());
        assert!(is_remote_url("HDFS://nn:8020/x"));
        for bad in [
            "hdfs:///x",
            "hdfs://nn:8020/a//b",
            "hdfs://nn/a/../b",
            "hdfs://n n/x",
            "s3://",
            "s3://Upper/x",
            "s3://ab/x",
            "s3://b_k/x",
            "s3://bkt/a//b",
            "s3://bkt/a/../b",
            "s3://bkt//b",
        ] {
            assert!(parse_location(bad).unwrap().is_err(), "{bad}");
        }
        assert!(is_remote_url(" s3n://bkt/x"));
    }

    #[test]
    fn keys_join_the_prefix() {
        let s3 = Store::connect(
            parse_location("s3://bkt/t").unwrap().unwrap(),
            &S3Options {
                endpoint: Some("http://127.0.0.1:1".into()),
                region: Some("us-east-1".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s3.url("dt=1/f.parquet"), "s3://bkt/t/dt=1/f.parquet");
        assert_eq!(s3.url(""), "s3://bkt/t");
        let root = Store::connect(
            parse_location("s3://bkt").unwrap().unwrap(),
            &S3Options::default(),
        )
        .unwrap();
        assert_eq!(root.url("a/b"), "s3://bkt/a/b");
    }
}
