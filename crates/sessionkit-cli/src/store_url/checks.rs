//! `serve`'s startup refusals of options its store cannot honour, checked on the URLs
//! before anything is opened or created (a bad URL is left to the opening, which reports
//! it).

use anyhow::bail;

use super::{Layout, StoreUrl, parse, redact};

/// Refuses lock mode (`serve --lock`) on a store that cannot take part in it across
/// nodes. Lock mode takes each node's own lock, then the store's lease (the cross-node
/// lock); Django's layouts on the shared servers have no lease store: the cache layout on
/// memcached or Redis keeps only Django's items, and the db layout on PostgreSQL or MySQL
/// only Django's `django_session` (a `cached_db` setup takes its leases from that db, so
/// none either). There a lock held on one node only would serialize nothing between the
/// nodes sharing the servers, so it is refused rather than silently weakened. The local
/// Django layouts (SQLite, file) are served by one host's processes, as their native
/// layouts, which have no leases either.
pub fn check_lock(url: &str, layout: Layout) -> anyhow::Result<()> {
    if layout != Layout::Django {
        return Ok(());
    }
    let Ok(parsed) = parse(url) else {
        return Ok(()); // reported when the store is opened
    };
    let parsed = match parsed {
        StoreUrl::Cached(inner) => *inner,
        other => other,
    };
    let what = match parsed {
        StoreUrl::Memcached(_) => "Django's cache layout on memcached",
        StoreUrl::Redis(_) | StoreUrl::RedisCluster(_) => "Django's cache layout on Redis",
        StoreUrl::Postgres(_) => "Django's db layout on PostgreSQL",
        StoreUrl::Mysql(_) => "Django's db layout on MySQL",
        _ => return Ok(()),
    };
    bail!(
        "--lock needs leases in the store, and {what} ({}) has none: serve it without --lock (compare-and-set, the default, loses no writes), or use --layout native (whose store has leases)",
        redact(url)
    );
}

/// Refuses `serve --redis-record-format` where it would change nothing: it is how the
/// native layout's [`RedisStore`](sessionkit_redis::RedisStore) writes session records,
/// so it needs `--layout native` and Redis as the store (`redis://`, `redis+cluster://`,
/// or either behind `cached+`).
/// The shared cache (`--cache-store`) keeps its entries in a format of its own (a hash
/// under its `c:` key, the same in every build), and Django's layout keeps Django's cache
/// entries (pickled): a format asked for there would silently do nothing.
pub fn check_redis_record_format(
    url: &str,
    cache_store: Option<&str>,
    layout: Layout,
) -> anyhow::Result<()> {
    const WHAT: &str = "--redis-record-format chooses how the native layout's Redis store writes its session records";
    // An unparsable URL is reported when the store is opened.
    let Ok(store) = parse(url) else {
        return Ok(());
    };
    let Ok(cache) = cache_store.map(parse).transpose() else {
        return Ok(());
    };
    let cache_is_redis = cache.as_ref().is_some_and(StoreUrl::is_redis);
    if layout == Layout::Django && (store.is_redis() || cache_is_redis) {
        bail!(
            "{WHAT}, and with --layout django Redis holds Django's cache entries (pickled, in Django's one format): serve without --redis-record-format, or with --layout native"
        );
    }
    if store.is_redis() {
        return Ok(());
    }
    if let (true, Some(cache_url)) = (cache_is_redis, cache_store) {
        bail!(
            "{WHAT}, and here Redis is only the shared cache (--cache-store {}), whose entries keep a format of their own (a hash per session, the same in every build) that it does not change: serve without --redis-record-format, or with a redis:// or redis+cluster:// --store",
            redact(cache_url)
        );
    }
    bail!(
        "{WHAT}, and store {} involves no Redis: serve without --redis-record-format, or with a redis:// or redis+cluster:// --store",
        redact(url)
    );
}

/// Refuses `serve --bind-user-agent` on a store that records no client info (see
/// [`StoreUrl::records_client_info`]): with no user agent recorded to compare with, the
/// binding would silently never flush a session.
pub fn check_bind_user_agent(url: &str, layout: Layout) -> anyhow::Result<()> {
    let Ok(parsed) = parse(url) else {
        return Ok(()); // reported when the store is opened
    };
    if parsed.records_client_info(layout) {
        return Ok(());
    }
    let what = match &parsed {
        StoreUrl::Cookie => "the signed cookie store",
        StoreUrl::EncryptedCookie => "the encrypted cookie store",
        _ => "Django's layout",
    };
    bail!(
        "--bind-user-agent compares each request's user agent with the one recorded with its session, and {what} ({}) records no client info, so the binding would never apply: serve without --bind-user-agent, or use a server-side store with --layout native (which records client info)",
        redact(url)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_records_client_info() {
        for (url, native, django) in [
            ("memory://", true, false),
            ("sqlite://s.db", true, false),
            ("redis://h", true, false),
            ("memcached://h:1", true, false),
            ("file:///d", true, false),
            ("cached+postgres://u@h/db", true, false),
            ("cookie://", false, false),
            ("encrypted-cookie://", false, false),
        ] {
            let u = parse(url).unwrap();
            assert_eq!(u.records_client_info(Layout::Native), native, "{url}");
            assert_eq!(u.records_client_info(Layout::Django), django, "{url}");
        }
        assert!(check_bind_user_agent("sqlite://s.db", Layout::Native).is_ok());
        assert!(check_bind_user_agent("sqlite://s.db", Layout::Django).is_err());
        // A bad URL is reported when the store is opened, not here.
        assert!(check_bind_user_agent("ftp://x", Layout::Django).is_ok());
    }

    #[test]
    fn where_the_redis_record_format_applies() {
        let n = Layout::Native;
        for url in ["redis://h", "redis+cluster://a:1,b:2", "cached+redis://h"] {
            assert!(check_redis_record_format(url, None, n).is_ok(), "{url}");
            assert!(
                check_redis_record_format(url, Some("redis://c"), n).is_ok(),
                "{url}"
            );
            assert!(
                check_redis_record_format(url, None, Layout::Django).is_err(),
                "{url}"
            );
        }
        for (url, cache) in [
            ("sqlite://s.db", None),
            ("sqlite://s.db", Some("redis://c")),
            ("memcached://h:1", None),
            ("cookie://", None),
        ] {
            let err = check_redis_record_format(url, cache, n).unwrap_err();
            assert!(err.to_string().contains("--redis-record-format"), "{err}");
        }
        // Passwords stay out of the message.
        let err = check_redis_record_format("postgres://u:pw@h/db", Some("redis://:pw@c"), n)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("pw@"), "{err}");
        // Bad URLs are reported when the store is opened, not here.
        assert!(check_redis_record_format("ftp://x", None, n).is_ok());
        assert!(check_redis_record_format("sqlite://s.db", Some("ftp://x"), n).is_ok());
    }
}
