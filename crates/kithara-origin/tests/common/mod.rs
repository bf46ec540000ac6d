//! A tiny blocking HTTP/1.1 client and playlist reader for the origin tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use aes::Aes128;
use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use url::Url;

/// A fully read response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }
}

/// `GET url` with extra headers, `Connection: close`.
pub fn get_with(url: &Url, headers: &[(&str, &str)]) -> std::io::Result<Response> {
    let host = url.host_str().expect("host");
    let port = url.port_or_known_default().expect("port");
    let mut stream = TcpStream::connect((host, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut target = url.path().to_owned();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let mut request =
        format!("GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;

    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    assert!(
        response.header("transfer-encoding").is_none(),
        "chunked bodies are not expected"
    );
    if let Some(len) = response.header("content-length") {
        let len: usize = len.parse().expect("content-length");
        assert_eq!(body.len(), len, "body length matches content-length");
        body.truncate(len);
    }
    Ok(Response { body, ..response })
}

/// `GET url`, panicking on I/O errors.
pub fn get(url: &Url) -> Response {
    get_with(url, &[]).expect("GET")
}

/// `GET url`, expecting 200, returning the body.
pub fn get_ok(url: &Url) -> Vec<u8> {
    let response = get(url);
    assert_eq!(response.status, 200, "GET {url}");
    response.body
}

/// AES-128-CBC + PKCS#7 decryption, written against the `cbc` crate directly.
pub fn decrypt(ciphertext: &[u8], key: &[u8; 16], iv: &[u8; 16]) -> Vec<u8> {
    cbc::Decryptor::<Aes128>::new(key.into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .expect("valid padding")
}

/// One media segment entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub url: Url,
    /// (length, explicit offset) of `#EXT-X-BYTERANGE`.
    pub byte_range: Option<(u64, Option<u64>)>,
    pub duration: String,
}

/// The parts of a media playlist the tests look at.
#[derive(Debug, Default)]
pub struct Media {
    pub tags: Vec<String>,
    pub key: Option<KeyTag>,
    pub map: Option<Url>,
    pub entries: Vec<Entry>,
    pub media_sequence: u64,
}

#[derive(Debug, Clone)]
pub struct KeyTag {
    pub method: String,
    pub url: Url,
    pub iv: Option<[u8; 16]>,
}

/// Reads `name=value` / `name="value"` attributes (no commas inside quotes
/// other than in quoted values).
pub fn attributes(list: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').expect("attribute name");
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').expect("closing quote");
            (&quoted[..end], quoted[end + 1..].trim_start_matches(','))
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v, n),
                None => (after, ""),
            }
        };
        out.push((name.to_owned(), value.to_owned()));
        rest = next;
    }
    out
}

pub fn parse_media(text: &str, playlist_url: &Url) -> Media {
    let mut media = Media::default();
    let mut pending_range = None;
    let mut pending_duration = None;
    assert!(text.starts_with("#EXTM3U\n"));
    for line in text.lines() {
        if let Some(tag) = line.strip_prefix('#') {
            media.tags.push(tag.to_owned());
            if let Some(attrs) = tag.strip_prefix("EXT-X-KEY:") {
                let attrs = attributes(attrs);
                let get = |n: &str| attrs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
                let iv = get("IV").map(|hex| {
                    let hex = hex.strip_prefix("0x").expect("0x prefix");
                    let mut iv = [0u8; 16];
                    for (i, byte) in iv.iter_mut().enumerate() {
                        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
                    }
                    iv
                });
                media.key = Some(KeyTag {
                    method: get("METHOD").expect("METHOD"),
                    url: playlist_url
                        .join(&get("URI").expect("URI"))
                        .expect("key url"),
                    iv,
                });
            } else if let Some(attrs) = tag.strip_prefix("EXT-X-MAP:") {
                let attrs = attributes(attrs);
                let uri = &attrs.iter().find(|(k, _)| k == "URI").expect("URI").1;
                media.map = Some(playlist_url.join(uri).expect("map url"));
            } else if let Some(range) = tag.strip_prefix("EXT-X-BYTERANGE:") {
                pending_range = Some(match range.split_once('@') {
                    Some((len, off)) => (len.parse().unwrap(), Some(off.parse().unwrap())),
                    None => (range.parse().unwrap(), None),
                });
            } else if let Some(d) = tag.strip_prefix("EXTINF:") {
                pending_duration = Some(d.to_owned());
            } else if let Some(seq) = tag.strip_prefix("EXT-X-MEDIA-SEQUENCE:") {
                media.media_sequence = seq.parse().unwrap();
            }
        } else if !line.is_empty() {
            media.entries.push(Entry {
                url: playlist_url.join(line).expect("segment url"),
                byte_range: pending_range.take(),
                duration: pending_duration.take().expect("EXTINF before URI"),
            });
        }
    }
    media
}

