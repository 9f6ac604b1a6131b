//! Which server holds a key: the client-side hashing of pymemcache's `HashClient` (the
//! client behind Django's `PyMemcacheCache`), so that sessionkit and Django find a key on
//! the same server.
//!
//! `HashClient` names each server `"{host}:{port}"` (the host as written in `LOCATION`,
//! brackets of an IPv6 address removed) and picks, for a key, the server with the highest
//! score `murmur3_32(f"{name}-{key}", seed=0)` — rendezvous (highest random weight)
//! hashing; a tie goes to the greater name. Adding or removing a server moves only the
//! keys that score highest on it.

/// MurmurHash3, x86 32-bit variant, as pymemcache's `murmur3_32` computes it. pymemcache
/// hashes the characters of a Python `str`, taking the low byte of each code point; keys
/// here are ASCII (memcached keys), where that is the byte itself.
pub(crate) fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h1 = seed;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k1 = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k1 = k1.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k1 = 0u32;
        for (i, b) in tail.iter().enumerate() {
            k1 |= u32::from(*b) << (8 * i);
        }
        k1 = k1.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h1 ^= k1;
    }
    // The length is taken modulo 2^32, as the reference does.
    h1 ^= data.len() as u32;
    h1 ^= h1 >> 16;
    h1 = h1.wrapping_mul(0x85eb_ca6b);
    h1 ^= h1 >> 13;
    h1 = h1.wrapping_mul(0xc2b2_ae35);
    h1 ^= h1 >> 16;
    h1
}

/// The index in `names` of the server that holds `key` (`None` when there are no servers).
pub(crate) fn pick(names: &[String], key: &[u8]) -> Option<usize> {
    let mut best: Option<(u32, usize)> = None;
    let mut buf = Vec::with_capacity(64 + key.len());
    for (i, name) in names.iter().enumerate() {
        buf.clear();
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'-');
        buf.extend_from_slice(key);
        let score = murmur3_32(&buf, 0);
        best = match best {
            None => Some((score, i)),
            Some((s, _)) if score > s => Some((score, i)),
            Some((s, j)) if score == s && name > &names[j] => Some((score, i)),
            keep => keep,
        };
    }
    best.map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values of MurmurHash3_x86_32 (seed 0 unless given).
    #[test]
    fn murmur3_matches_the_reference() {
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"hello", 0), 0x248b_fa47);
        assert_eq!(murmur3_32(b"Hello, world!", 0), 0xc036_3e43);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
        assert_eq!(murmur3_32(b"abc", 0), 0xb3dd_93fa);
    }

    /// pymemcache's `RendezvousHash(["127.0.0.1:11211", "127.0.0.1:11212"]).get_node(key)`.
    #[test]
    fn pick_agrees_with_pymemcache() {
        let names = vec!["127.0.0.1:11211".to_owned(), "127.0.0.1:11212".to_owned()];
        let picked: Vec<usize> = (0..6)
            .map(|n| {
                let key = format!(":1:django.contrib.sessions.cache{n:032}");
                pick(&names, key.as_bytes()).unwrap()
            })
            .collect();
        assert_eq!(picked, [1, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn one_server_takes_every_key_and_none_takes_none() {
        let one = vec!["127.0.0.1:11211".to_owned()];
        assert_eq!(pick(&one, b"anything"), Some(0));
        assert_eq!(pick(&[], b"anything"), None);
    }

    #[test]
    fn keys_spread_and_removing_a_server_moves_only_its_keys() {
        let three: Vec<String> = (1..=3).map(|i| format!("10.0.0.{i}:11211")).collect();
        let two = three[..2].to_vec();
        let mut counts = [0usize; 3];
        for n in 0..3000 {
            let key = format!(":1:django.contrib.sessions.cache{n:032}");
            let a = pick(&three, key.as_bytes()).unwrap();
            counts[a] += 1;
            let b = pick(&two, key.as_bytes()).unwrap();
            if a < 2 {
                assert_eq!(a, b, "a key of a remaining server stays");
            }
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }
}
