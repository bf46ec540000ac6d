//! An item's plaintext length without downloading the item, so that a seek
//! by time or from the end does not fetch everything before the target.
//!
//! * A clear byte range (`EXT-X-BYTERANGE`) is its length: known from the
//!   playlist before any probe.
//! * A cached item: the length of the cached file (nothing is read).
//! * Otherwise a `HEAD` request: its `Content-Length`.
//! * An encrypted item (AES-128-CBC, PKCS#7): the plaintext is the
//!   ciphertext minus 1 to 16 bytes of padding, which only the last block
//!   tells. Its last 32 bytes are read (from the cache, or with a `Range`
//!   request): the block before the last is the last block's IV (for a
//!   one-block item, the item's IV), so the last block decrypts alone.
//! * When none of this works (no `Content-Length`, a padding that does not
//!   check out, e.g. a corrupt cached key), the item is loaded whole, as a
//!   read would (it is cached, so the read that follows hits the cache).
//!
//! A probed length is a hint the session keeps in memory only; nothing of
//! it reaches the cache, and the read that loads the item checks it (see
//! [`HlsSession`](crate::HlsSession) on a length that differs).

use bytes::Bytes;

use crate::crypto::decrypt_aes128_cbc;
use crate::error::HlsError;
use crate::open::Ctx;
use crate::playlist::KeyRef;
use crate::refresh::with_fresh_urls;
use crate::resource::{Extras, Resource};
use crate::session::fetch_item;

/// The bytes read from the end of an encrypted item: the last block and the
/// one before it (its IV).
const TAIL: u64 = 32;

/// The plaintext length of item `idx`.
pub(crate) async fn item_len(ctx: &Ctx, idx: usize) -> Result<u64, HlsError> {
    let probed = with_fresh_urls(ctx, || async move {
        let (res, key) = ctx.track.item(idx)?;
        match key {
            None => clear_len(ctx, &res).await,
            Some(key) => encrypted_len(ctx, &res, &key).await,
        }
    })
    .await?;
    match probed {
        Some(len) => Ok(len),
        None => Ok(fetch_item(ctx, idx).await?.bytes.len() as u64),
    }
}

/// A clear item's length: cached, from its byte range, else `HEAD`.
async fn clear_len(ctx: &Ctx, res: &Resource) -> Result<Option<u64>, HlsError> {
    if let Some((len, _)) = ctx.loader.cached_tail(res, 0).await? {
        return Ok(Some(len));
    }
    stored_len(ctx, res).await
}

/// The length of the resource as served (a byte range's, else `HEAD`'s).
async fn stored_len(ctx: &Ctx, res: &Resource) -> Result<Option<u64>, HlsError> {
    match &res.range {
        Some(r) => Ok(Some(r.end - r.start)),
        None => ctx.loader.remote_len(res).await,
    }
}

/// An encrypted item's plaintext length, from its length and its last two
/// blocks (cached, else a `Range` request).
async fn encrypted_len(ctx: &Ctx, res: &Resource, key: &KeyRef) -> Result<Option<u64>, HlsError> {
    let (len, tail) = match ctx.loader.cached_tail(res, TAIL).await? {
        Some(cached) => cached,
        None => {
            let Some(len) = stored_len(ctx, res).await? else {
                return Ok(None);
            };
            if len < 16 || !len.is_multiple_of(16) {
                // Not a ciphertext: the read reports it.
                return Ok(None);
            }
            let start = res.range.as_ref().map_or(0, |r| r.start);
            let tail = Resource {
                range: Some(start + len - TAIL.min(len)..start + len),
                ..res.clone()
            };
            let got = ctx.loader.download(&tail, Extras::default()).await?;
            (len, got.bytes)
        }
    };
    let usable = ctx.keys.get(&ctx.loader, key).await?;
    Ok(padding_len(&usable.key, key.iv, &tail).map(|pad| len - pad))
}

/// The padding length the last block of `tail` (the last 16 or 32 bytes of
/// a ciphertext) carries; `None` when it does not decrypt.
fn padding_len(key: &[u8; 16], item_iv: [u8; 16], tail: &Bytes) -> Option<u64> {
    let (iv, last) = match tail.len() {
        16 => (item_iv, &tail[..]),
        32 => (tail[..16].try_into().ok()?, &tail[16..]),
        _ => return None,
    };
    let plain = decrypt_aes128_cbc(key, &iv, last.to_vec()).ok()?;
    Some(16 - plain.len() as u64)
}

#[cfg(test)]
mod tests {
    use aes::Aes128;
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockEncryptMut, KeyIvInit};

    use super::*;

    #[test]
    fn the_last_two_blocks_tell_the_padding() {
        let (key, iv) = ([7u8; 16], [9u8; 16]);
        for plain_len in [0usize, 1, 15, 16, 17, 31, 32, 100] {
            let cipher = cbc::Encryptor::<Aes128>::new((&key).into(), (&iv).into())
                .encrypt_padded_vec_mut::<Pkcs7>(&vec![5u8; plain_len]);
            let n = cipher.len();
            let tail = Bytes::copy_from_slice(&cipher[n.saturating_sub(32)..]);
            let pad = padding_len(&key, iv, &tail).expect("decrypts");
            assert_eq!(n as u64 - pad, plain_len as u64, "plaintext of {plain_len}");
        }
        // A wrong key: no length (the item is then loaded whole).
        let cipher = cbc::Encryptor::<Aes128>::new((&key).into(), (&iv).into())
            .encrypt_padded_vec_mut::<Pkcs7>(&[1u8; 40]);
        let tail = Bytes::copy_from_slice(&cipher[cipher.len() - 32..]);
        assert_eq!(padding_len(&[8u8; 16], iv, &tail), None);
    }
}
