//! Opening a session: the asset, its stores, the playlists and the variant.

use std::sync::Arc;

use bytes::Bytes;
use kithara_cache::{AssetId, CachePath};
use url::Url;

use crate::error::HlsError;
use crate::fetch::HttpClient;
use crate::key::KeyManager;
use crate::layout;
use crate::live::LiveStart;
use crate::loader::Loader;
use crate::mode::Stores;
use crate::options::{HlsOptions, Rendition, VariantSelect};
use crate::playlist::{
    MasterPlaylist, MediaPlaylist, Playlist, RenditionInfo, VariantInfo, Vars, parse_media,
    parse_playlist, parse_session_url,
};
use crate::refresh::Refresh;
use crate::resource::{Extras, Resource, ResourceKind};
use crate::source::StatsCounters;
use crate::track::{Track, is_recording};

/// Everything a session shares with its tasks.
pub(crate) struct Ctx {
    pub loader: Loader,
    pub keys: KeyManager,
    pub track: Track,
    /// Fetches the media playlist again when a URL of it expired.
    pub refresh: Refresh,
    pub lookahead_segments: usize,
}

/// The result of opening.
pub(crate) struct Opened {
    pub ctx: Arc<Ctx>,
    pub url: Url,
    pub asset_id: AssetId,
    pub variants: Vec<VariantInfo>,
    /// Cache path of the top playlist (`master.m3u8` or `media.m3u8`).
    pub top_path: CachePath,
    /// URL and cache path of the variant's media playlist when there is a master.
    pub media_playlist: Option<(Url, CachePath)>,
    /// A live playlist to follow.
    pub live: Option<LiveStart>,
    /// The master's renditions (`EXT-X-MEDIA` with a `URI`).
    pub renditions: Vec<RenditionInfo>,
    /// A live stream's downloaded top playlist, not cached: a recording
    /// stores it with the recorded media playlist.
    pub live_top: Option<Unstored>,
}

/// Where a playlist's final URL is recorded when it was redirected.
fn side_path(path: &CachePath) -> Result<CachePath, HlsError> {
    layout::final_url(path)
}

