//! A content-addressed embedding cache. A vector is stored under the sha256 of
//! its text, in a folder named by the encoder's identity (weights sha256, max
//! length, pooling, normalisation), so a re-run on the same texts and model
//! computes nothing, and a change to any of those misses the cache entirely.
//!
//! Vectors are kept in shard files (safetensors: `keys` u8 [n, 32] and
//! `embeddings` [n, d], f32 or the 16 bits `--vector-precision` asks for)
//! with a checksum of both in the metadata. Shards are
//! written atomically as work proceeds, so an interrupted run keeps what it
//! finished. A shard that fails to parse or to match its checksum is reported,
//! removed and recomputed: never trusted, never a crash.
//!
//! Only the keys live in memory (about 60 bytes a vector); a vector is read from
//! its shard when asked for. A cache of a million texts therefore costs tens of
//! megabytes of memory, not the 1.5 GB its vectors take on disk. Checksums are
//! still verified for every shard when the cache is opened, by streaming
//! through the file.

use super::encoder::EncoderIdentity;
use super::storage::VectorPrecision;
use anyhow::{Context, Result};
use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const FORMAT: &str = "emo-embedding-cache/1";

pub type Key = [u8; 32];

/// The cache key of one text.
pub fn text_key(text: &str) -> Key {
    Sha256::digest(text.as_bytes()).into()
}

/// An open shard file and where its vectors start in it.
struct Shard {
    file: File,
    embeddings_at: u64,
}

/// The cache for one encoder identity.
pub struct Cache {
    dir: PathBuf,
    dim: usize,
    /// How the vectors are stored (the identity says).
    store: VectorPrecision,
    shards: Vec<Shard>,
    /// Key → (shard, row).
    index: HashMap<Key, (u32, u32)>,
    /// Problems found while opening (bad shards), for the caller to show.
    pub warnings: Vec<String>,
}

impl Cache {
    /// Opens (and creates) `root/<identity key>/`, indexing every valid shard:
    /// the cache of f32 vectors.
    pub fn open(root: &Path, identity: &EncoderIdentity) -> Result<Cache> {
        Self::open_at(root, identity, super::precision::Precision::Fp32)
    }

