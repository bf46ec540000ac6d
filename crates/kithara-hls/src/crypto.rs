//! AES-128-CBC with PKCS#7 padding, the `METHOD=AES-128` of RFC 8216.

use aes::Aes128;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};

type Decryptor = cbc::Decryptor<Aes128>;

/// Why a ciphertext could not be decrypted (never mentions key bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecryptError {
    /// The length is not a positive multiple of 16.
    Length,
    /// The PKCS#7 padding is invalid: wrong key or IV, or a corrupt segment.
    Padding,
}

impl DecryptError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            DecryptError::Length => "ciphertext length is not a positive multiple of 16",
            DecryptError::Padding => "invalid padding (wrong key or IV, or corrupt data)",
        }
    }
}

/// Decrypt `data` in place and return it truncated to the plaintext.
pub(crate) fn decrypt_aes128_cbc(
    key: &[u8; 16],
    iv: &[u8; 16],
    mut data: Vec<u8>,
) -> Result<Vec<u8>, DecryptError> {
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(DecryptError::Length);
    }
    let plain_len = Decryptor::new(key.into(), iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut data)
        .map_err(|_| DecryptError::Padding)?
        .len();
    data.truncate(plain_len);
    Ok(data)
}

/// The IV of RFC 8216 section 5.2 when none is given: the media sequence
/// number as a 128-bit big-endian integer.
pub(crate) fn sequence_iv(sequence: u64) -> [u8; 16] {
    (sequence as u128).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cbc::cipher::BlockEncryptMut;

    fn encrypt(key: &[u8; 16], iv: &[u8; 16], plain: &[u8]) -> Vec<u8> {
        cbc::Encryptor::<Aes128>::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
    }

    #[test]
    fn round_trips_every_padding_length() {
        let key = [7u8; 16];
        let iv = sequence_iv(42);
        for len in 0..70 {
            let plain: Vec<u8> = (0..len as u8).collect();
            let ct = encrypt(&key, &iv, &plain);
            assert_eq!(ct.len() % 16, 0);
            assert_eq!(decrypt_aes128_cbc(&key, &iv, ct).unwrap(), plain);
        }
    }

    #[test]
    fn wrong_key_or_bad_length_is_an_error() {
        let key = [1u8; 16];
        let iv = [2u8; 16];
        let ct = encrypt(&key, &iv, b"V0-SEG-0: some payload bytes");
        // A wrong key almost always gives bad padding; accept a garbage
        // plaintext too, but never the original.
        match decrypt_aes128_cbc(&[9u8; 16], &iv, ct.clone()) {
            Err(e) => assert_eq!(e, DecryptError::Padding),
            Ok(p) => assert_ne!(p, b"V0-SEG-0: some payload bytes"),
        }
        assert_eq!(
            decrypt_aes128_cbc(&key, &iv, ct[..ct.len() - 1].to_vec()),
            Err(DecryptError::Length)
        );
        assert_eq!(
            decrypt_aes128_cbc(&key, &iv, Vec::new()),
            Err(DecryptError::Length)
        );
    }

    #[test]
    fn sequence_iv_is_big_endian() {
        let iv = sequence_iv(0x0102);
        assert_eq!(&iv[..14], &[0u8; 14]);
        assert_eq!(&iv[14..], &[1, 2]);
    }
}