/// The base URL of a cached playlist: the recorded final URL, else `url`.
async fn cached_base(loader: &Loader, path: &CachePath, url: &Url) -> Result<Url, HlsError> {
    let side = side_path(path)?;
    Ok(
        match loader.read_side(ResourceKind::Playlist, &side).await? {
            Some(b) => std::str::from_utf8(&b)
                .ok()
                .and_then(|s| Url::parse(s.trim()).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .unwrap_or_else(|| url.clone()),
            None => url.clone(),
        },
    )
}

/// A downloaded playlist not stored yet: stored once the media playlist is
/// known to be a VOD, so that a live stream leaves nothing in the cache.
pub(crate) struct Unstored {
    pub url: Url,
    pub path: CachePath,
    pub final_url: Url,
    pub bytes: Bytes,
    /// The top playlist's URL, recorded as the asset's source.
    pub source: Option<Url>,
}

impl Unstored {
    /// Store the playlist and its final URL if redirected, in one job: the
    /// side file lands first, so a cached playlist never resolves against
    /// the wrong base; the source is recorded once both are written.
    pub(crate) async fn store(self, loader: &Loader) -> Result<(), HlsError> {
        let mut files = Vec::with_capacity(2);
        if self.final_url != self.url {
            files.push((
                side_path(&self.path)?,
                Bytes::from(self.final_url.to_string()),
            ));
        }
        files.push((self.path, self.bytes));
        loader
            .store_all(ResourceKind::Playlist, &self.url, files, self.source)
            .await
    }
}

fn playlist_res(url: &Url, path: CachePath) -> Resource {
    Resource {
        kind: ResourceKind::Playlist,
        url: url.clone(),
        range: None,
        path,
    }
}

/// Whether a cached playlist may be used: a live media playlist is never
/// final (it must be fetched again to be read), so a cached copy of one
/// (the proxy caches them) counts as a miss; so does a recording of one
/// (`HlsSession::record_live`) online, where the live playlist is followed
/// again; offline the recording plays.
fn usable(loader: &Loader, bytes: &[u8], playlist: &Playlist) -> bool {
    match playlist {
        Playlist::Master(_) => true,
        Playlist::Media(m) => m.ended && (loader.is_offline() || !is_recording(bytes)),
    }
}

/// The top playlist: cached as `master.m3u8` or `media.m3u8`, else downloaded.
async fn load_top(
    loader: &Loader,
    url: &Url,
    max_entries: usize,
) -> Result<(Playlist, CachePath, Option<Unstored>), HlsError> {
    for path in [layout::top(true), layout::top(false)] {
        let res = playlist_res(url, path.clone());
        if let Some(bytes) = loader.cached(&res).await? {
            let base = cached_base(loader, &path, url).await?;
            let playlist = parse_playlist(&base, &bytes, max_entries, &[])?;
            if !usable(loader, &bytes, &playlist) {
                continue;
            }
            loader.record_source(&path, url).await?;
            return Ok((playlist, path, None));
        }
    }
    let res = playlist_res(url, layout::top(true));
    let resp = loader.download(&res, Extras::default()).await?;
    let playlist = parse_playlist(&resp.final_url, &resp.bytes, max_entries, &[])?;
    let path = layout::top(matches!(playlist, Playlist::Master(_)));
    let unstored = Unstored {
        url: url.clone(),
        path: path.clone(),
        final_url: resp.final_url,
        bytes: resp.bytes,
        source: Some(url.clone()),
    };
    Ok((playlist, path, Some(unstored)))
}

/// A variant's media playlist, cached or downloaded.
async fn load_media_playlist(
    loader: &Loader,
    url: &Url,
    path: &CachePath,
    max_entries: usize,
    imports: &Vars,
) -> Result<(MediaPlaylist, Option<Unstored>), HlsError> {
    let res = playlist_res(url, path.clone());
    if let Some(bytes) = loader.cached(&res).await? {
        let base = cached_base(loader, path, url).await?;
        let media = parse_media(&base, &bytes, max_entries, imports)?;
        if media.ended && (loader.is_offline() || !is_recording(&bytes)) {
            return Ok((media, None));
        }
    }
    let resp = loader.download(&res, Extras::default()).await?;
    let media = parse_media(&resp.final_url, &resp.bytes, max_entries, imports)?;
    let unstored = Unstored {
        url: url.clone(),
        path: path.clone(),
        final_url: resp.final_url,
        bytes: resp.bytes,
        source: None,
    };
    Ok((media, Some(unstored)))
}

/// Whether variant `v` lists a codec that starts with one of `excluded`.
pub(crate) fn excluded(v: &VariantInfo, excluded: &[String]) -> bool {
    v.codecs.as_deref().is_some_and(|codecs| {
        codecs
            .split(',')
            .map(str::trim)
            .any(|c| excluded.iter().any(|x| c.starts_with(x.as_str())))
    })
}

/// The index of the variant `select` picks; `Highest` and `Lowest` skip
/// variants with an excluded codec.
pub(crate) fn select_variant(
    variants: &[VariantInfo],
    select: VariantSelect,
    exclude: &[String],
    url: &Url,
) -> Result<usize, HlsError> {
    let none = || HlsError::NoSuchVariant {
        url: url.to_string(),
        requested: select.to_string(),
        available: variants.len(),
    };
    let pick = |better: fn(u64, u64) -> bool| {
        let mut best: Option<&VariantInfo> = None;
        for v in variants.iter().filter(|v| !excluded(v, exclude)) {
            if best.is_none_or(|b| better(v.bandwidth, b.bandwidth)) {
                best = Some(v);
            }
        }
        best.map(|v| v.index)
    };
    match select {
        VariantSelect::Index(n) if n < variants.len() => Ok(n),
        VariantSelect::Index(_) => Err(none()),
        VariantSelect::Highest => pick(|a, b| a > b).ok_or_else(none),
        VariantSelect::Lowest => pick(|a, b| a < b).ok_or_else(none),
    }
}

/// The index (among the master's renditions) of the one `want` names:
/// by `NAME`, one of `variant`'s groups first.
fn select_rendition(
    master: &MasterPlaylist,
    variant: &VariantInfo,
    want: &Rendition,
    url: &Url,
) -> Result<usize, HlsError> {
    let found = match want {
        Rendition::Index(k) => master.renditions.get(*k).map(|r| r.index),
        Rendition::Name(name) => {
            let named = || master.renditions.iter().filter(|r| r.name == *name);
            let ours = |r: &&RenditionInfo| {
                Some(&r.group) == variant.audio.as_ref()
                    || Some(&r.group) == variant.subtitles.as_ref()
            };
            named()
                .find(ours)
                .or_else(|| named().next())
                .map(|r| r.index)
        }
    };
    found.ok_or_else(|| HlsError::NoSuchRendition {
        url: url.to_string(),
        name: match want {
            Rendition::Name(n) => n.clone(),
            Rendition::Index(k) => format!("#{k}"),
        },
    })
}

/// What the playlists of an open give: the variants, the top playlist's
/// cache path, the chosen variant's media playlist, its track, and for a
/// live playlist where to follow it.
struct Playlists {
    variants: Vec<VariantInfo>,
    top_path: CachePath,
    media_playlist: Option<(Url, CachePath)>,
    track: Track,
    live: Option<LiveStart>,
    renditions: Vec<RenditionInfo>,
    /// A live stream's downloaded master playlist (not cached).
    live_top: Option<Unstored>,
    /// The master's variables, which the media playlist may import.
    imports: Vars,
}

/// Load the top playlist and the chosen variant's media playlist.
async fn playlists(loader: &Loader, url: &Url, opts: &HlsOptions) -> Result<Playlists, HlsError> {
    let began = tokio::time::Instant::now();
    let (top, top_path, top_unstored) = load_top(loader, url, opts.max_segments).await?;
    let mut imports = Vars::new();
    let mut renditions = Vec::new();
    let mut dir = layout::variant_dir(0);
    let (variants, variant, (media, media_unstored), media_playlist) = match top {
        Playlist::Master(mut master) => {
            imports = std::mem::take(&mut master.defines);
            let idx = select_variant(&master.variants, opts.variant, &opts.exclude_codecs, url)?;
            let (murl, mdir) = match &opts.rendition {
                None => (master.variants[idx].url.clone(), layout::variant_dir(idx)),
                Some(want) => {
                    let k = select_rendition(&master, &master.variants[idx], want, url)?;
                    (master.renditions[k].url.clone(), layout::rendition_dir(k))
                }
            };
            let path = layout::playlist(&mdir)?;
            dir = mdir;
            let media =
                load_media_playlist(loader, &murl, &path, opts.max_segments, &imports).await?;
            renditions = master.renditions;
            (master.variants, idx, media, Some((murl, path)))
        }
        Playlist::Media(_) if let Some(Rendition::Name(name)) = &opts.rendition => {
            return Err(HlsError::NoSuchRendition {
                url: url.to_string(),
                name: name.clone(),
            });
        }
        Playlist::Media(media) => (Vec::new(), 0, (media, None), None),
    };
    if !media.ended {
        let (live_url, live_path) = media_playlist
            .clone()
            .unwrap_or_else(|| (url.clone(), top_path.clone()));
        // A live playlist is always downloaded (a cached copy is never
        // used), so this is its text; nothing of it is cached.
        let text = match (&media_unstored, &top_unstored) {
            (Some(u), _) | (None, Some(u)) => u.bytes.clone(),
            (None, None) => return Err(HlsError::Internal("live playlist not downloaded")),
        };
        if !opts.follow_live {
            return Err(HlsError::Live {
                url: live_url.to_string(),
            });
        }
        let live = LiveStart {
            url: live_url,
            path: live_path,
            text,
            target: std::time::Duration::from_secs(media.target_duration.max(1)),
            began,
            max_segments: opts.max_segments,
            imports: imports.clone(),
        };
        return Ok(Playlists {
            variants,
            top_path,
            media_playlist,
            track: Track::live(variant, dir, &media)?,
            live: Some(live),
            renditions,
            // A top media playlist is the recording itself.
            live_top: top_unstored.filter(|_| media_unstored.is_some()),
            imports,
        });
    }
    for unstored in [top_unstored, media_unstored].into_iter().flatten() {
        unstored.store(loader).await?;
    }
    Ok(Playlists {
        variants,
        top_path,
        media_playlist,
        track: Track::new(variant, dir, media)?,
        live: None,
        renditions,
        live_top: None,
        imports,
    })
}

/// The session URL, its asset and a loader for it, as `opts` say.
async fn loader(url: &str, opts: &HlsOptions) -> Result<(Url, AssetId, Loader), HlsError> {
    let url = parse_session_url(url)?;
    let asset_id = if opts.id_with_query {
        AssetId::from_url_with_query(&url)?
    } else {
        AssetId::from_url(&url)?
    };
    let stats = Arc::new(StatsCounters::default());
    // Opening an on-disk cache scans and locks its directory: blocking I/O.
    let stores = {
        let mode = opts.cache.clone();
        tokio::task::spawn_blocking(move || Stores::new(&mode, asset_id))
            .await
            .map_err(|e| HlsError::Task(e.to_string()))??
    };
    let http = if opts.offline {
        None
    } else {
        Some(HttpClient::new(opts.client_settings()?)?)
    };
    let loader = Loader::new(
        stores,
        http,
        stats,
        opts.max_playlist_bytes,
        opts.max_resource_bytes,
        opts.max_segments,
        opts.segment_durability,
    );
    Ok((url, asset_id, loader))
}

/// What the top playlist at a URL offers, for listings (`kithara info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaylistInfo {
    /// The URL asked about.
    pub url: Url,
    /// Whether it is a master playlist (else a media playlist).
    pub master: bool,
    /// The variants of a master playlist, in order.
    pub variants: Vec<VariantInfo>,
    /// Its renditions (`EXT-X-MEDIA` with a `URI`), in order.
    pub renditions: Vec<RenditionInfo>,
}