/// (bandwidth, resolved URL) per variant of a master playlist.
pub fn parse_master(text: &str, master_url: &Url) -> Vec<(u64, Url)> {
    let mut out = Vec::new();
    let mut bandwidth = None;
    for line in text.lines() {
        if let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            let attrs = attributes(attrs);
            let bw = &attrs
                .iter()
                .find(|(k, _)| k == "BANDWIDTH")
                .expect("BANDWIDTH")
                .1;
            bandwidth = Some(bw.parse().expect("bandwidth"));
        } else if !line.starts_with('#') && !line.is_empty() {
            let bw = bandwidth.take().expect("STREAM-INF before URI");
            out.push((bw, master_url.join(line).expect("variant url")));
        }
    }
    out
}

/// A response whose head has been read and whose body is read on demand,
/// without checking it against `Content-Length` (for held and cut bodies).
#[derive(Debug)]
pub struct Streaming {
    stream: TcpStream,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Body bytes read along with the head, not yet handed out.
    buffered: Vec<u8>,
}

/// Sends `GET {target}` (the raw request target, not normalized: it may
/// hold `..`) to `addr`, `Connection: close`, and reads the response head.
pub fn open_target(
    addr: std::net::SocketAddr,
    target: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Streaming> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    let split = loop {
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break split;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Streaming {
        stream,
        status,
        headers,
        buffered: raw[split + 4..].to_vec(),
    })
}

/// [`open_target`] for a URL (path and query).
pub fn open(url: &Url, headers: &[(&str, &str)]) -> std::io::Result<Streaming> {
    let addr = url.socket_addrs(|| None).expect("address")[0];
    let mut target = url.path().to_owned();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    open_target(addr, &target, headers)
}

impl Streaming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length")
            .map(|v| v.parse().expect("length"))
    }

    /// The next `n` body bytes, waiting for them.
    pub fn read_body(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        while self.buffered.len() < n {
            let mut chunk = [0u8; 4096];
            let got = self.stream.read(&mut chunk)?;
            if got == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buffered.extend_from_slice(&chunk[..got]);
        }
        let rest = self.buffered.split_off(n);
        Ok(std::mem::replace(&mut self.buffered, rest))
    }

    /// Whether a body byte (or the end of the connection) can be read right
    /// now, without waiting.
    pub fn readable_now(&mut self) -> bool {
        if !self.buffered.is_empty() {
            return true;
        }
        self.stream.set_nonblocking(true).expect("nonblocking");
        let peek = self.stream.peek(&mut [0u8; 1]);
        self.stream.set_nonblocking(false).expect("blocking");
        !matches!(peek, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// The rest of the body until the connection ends, and the error that
    /// ended it, if any (an aborted connection).
    pub fn read_rest(mut self) -> (Vec<u8>, Option<std::io::Error>) {
        let mut body = std::mem::take(&mut self.buffered);
        let error = self.stream.read_to_end(&mut body).err();
        (body, error)
    }

    /// The whole body of a response none of whose body was read yet; it
    /// must match `Content-Length`.
    pub fn body(self) -> Vec<u8> {
        let expected = self.content_length();
        let (body, error) = self.read_rest();
        assert!(error.is_none(), "{error:?}");
        if let Some(len) = expected {
            assert_eq!(body.len(), len, "body length matches content-length");
        }
        body
    }
}