    /// The cache of vectors computed at `precision`: f32 ones in
    /// `root/<identity key>/` (as before precisions existed), others in
    /// `root/<identity key>-<precision>/`, so that they never mix.
    pub fn open_at(
        root: &Path,
        identity: &EncoderIdentity,
        precision: super::precision::Precision,
    ) -> Result<Cache> {
        let dir = match precision {
            super::precision::Precision::Fp32 => root.join(identity.cache_key()),
            p => root.join(format!("{}-{}", identity.cache_key(), p.name())),
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create cache folder {}", dir.display()))?;
        let store = identity.vector_precision()?;
        let mut cache = Cache {
            dir: dir.clone(),
            dim: identity.dim,
            store,
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
        // One open file per shard: a million cached texts are 245 shards.
        raise_open_file_limit();
        for path in paths {
            match open_shard(&path, identity.dim, store) {
                Ok((keys, shard)) => cache.add(&keys, shard),
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

    fn add(&mut self, keys: &[Key], shard: Shard) {
        let s = self.shards.len() as u32;
        for (row, key) in keys.iter().enumerate() {
            self.index.entry(*key).or_insert((s, row as u32));
        }
        self.shards.push(shard);
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

    pub fn contains(&self, key: &Key) -> bool {
        self.index.contains_key(key)
    }

    /// Reads the vector of `key` into `out` (`dim` floats); false if not cached.
    pub fn read(&self, key: &Key, out: &mut [f32]) -> Result<bool> {
        let Some(&(s, row)) = self.index.get(key) else {
            return Ok(false);
        };
        let shard = &self.shards[s as usize];
        let mut bytes = vec![0u8; self.dim * self.store.bytes()];
        let at = shard.embeddings_at + row as u64 * bytes.len() as u64;
        shard.file.read_exact_at(&mut bytes, at).with_context(|| {
            format!("cannot read the embedding cache in {}", self.dir.display())
        })?;
        self.store.decode(&bytes, out);
        Ok(true)
    }

    /// Stores vectors (row-major, `keys.len()` rows) as one new shard.
    pub fn insert(&mut self, keys: &[Key], embeddings: &[f32]) -> Result<()> {
        assert_eq!(keys.len() * self.dim, embeddings.len(), "one row per key");
        if keys.is_empty() {
            return Ok(());
        }
        let key_bytes: Vec<u8> = keys.iter().flatten().copied().collect();
        let emb_bytes = self.store.encode(embeddings);
        let mut h = Sha256::new();
        h.update(&key_bytes);
        h.update(&emb_bytes);
        let checksum = hex::encode(h.finalize());
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
                TensorView::new(self.store.dtype(), vec![n, self.dim], &emb_bytes)?,
            ),
        ];
        let bytes = safetensors::serialize(tensors, &Some(meta))?;
        // Where the vectors start, from the bytes in hand: the file is ours and
        // was just written whole, so it is not read back and hashed again.
        let embeddings_at = {
            let st = safetensors::SafeTensors::deserialize(&bytes)?;
            let data = st.tensor("embeddings")?.data();
            (data.as_ptr() as usize - bytes.as_ptr() as usize) as u64
        };
        let path = self.dir.join(name);
        crate::atomic::write(&path, &bytes)?;
        let file = File::open(&path).with_context(|| {
            format!(
                "cannot open the cache file just written: {}",
                path.display()
            )
        })?;
        self.add(
            keys,
            Shard {
                file,
                embeddings_at,
            },
        );
        Ok(())
    }
}

/// Where a tensor's bytes lie, from a safetensors header.
fn tensor_range(
    header: &serde_json::Value,
    name: &str,
    dtype: &str,
) -> Result<(u64, u64, Vec<u64>)> {
    let t = &header[name];
    anyhow::ensure!(t["dtype"] == dtype, "tensor {name} is not {dtype}");
    let offsets: Vec<u64> = serde_json::from_value(t["data_offsets"].clone())
        .with_context(|| format!("tensor {name} has no data offsets"))?;
    let shape: Vec<u64> = serde_json::from_value(t["shape"].clone())
        .with_context(|| format!("tensor {name} has no shape"))?;
    anyhow::ensure!(
        offsets.len() == 2 && offsets[0] <= offsets[1],
        "bad offsets for {name}"
    );
    Ok((offsets[0], offsets[1], shape))
}

/// Opens a shard: checks its header, shapes, size and checksum (streaming
/// through the vectors without keeping them) and returns its keys.
fn open_shard(path: &Path, dim: usize, store: VectorPrecision) -> Result<(Vec<Key>, Shard)> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut n = [0u8; 8];
    r.read_exact(&mut n)?;
    let header_len = u64::from_le_bytes(n);
    anyhow::ensure!(
        header_len < 1 << 20 && 8 + header_len <= file_len,
        "bad header length"
    );
    let mut header = vec![0u8; header_len as usize];
    r.read_exact(&mut header)?;
    let header: serde_json::Value = serde_json::from_slice(&header).context("bad header")?;
    anyhow::ensure!(
        header["__metadata__"]["format"] == FORMAT,
        "not an {FORMAT} file"
    );
    let want = header["__metadata__"]["checksum"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let (k0, k1, kshape) = tensor_range(&header, "keys", "U8")?;
    let (e0, e1, eshape) = tensor_range(&header, "embeddings", store.dtype_name())?;
    let rows = kshape.first().copied().unwrap_or(0);
    anyhow::ensure!(
        kshape == [rows, 32] && eshape == [rows, dim as u64],
        "shapes {kshape:?} and {eshape:?} do not fit dimension {dim}"
    );
    // Checked: a header can claim any row count, and a product that wrapped
    // around could match the sizes of empty tensors.
    anyhow::ensure!(
        Some(k1 - k0) == rows.checked_mul(32)
            && Some(e1 - e0) == rows.checked_mul((dim * store.bytes()) as u64),
        "tensor sizes do not match their shapes"
    );
    let data_at = 8 + header_len;
    anyhow::ensure!(
        k1.max(e1) == file_len - data_at,
        "file is {file_len} bytes, header says {}",
        data_at.saturating_add(k1.max(e1))
    );
    let mut keys_bytes = vec![0u8; (k1 - k0) as usize];
    r.seek(SeekFrom::Start(data_at + k0))?;
    r.read_exact(&mut keys_bytes)?;
    let mut h = Sha256::new();
    h.update(&keys_bytes);
    r.seek(SeekFrom::Start(data_at + e0))?;
    let copied = std::io::copy(&mut (&mut r).take(e1 - e0), &mut h)?;
    anyhow::ensure!(copied == e1 - e0, "file ends early");
    anyhow::ensure!(hex::encode(h.finalize()) == want, "checksum mismatch");
    let keys = keys_bytes
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect();
    let file = r.into_inner();
    Ok((
        keys,
        Shard {
            file,
            embeddings_at: data_at + e0,
        },
    ))
}

/// Lifts the soft limit on open files to the hard one, as the Go runtime does at
/// start-up; the default soft limit (often 1,024) is low for a large cache.
fn raise_open_file_limit() {
    // SAFETY: getrlimit/setrlimit with a valid, fully initialised struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_read_back_from_the_writing_cache_and_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let identity = crate::fuzzing::encoder_identity(4);
        let rows = |n: usize, at: f32| -> Vec<f32> { (0..n * 4).map(|i| at + i as f32).collect() };
        let (a, b): (Vec<Key>, Vec<Key>) = (
            ["one", "two", "three"].map(text_key).to_vec(),
            ["four", "five"].map(text_key).to_vec(),
        );
        let mut cache = Cache::open(dir.path(), &identity).unwrap();
        cache.insert(&a, &rows(3, 0.0)).unwrap();
        cache.insert(&b, &rows(2, 100.0)).unwrap();
        let check = |cache: &Cache| {
            for (keys, want) in [(&a, rows(3, 0.0)), (&b, rows(2, 100.0))] {
                for (k, w) in keys.iter().zip(want.chunks(4)) {
                    let mut out = [0f32; 4];
                    assert!(cache.read(k, &mut out).unwrap());
                    assert_eq!(out, w);
                }
            }
            assert!(!cache.read(&text_key("six"), &mut [0f32; 4]).unwrap());
        };
        check(&cache);
        check(&Cache::open(dir.path(), &identity).unwrap());
    }
}