/// The variants and renditions of the playlist at `url`: from the cache
/// (a cached copy, as a session would use it), else the network, unless
/// `options.offline`. Reads only the top playlist and caches nothing.
/// Variants with a codec of [`HlsOptions::exclude_codecs`] are left out
/// (the others keep their index in the master).
pub async fn playlist_info(url: &str, options: HlsOptions) -> Result<PlaylistInfo, HlsError> {
    let (url, _, loader) = loader(url, &options).await?;
    let loaded = load_top(&loader, &url, options.max_segments).await;
    loader.quiesce().await;
    let (top, _, _) = loaded?;
    Ok(match top {
        Playlist::Master(m) => PlaylistInfo {
            url,
            master: true,
            variants: m
                .variants
                .into_iter()
                .filter(|v| !excluded(v, &options.exclude_codecs))
                .collect(),
            renditions: m.renditions,
        },
        Playlist::Media(_) => PlaylistInfo {
            url,
            master: false,
            variants: Vec::new(),
            renditions: Vec::new(),
        },
    })
}

/// Open the asset of `url` with `opts`.
pub(crate) async fn open(url: &str, opts: &HlsOptions) -> Result<Opened, HlsError> {
    let (url, asset_id, loader) = loader(url, opts).await?;
    let keys = KeyManager::new(
        opts.key_processor.clone(),
        opts.key_query.clone(),
        &opts.key_headers,
    )?;
    // A failed open leaves nothing running: the writes it queued land first.
    let Playlists {
        variants,
        top_path,
        media_playlist,
        track,
        live,
        renditions,
        live_top,
        imports,
    } = match playlists(&loader, &url, opts).await {
        Ok(loaded) => loaded,
        Err(e) => {
            loader.quiesce().await;
            return Err(e);
        }
    };
    tracing::info!(
        %url,
        asset = %asset_id,
        variant = track.variant,
        segments = track.segment_count(),
        live = live.is_some(),
        offline = opts.offline,
        "HLS session opened"
    );
    let (media_url, media_path) = media_playlist
        .clone()
        .unwrap_or_else(|| (url.clone(), top_path.clone()));
    Ok(Opened {
        ctx: Arc::new(Ctx {
            loader,
            keys,
            track,
            refresh: Refresh::new(
                playlist_res(&media_url, media_path),
                opts.max_segments,
                imports,
            ),
            lookahead_segments: opts.lookahead_segments,
        }),
        url,
        asset_id,
        variants,
        top_path,
        media_playlist,
        live,
        renditions,
        live_top,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(index: usize, bandwidth: u64) -> VariantInfo {
        VariantInfo {
            index,
            url: Url::parse(&format!("http://h/v{index}.m3u8")).unwrap(),
            bandwidth,
            codecs: None,
            audio: None,
            subtitles: None,
            resolution: None,
        }
    }

    #[test]
    fn variant_selection() {
        let u = Url::parse("http://h/master.m3u8").unwrap();
        let vs = [v(0, 200), v(1, 800), v(2, 100), v(3, 800), v(4, 100)];
        assert_eq!(
            select_variant(&vs, VariantSelect::Index(3), &[], &u).unwrap(),
            3
        );
        assert_eq!(
            select_variant(&vs, VariantSelect::Highest, &[], &u).unwrap(),
            1
        );
        assert_eq!(
            select_variant(&vs, VariantSelect::Lowest, &[], &u).unwrap(),
            2
        );
        assert!(matches!(
            select_variant(&vs, VariantSelect::Index(5), &[], &u),
            Err(HlsError::NoSuchVariant { available: 5, .. })
        ));
        assert!(select_variant(&[], VariantSelect::Highest, &[], &u).is_err());
    }

    #[test]
    fn variant_selection_skips_excluded_codecs() {
        let u = Url::parse("http://h/master.m3u8").unwrap();
        let with = |index, bandwidth, codecs: &str| VariantInfo {
            codecs: Some(codecs.to_owned()),
            ..v(index, bandwidth)
        };
        let vs = [
            with(0, 100, "mp4a.40.2"),
            with(1, 900, "hvc1.1.6.L93.B0, mp4a.40.2"),
            with(2, 500, "avc1.64001f,mp4a.40.2"),
            v(3, 50),
        ];
        let no = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            select_variant(&vs, VariantSelect::Highest, &no(&["hvc1"]), &u).unwrap(),
            2
        );
        assert_eq!(
            select_variant(&vs, VariantSelect::Highest, &no(&["hvc1", "avc1"]), &u).unwrap(),
            0
        );
        // No CODECS: nothing to exclude.
        assert_eq!(
            select_variant(&vs, VariantSelect::Lowest, &no(&["mp4a"]), &u).unwrap(),
            3
        );
        // Index is taken as asked.
        assert_eq!(
            select_variant(&vs, VariantSelect::Index(1), &no(&["hvc1"]), &u).unwrap(),
            1
        );
        let all = no(&["mp4a", "hvc1", "avc1"]);
        assert!(select_variant(&vs[..3], VariantSelect::Highest, &all, &u).is_err());
    }
}
