//! A content-addressed embedding cache. A vector is stored under the sha256 of
//! its text, in a folder named by the encoder's identity (weights sha256, max
//! length, pooling, normalisation), so a re-run on the same texts and model
//! computes nothing, and a change to any of those misses the cache entirely.
//!
//! Vectors are kept in shard files (safetensors: `keys` u8 [n, 32] and
//! `embeddings` f32 [n, d]) with a checksum of both in the metadata. Shards are
//! written atomically as work proceeds, so an interrupted run keeps what it
//! finished. A shard that fails to parse or to match its checksum is reported,
//! removed and recomputed: never trusted, never a crash.

use super::encoder::EncoderIdentity;
use anyhow::{Context, Result};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const FORMAT: &str = "emo-embedding-cache/1";

pub type Key = [u8; 32];

/// The cache key of one text.
pub fn text_key(text: &str) -> Key {
    Sha256::digest(text.as_bytes()).into()
}

struct Shard {
    embeddings: Vec<f32>,
}

/// The cache for one encoder identity.
pub struct Cache {
    dir: PathBuf,
    dim: usize,
    shards: Vec<Shard>,
    index: HashMap<Key, (usize, usize)>,
    /// Problems found while opening (bad shards), for the caller to show.
    pub warnings: Vec<String>,
}

impl Cache {
    /// Opens (and creates) `root/<identity key>/`, loading every valid shard.
    pub fn open(root: &Path, identity: &EncoderIdentity) -> Result<Cache> {
        let dir = root.join(identity.cache_key());
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create cache folder {}", dir.display()))?;
        let mut cache = Cache {
            dir: dir.clone(),
            dim: identity.dim,
            shards: Vec::new(),
            index: HashMap::new(),
            warnings: Vec::new(),
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read cache folder {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
            .collect();
        paths.sort();
        for path in paths {
            match read_shard(&path, identity) {
                Ok((keys, embeddings)) => {
                    let s = cache.shards.len();
                    for (row, key) in keys.into_iter().enumerate() {
                        cache.index.entry(key).or_insert((s, row));
                    }
                    cache.shards.push(Shard { embeddings });
                }
                Err(e) => {
                    cache.warnings.push(format!(
                        "warning: ignoring corrupt cache file {} ({e:#}); it is removed and its vectors will be recomputed",
                        path.display()
                    ));
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(cache)
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn get(&self, key: &Key) -> Option<&[f32]> {
        self.index
            .get(key)
            .map(|&(s, row)| &self.shards[s].embeddings[row * self.dim..(row + 1) * self.dim])
    }

    /// Stores vectors (row-major, `keys.len()` rows) as one new shard.
    pub fn insert(&mut self, keys: &[Key], embeddings: Vec<f32>) -> Result<()> {
        assert_eq!(keys.len() * self.dim, embeddings.len(), "one row per key");
        if keys.is_empty() {
            return Ok(());
        }
        let key_bytes: Vec<u8> = keys.iter().flatten().copied().collect();
        let emb_bytes: Vec<u8> = embeddings.iter().flat_map(|f| f.to_le_bytes()).collect();
        let checksum = checksum(&key_bytes, &emb_bytes);
        let name = format!("{}.safetensors", &checksum[..24]);
        let meta: HashMap<String, String> = [
            ("format".to_string(), FORMAT.to_string()),
            ("checksum".to_string(), checksum),
        ]
        .into();
        let n = keys.len();
        let tensors = [
            ("keys", TensorView::new(Dtype::U8, vec![n, 32], &key_bytes)?),
            (
                "embeddings",
                TensorView::new(Dtype::F32, vec![n, self.dim], &emb_bytes)?,
            ),
        ];
        let bytes = safetensors::serialize(tensors, &Some(meta))?;
        crate::atomic::write(&self.dir.join(name), &bytes)?;
        let s = self.shards.len();
        for (row, key) in keys.iter().enumerate() {
            self.index.entry(*key).or_insert((s, row));
        }
        self.shards.push(Shard { embeddings });
        Ok(())
    }
}

fn checksum(keys: &[u8], embeddings: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(keys);
    h.update(embeddings);
    hex::encode(h.finalize())
}

fn read_shard(path: &Path, identity: &EncoderIdentity) -> Result<(Vec<Key>, Vec<f32>)> {
    let bytes = std::fs::read(path)?;
    let (_, meta) = SafeTensors::read_metadata(&bytes)?;
    let info = meta.metadata().clone().unwrap_or_default();
    anyhow::ensure!(
        info.get("format").map(String::as_str) == Some(FORMAT),
        "not an {FORMAT} file"
    );
    let st = SafeTensors::deserialize(&bytes)?;
    let keys = st.tensor("keys")?;
    let emb = st.tensor("embeddings")?;
    anyhow::ensure!(
        keys.dtype() == Dtype::U8 && emb.dtype() == Dtype::F32,
        "wrong dtypes"
    );
    let n = keys.shape()[0];
    anyhow::ensure!(
        keys.shape() == [n, 32] && emb.shape() == [n, identity.dim],
        "shapes {:?} and {:?} do not fit dimension {}",
        keys.shape(),
        emb.shape(),
        identity.dim
    );
    let want = info.get("checksum").map(String::as_str).unwrap_or("");
    anyhow::ensure!(
        checksum(keys.data(), emb.data()) == want,
        "checksum mismatch"
    );
    let keys = keys
        .data()
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect();
    let embeddings = emb
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Ok((keys, embeddings))
}
