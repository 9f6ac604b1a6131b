//! The payload compression (zlib) and latin-1 text.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::*;

// ---------------------------------------------------------------------------------------
// zlib and latin-1

/// `zlib.compress(data)`: a zlib container as CPython's default level 6 writes it. `None`
/// only if the encoder fails, which writing to memory does not.
///
/// The zlib-rs backend ports zlib-ng, whose levels 1–6 use faster strategies than zlib's;
/// its level 9 runs zlib's lazy-matching `deflate_slow`, which on session-sized inputs
/// produces the very deflate stream CPython's level 6 does (every compressed Django vector
/// matches byte for byte) and never a larger one than zlib-rs level 6. The header is set
/// to level 6's `78 9c` (its level field is informational; both pass the header check).
/// Byte identity is a bonus: Django reads any valid zlib stream.
pub fn zlib_compress(data: &[u8]) -> Option<Vec<u8>> {
    // zlib's state is a few hundred kilobytes: allocating and zeroing it for every cookie
    // would cost more than the compression. Each thread keeps one and resets it.
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Option<Compress>> = const { std::cell::RefCell::new(None) };
    }
    let mut out = COMPRESSOR.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        let comp = slot.get_or_insert_with(|| Compress::new(Compression::new(9), true));
        comp.reset();
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(comp.total_in()).ok()?;
            let status = comp
                .compress_vec(&data[consumed..], &mut out, FlushCompress::Finish)
                .ok()?;
            match status {
                Status::StreamEnd => return Some(out),
                Status::Ok | Status::BufError => out.reserve(out.capacity().max(64)),
            }
        }
    })?;
    if let [0x78, flg, ..] = out.as_mut_slice() {
        *flg = 0x9c;
    }
    Some(out)
}

/// Whether no zlib stream of `data` can be two bytes shorter than `data`, so that
/// [`Signer::dumps`] would discard the compressed form anyway — proven without
/// compressing, for short inputs.
///
/// Compressing costs microseconds even for a dozen bytes (the compressor's match tables
/// are cleared on every use), which a visit counter's cookie pays on every response while
/// compression can never win on it. The proof: with no 3-byte sequence occurring twice,
/// deflate cannot emit a back-reference (its shortest is 3 bytes), so every byte is a
/// literal. A stored block then takes `n + 5` bytes, a fixed-code block at least `n + 2`,
/// and a dynamic-code block at least its 29 header bits plus the Shannon bound of the
/// literals plus one bit for the end of the block. The zlib header and checksum add six.
/// If even the smallest of these is not under `n - 1`, Python's `dumps` would keep the
/// plain form, and so does this one — the output is the same bytes either way.
pub(super) fn compression_cannot_pay(data: &[u8]) -> bool {
    /// Longer inputs are simply compressed: the bound rarely holds for them.
    const MAX: usize = 64;
    let n = data.len();
    if n > MAX {
        return false;
    }
    let mut seen = [0u64; 64]; // a 4096-bit filter of the 3-byte sequences
    for w in data.windows(3) {
        let h = (u32::from(w[0]) << 16 | u32::from(w[1]) << 8 | u32::from(w[2]))
            .wrapping_mul(0x9E37_79B1)
            >> 20;
        let (word, bit) = ((h >> 6) as usize, 1u64 << (h & 63));
        if seen[word] & bit != 0 {
            return false; // maybe a repeat (or a filter collision): compress to find out
        }
        seen[word] |= bit;
    }
    let mut counts = [0u8; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    // Shannon: any prefix code spends at least n*log2(n) - sum(f*log2(f)) bits on the
    // literals. One bit is taken off for floating-point rounding.
    #[allow(clippy::cast_precision_loss)]
    let entropy_bits = {
        let nf = n as f64;
        let sum: f64 = counts
            .iter()
            .filter(|&&f| f > 1)
            .map(|&f| f64::from(f) * f64::from(f).log2())
            .sum();
        (nf.mul_add(nf.max(1.0).log2(), -sum) - 1.0).max(0.0)
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let dynamic = (29 + entropy_bits.ceil() as usize + 1).div_ceil(8);
    let smallest = 6 + dynamic.min(n + 2);
    smallest + 1 >= n
}

/// `zlib.decompress(data)`, refusing to produce more than `limit` bytes: output is grown
/// step by step and never allocated beyond `limit + 1` bytes, so a zip bomb costs at most
/// that much memory. Data after the end of the zlib stream is ignored, as Python does; a
/// truncated or corrupt stream is [`SigningError::Malformed`].
pub fn zlib_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, SigningError> {
    let hard = limit.saturating_add(1);
    let mut z = Decompress::new(true);
    // `clamp` would panic for a limit under 64: take the maximum first, then the bound.
    let mut out: Vec<u8> = Vec::with_capacity(data.len().saturating_mul(4).max(64).min(hard));
    loop {
        if out.len() >= out.capacity() {
            if out.len() >= hard {
                return Err(SigningError::TooLarge);
            }
            let grow = out.capacity().max(64).min(hard - out.len());
            out.reserve_exact(grow);
        }
        let consumed = usize::try_from(z.total_in()).map_err(|_| SigningError::Malformed)?;
        let rest = data.get(consumed..).ok_or(SigningError::Malformed)?;
        let (in_before, out_before) = (z.total_in(), out.len());
        let status = z
            .decompress_vec(rest, &mut out, FlushDecompress::None)
            .map_err(|_| SigningError::Malformed)?;
        if out.len() > limit {
            return Err(SigningError::TooLarge);
        }
        if status == Status::StreamEnd {
            return Ok(out);
        }
        let progressed = z.total_in() != in_before || out.len() != out_before;
        if !progressed && out.len() < out.capacity() {
            // Room to write, nothing left to read: the stream is truncated.
            return Err(SigningError::Malformed);
        }
    }
}

/// Decodes bytes as latin-1 (every byte is the code point of the same value), as
/// Django's JSON serializer does. ASCII comes through unchanged; raw UTF-8 becomes
/// mojibake (`café` → `cafÃ©`), exactly as in Django.
pub fn latin1_decode(bytes: &[u8]) -> String {
    if bytes.is_ascii() {
        // ASCII is valid UTF-8; the fallback never runs.
        return String::from_utf8(bytes.to_vec()).unwrap_or_default();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}
